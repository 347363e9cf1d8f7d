"""deploy/Dockerfile and .dockerignore (the image cannot be built here: no Docker engine). The final stage runs
the `jobscheduler` entry point as a non-root user, installs nothing and carries no build tool; the build
context excludes local state and keeps what the Dockerfile copies."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.deploy.support import (
    DOCKERIGNORE,
    REPO,
    dockerfile_stages,
    exec_form,
    runtime_stage,
)

# Commands that install software or compile: none may run in the final stage.
BUILD_TOOLING = re.compile(r"\b(apt-get|apt|apk|dnf|yum)\s+(install|add)\b|\bpip\s+install\b|\buv\b|\bgcc\b|\bmake\b")


def test_final_stage_runs_jobscheduler_as_a_non_root_user() -> None:
    stage = runtime_stage()
    user = stage.last("USER")
    assert user is not None, "the final stage has no USER: it would run as root"
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without resolving names.
    assert uid.isdigit(), f"USER {user}: use a numeric uid"
    assert int(uid) != 0, f"USER {user} is root"
    assert gid == "" or int(gid) != 0, f"USER {user}: root group"
    assert exec_form(stage.last("ENTRYPOINT")) == ["jobscheduler"]


def test_final_stage_installs_nothing_and_copies_only_build_products() -> None:
    stages = dockerfile_stages()
    names = {stage.name for stage in stages}
    final = stages[-1]
    for command in final.all("RUN"):
        assert not BUILD_TOOLING.search(command), f"the final stage must not install or build: RUN {command}"
    copies = final.all("COPY")
    assert copies, "the final stage copies nothing"
    for arguments in copies:
        source_stage = re.search(r"--from=(\S+)", arguments)
        assert source_stage, f"the final stage copies from the build context: COPY {arguments}"
        assert source_stage[1] in names, f"COPY --from={source_stage[1]}: no such stage"
        assert "uv" not in arguments.split(), f"uv must not reach the final stage: COPY {arguments}"


def test_dashboard_is_built_in_a_node_stage_and_shipped() -> None:
    stages = {stage.name: stage for stage in dockerfile_stages()}
    node = [stage for stage in stages.values() if stage.base.startswith("node:")]
    assert len(node) == 1, "one node stage builds the dashboard"
    runs = node[0].all("RUN")
    assert any("npm ci" in run for run in runs), "install the locked dependencies"
    assert any("npm run build" in run for run in runs), "build the dashboard"
    # The build goes into the api's wheel (services/api/hatch_build.py), so it is copied where the wheel is built,
    # before the install that builds it, and reaches the final stage inside the venv.
    stage = next(stage for stage in stages.values() if any("--no-editable" in run for run in stage.all("RUN")))
    lines = stage.instructions
    copied = next(
        i for i, (kind, arguments) in enumerate(lines)
        if kind == "COPY" and f"--from={node[0].name}" in arguments and "services/dashboard/dist" in arguments
    )  # fmt: skip
    installed = next(i for i, (kind, arguments) in enumerate(lines) if kind == "RUN" and "--no-editable" in arguments)
    assert copied < installed
    assert "scheduler_api/dashboard_dist/index.html" in lines[installed][1], "the build checks the wheel carries it"
    assert not any("SCHEDULER_DASHBOARD_DIR" in env for env in runtime_stage().all("ENV")), "served from the package"


def test_venv_is_built_on_the_python_it_runs_on() -> None:
    stages = dockerfile_stages()
    venv_builders = [stage for stage in stages[:-1] if any("uv sync" in run for run in stage.all("RUN"))]
    assert len(venv_builders) == 1
    builder = venv_builders[0]
    assert any("--frozen" in run and "--no-dev" in run for run in builder.all("RUN")), "uv sync --frozen --no-dev"
    # The venv's python is a symlink into the base image: both stages must use the same one.
    assert builder.base == runtime_stage().base, f"{builder.base} != {runtime_stage().base}"
    assert "slim" in runtime_stage().base


# --- .dockerignore ------------------------------------------------------------------------------------------


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per line, with Docker's semantics: `**` spans directories, `*` and `?` do not."""
    patterns = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = ""
        index = 0
        while index < len(glob):
            if glob.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif glob.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif glob[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif glob[index] == "?":
                regex, index = regex + "[^/]", index + 1
            elif glob[index] == "[":
                end = glob.index("]", index)
                regex, index = regex + glob[index : end + 1], end + 1
            else:
                regex, index = regex + re.escape(glob[index]), index + 1
        patterns.append((negated, re.compile(regex + r"\Z")))
    return patterns


def in_build_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negated, pattern in dockerignore_patterns():
        if any(pattern.match(candidate) for candidate in candidates):
            included = negated
    return included


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".tools/bin/uv",
        "data/jwt-secret",
        "tests/unit/test_schedule.py",
        "services/dashboard/node_modules/react/index.js",
        "services/dashboard/dist/index.html",
        "libs/core/src/scheduler_core/__pycache__/settings.cpython-311.pyc",
        "services/api/.pytest_cache/v/cache",
    ],
)
def test_local_state_stays_out_of_the_build_context(path: str) -> None:
    assert not in_build_context(path)


def copied_sources() -> list[str]:
    sources = []
    for stage in dockerfile_stages():
        for arguments in stage.all("COPY"):
            words = [word for word in arguments.split() if not word.startswith("--")]
            if "--from=" not in arguments:
                sources += words[:-1]
    return sources


def files_under(directory: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "node_modules"]  # huge, and excluded anyway
        found += [Path(root) / name for name in names]
    return found


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    sources = copied_sources()
    assert sources
    for source in sources:
        path = REPO / source
        assert path.exists(), f"COPY {source}: no such path"
        files = [path] if path.is_file() else list(files_under(path))
        kept = [f for f in files if in_build_context(f.relative_to(REPO).as_posix())]
        assert kept, f"COPY {source}: .dockerignore excludes all of it"
        if path.is_file():
            assert kept == files, f"COPY {source}: excluded by .dockerignore"
