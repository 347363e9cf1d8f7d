"""The api's wheel ships the built dashboard (services/api/hatch_build.py), and an api installed from it serves
that copy at "/" with no source tree around; a wheel is refused when there is no build to ship.

Built with uv, as the image's `uv sync --no-editable` builds it: the wheel straight from the source tree, and the
wheel made from the sdist (what `uv build` and an index would do)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Final

import pytest

from tests.deploy.support import REPO

DIST: Final = REPO / "services" / "dashboard" / "dist"
PACKAGE_DIR: Final = "scheduler_api/dashboard_dist"
# Seconds a build may take: it copies a few hundred KB (hatchling comes from uv's cache after `make install`).
BUILD_TIMEOUT_S: Final = 120


def uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv is needed (make install puts it in .tools/bin)"
    return found


def built_files() -> dict[str, bytes]:
    """The dashboard build `make dashboard` made (make test builds it first), by path inside dist/."""
    assert (DIST / "index.html").is_file(), "run `make dashboard` first (make test does)"
    return {path.relative_to(DIST).as_posix(): path.read_bytes() for path in DIST.rglob("*") if path.is_file()}


def build(tmp_path: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [uv(), "build", *args, "-o", str(tmp_path / "out")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )


def the_wheel(tmp_path: Path) -> Path:
    wheels = list((tmp_path / "out").glob("jobscheduler_api-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def packaged(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {
            name.removeprefix(f"{PACKAGE_DIR}/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith(f"{PACKAGE_DIR}/")
        }


@pytest.mark.parametrize("via_sdist", [False, True], ids=["wheel", "sdist-then-wheel"])
def test_the_wheel_carries_the_built_dashboard(tmp_path: Path, via_sdist: bool) -> None:
    expected = built_files()
    result = build(tmp_path, "--package", "jobscheduler-api", *([] if via_sdist else ["--wheel"]))
    assert result.returncode == 0, result.stderr

    files = packaged(the_wheel(tmp_path))

    assert "index.html" in files
    assert any(name.startswith("assets/") and name.endswith(".js") for name in files), sorted(files)
    assert files == expected, "the wheel's copy is the build, file for file"


def test_an_api_installed_from_the_wheel_serves_its_own_dashboard(tmp_path: Path) -> None:
    result = build(tmp_path, "--package", "jobscheduler-api", "--wheel")
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    with zipfile.ZipFile(the_wheel(tmp_path)) as archive:
        archive.extractall(site)
    # The wheel's scheduler_api ahead of the editable one (PYTHONPATH precedes the venv's .pth entries), run from
    # a directory outside the source tree, with no SCHEDULER_DASHBOARD_DIR.
    probe = """
import asyncio, json, sys
from pathlib import Path
import httpx
import scheduler_api
from scheduler_api.app import create_app
from scheduler_core.settings import Settings

assert Path(scheduler_api.__file__).is_relative_to(Path(sys.argv[1])), scheduler_api.__file__

async def main() -> None:
    app = create_app(Settings(jwt_secret="x" * 40), instance_id="00000000-0000-4000-8000-00000000000a")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        page = await client.get("/jobs/7")
        # The last line of stdout (log lines may come before it).
        print(json.dumps([page.status_code, page.headers["content-type"], page.text]))

asyncio.run(main())
"""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCHEDULER_")}
    env["PYTHONPATH"] = str(site)
    served = subprocess.run(
        [sys.executable, "-c", probe, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )

    assert served.returncode == 0, served.stderr
    status, content_type, page = json.loads(served.stdout.splitlines()[-1])
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    index = (DIST / "index.html").read_text()
    assert '<script type="module"' in index
    # The build's index.html, with the <base href> the api inserts after <head>.
    assert page.endswith(index.split("<head>", 1)[1]), page


def test_a_wheel_without_a_dashboard_build_is_refused(tmp_path: Path) -> None:
    # services/api alone, with no services/dashboard/dist beside it and no sdist copy.
    source = tmp_path / "services" / "api"
    shutil.copytree(REPO / "services" / "api", source, ignore=shutil.ignore_patterns("__pycache__"))

    result = build(tmp_path, "--wheel", "--no-sources", ".", cwd=source)

    assert result.returncode != 0
    assert "the dashboard is not built" in result.stderr
    assert "make dashboard" in result.stderr
    assert not list((tmp_path / "out").glob("*.whl"))
