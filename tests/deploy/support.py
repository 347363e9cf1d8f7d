"""What the deploy tests compare: the rendered Kubernetes overlays, docker-compose.yml and deploy/Dockerfile on
one side; the settings class, the CLI and the HTTP routes of the code on the other. Nothing here is hard-coded
from the code: names, commands and paths are read from it."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
import typer.main
import yaml
from starlette.routing import BaseRoute, Match, Mount

from scheduler_cli.main import app as cli_app
from scheduler_core.observability.health import health_app
from scheduler_core.observability.metrics import Metrics
from scheduler_core.settings import Settings

REPO: Final = Path(__file__).resolve().parents[2]
DEPLOY: Final = REPO / "deploy"
K8S: Final = DEPLOY / "k8s"
OVERLAYS_DIR: Final = K8S / "overlays"
COMPONENTS_DIR: Final = K8S / "components"
GATEWAY_EXAMPLE: Final = K8S / "gateway.example.yaml"
SECRETS_EXAMPLE: Final = K8S / "secrets.example.yaml"
COMPOSE_FILE: Final = REPO / "docker-compose.yml"
DOCKERFILE: Final = DEPLOY / "Dockerfile"
DOCKERIGNORE: Final = REPO / ".dockerignore"

# Label every pod template of the scheduler's own workloads carries (the dev overlay's PostgreSQL and
# RabbitMQ do not: they run other images and are not checked against the scheduler's code).
APP_LABEL: Final = ("app.kubernetes.io/name", "jobscheduler")

Obj = dict[str, Any]

# --- the code ----------------------------------------------------------------------------------------------


def env_prefix() -> str:
    prefix = Settings.model_config.get("env_prefix")
    assert isinstance(prefix, str), "Settings has no env_prefix"
    assert prefix, "Settings has no env_prefix"
    return prefix


@cache
def setting_env_names() -> frozenset[str]:
    """Every environment variable the settings class reads: the prefix + each field name, upper-cased."""
    return frozenset(env_prefix() + name.upper() for name in Settings.model_fields)


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The Settings a process started with exactly `env` would build (values validated as at start-up);
    this test process's own SCHEDULER_* variables are hidden meanwhile."""
    prefix = env_prefix()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith(prefix):
                patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        return Settings()


@cache
def cli_commands() -> Mapping[str, Any]:
    """The sub-commands of `jobscheduler`, by name, as click commands (read from the typer app)."""
    group = typer.main.get_command(cli_app)
    commands = getattr(group, "commands", None)
    assert isinstance(commands, dict), "the jobscheduler CLI is not a command group"
    assert commands, "the jobscheduler CLI has no sub-commands"
    return dict(commands)


def check_cli_invocation(argv: list[str]) -> str:
    """Parse `jobscheduler <argv>` exactly as the CLI would (without running it) and return the command name.
    Fails on an unknown command, an unknown option or a bad option value."""
    assert argv, "no command given to jobscheduler (the image's CMD would run the api)"
    name, *rest = argv
    commands = cli_commands()
    assert name in commands, f"`jobscheduler {name}` is not a CLI command (commands: {sorted(commands)})"
    try:
        commands[name].make_context(name, list(rest))
    except Exception as exc:  # click's UsageError/BadParameter (typer vendors click: no stable import path)
        pytest.fail(f"`jobscheduler {shlex.join(argv)}` is rejected by the CLI: {exc}")
    return str(name)


def option_value(argv: list[str], option: str) -> str | None:
    """The value of `option` in argv (`--port 1` or `--port=1`), if given."""
    for index, arg in enumerate(argv):
        if arg == option and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def answers_get(routes: list[BaseRoute], path: str) -> bool:
    """Whether a route (not a mount: the dashboard's catch-all mount would "serve" any path) fully matches
    `GET path`. Route matching is asked rather than paths listed, so included routers count too."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}
    return any(route.matches(scope)[0] is Match.FULL for route in routes if not isinstance(route, Mount))


def health_routes() -> list[BaseRoute]:
    """The HTTP side of the timekeeper and the executor (their health port)."""
    return list(health_app(Metrics(), {}).routes)


def api_routes(settings: Settings) -> list[BaseRoute]:
    """The api's FastAPI app as `jobscheduler api` builds it from these settings (not started)."""
    return list(_api_routes(settings.model_dump_json()))


@cache
def _api_routes(settings_json: str) -> tuple[BaseRoute, ...]:
    from scheduler_api.app import create_app

    settings = Settings.model_validate_json(settings_json)
    return tuple(create_app(settings, instance_id="deploy-manifest-check").routes)


# Which setting holds the port each long-running role listens on, and which paths it serves there.
PORT_SETTING: Final = {"api": "port", "timekeeper": "health_port", "executor": "health_port"}
LONG_RUNNING_ROLES: Final = frozenset(PORT_SETTING)


def serves(role: str, settings: Settings, path: str) -> bool:
    """Whether the role answers `GET path` on its port."""
    return answers_get(api_routes(settings) if role == "api" else health_routes(), path)


def listen_port(role: str, argv: list[str], settings: Settings) -> int:
    """The port the role listens on: `--port` when given, else its setting."""
    flag = option_value(argv, "--port")
    return int(flag) if flag is not None else int(getattr(settings, PORT_SETTING[role]))


# --- deploy/Dockerfile ---------------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        values = [value for key, value in self.instructions if key == keyword]
        return values[-1] if values else None

    def all(self, keyword: str) -> list[str]:
        return [value for key, value in self.instructions if key == keyword]


def dockerfile_instructions(text: str) -> Iterator[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction: comments dropped, continuation lines joined."""
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, rest = logical.partition(" ")
        yield keyword.upper(), rest.strip()
        logical = ""
    assert not logical, "the Dockerfile ends inside a continued line"


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The build stages in order, their base images with the global ARG defaults substituted."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in dockerfile_instructions(path.read_text()):
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            global_args[name.strip()] = default.strip()
        elif keyword == "FROM":
            words = [word for word in rest.split() if not word.startswith("--")]
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args.get(m[1] or m[2], m[0]), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=base))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest))
    return stages


def env_instruction_pairs(arguments: str) -> dict[str, str]:
    """The variables of one ENV instruction (`ENV A=1 B="x y"` form)."""
    pairs: dict[str, str] = {}
    for word in shlex.split(arguments):
        name, sep, value = word.partition("=")
        assert sep, f"ENV {arguments!r}: use the NAME=value form"
        pairs[name] = value
    return pairs


def image_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in stage.all("ENV"):
        env.update(env_instruction_pairs(arguments))
    return env


def exec_form(arguments: str | None) -> list[str]:
    assert arguments is not None
    value = json.loads(arguments)
    assert isinstance(value, list), f"not the exec (JSON list) form: {arguments}"
    assert all(isinstance(item, str) for item in value), arguments
    return value


@cache
def runtime_stage() -> Stage:
    return dockerfile_stages()[-1]


def runtime_image_env() -> dict[str, str]:
    """The SCHEDULER_* defaults baked into the image (every container starts with them)."""
    prefix = env_prefix()
    return {name: value for name, value in image_env(runtime_stage()).items() if name.startswith(prefix)}


# --- Kubernetes ----------------------------------------------------------------------------------------------


def overlay_names() -> list[str]:
    return sorted(path.name for path in OVERLAYS_DIR.iterdir() if (path / "kustomization.yaml").is_file())


# libyaml's parser when PyYAML has it (it is ~10x faster than the pure-Python one).
YAML_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _render(overlay: str) -> str:
    result = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAYS_DIR / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}"
    return result.stdout


def component_names() -> list[str]:
    return sorted(path.name for path in COMPONENTS_DIR.iterdir() if (path / "kustomization.yaml").is_file())


@cache
def _render_with_component(overlay: str, component: str) -> str:
    """An overlay with a component added, as an operator adds it: `components:` in a kustomization that also sets
    the overlay's namespace (kustomize refuses absolute paths: the temporary one refers to the repository by
    relative paths)."""
    namespaces = {obj["metadata"]["namespace"] for obj in render(overlay) if "namespace" in obj["metadata"]}
    assert len(namespaces) == 1, f"overlays/{overlay}: namespaces {namespaces}"
    with tempfile.TemporaryDirectory() as directory:
        relative = Path(os.path.relpath(K8S, directory))
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": namespaces.pop(),
            "resources": [str(relative / "overlays" / overlay)],
            "components": [str(relative / "components" / component)],
        }
        (Path(directory) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        result = subprocess.run(
            ["kubectl", "kustomize", directory], capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 0, f"overlays/{overlay} + components/{component} failed:\n{result.stderr}"
    return result.stdout


def render_with_component(overlay: str, component: str) -> list[Obj]:
    """The objects of overlays/<overlay> with components/<component> added (a fresh copy each call)."""
    return [obj for obj in yaml.load_all(_render_with_component(overlay, component), Loader=YAML_LOADER) if obj]


def gateway_example() -> list[Obj]:
    return [obj for obj in yaml.load_all(GATEWAY_EXAMPLE.read_text(), Loader=YAML_LOADER) if obj]


def render(overlay: str) -> list[Obj]:
    """The objects `kubectl kustomize deploy/k8s/overlays/<overlay>` renders (a fresh copy each call)."""
    return [obj for obj in yaml.load_all(_render(overlay), Loader=YAML_LOADER) if obj]


def secrets_example() -> list[Obj]:
    return [obj for obj in yaml.load_all(SECRETS_EXAMPLE.read_text(), Loader=YAML_LOADER) if obj]


def kind_of(obj: Obj) -> str:
    return str(obj["kind"])


def name_of(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def find(objects: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [obj for obj in objects if kind_of(obj) == kind and (name is None or name_of(obj) == name)]


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_template(obj: Obj) -> Obj | None:
    if kind_of(obj) in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        template: Obj = obj["spec"]["template"]
        return template
    return None


def is_scheduler_pod(template: Obj) -> bool:
    key, value = APP_LABEL
    labels: dict[str, str] = template.get("metadata", {}).get("labels", {})
    return labels.get(key) == value


@dataclass
class Container:
    """A scheduler container of a rendered overlay, with what it would run and the environment it would see."""

    overlay: str
    workload: Obj
    spec: Obj
    argv: list[str]  # the arguments of `jobscheduler` (ENTRYPOINT), e.g. ["api"]
    env: dict[str, str]  # effective environment: the image's SCHEDULER_* ENV < envFrom (in order) < env

    @property
    def label(self) -> str:
        return f"overlays/{self.overlay}: {kind_of(self.workload)} {name_of(self.workload)}/{self.spec['name']}"

    @property
    def role(self) -> str:
        return self.argv[0]

    def settings(self) -> Settings:
        return settings_from_env(self.env)

    def port_number(self, port: int | str) -> int:
        """A probe's or Service's port: a number, or the name of one of the container's ports."""
        if isinstance(port, int):
            return port
        for declared in self.spec.get("ports", []):
            if declared.get("name") == port:
                return int(declared["containerPort"])
        raise AssertionError(f"{self.label}: no container port named {port!r}")


def config_sources(objects: list[Obj]) -> dict[tuple[str, str], dict[str, str]]:
    """The data of every ConfigMap and Secret the pods of an overlay may read. An overlay either renders its
    Secrets (dev) or renders none and expects the operator to create those of secrets.example.yaml (prod)."""
    sources: dict[tuple[str, str], dict[str, str]] = {}
    external = [] if find(objects, "Secret") else secrets_example()
    for obj in [*external, *objects]:
        if kind_of(obj) == "ConfigMap":
            sources[("ConfigMap", name_of(obj))] = {str(k): str(v) for k, v in obj.get("data", {}).items()}
        elif kind_of(obj) == "Secret":
            data = {str(k): base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()}
            data.update({str(k): str(v) for k, v in obj.get("stringData", {}).items()})
            sources[("Secret", name_of(obj))] = data
    return sources


def scheduler_containers(overlay: str) -> list[Container]:
    """The scheduler's containers in the overlay (a fresh copy each call; tests may change theirs)."""
    return copy.deepcopy(list(_scheduler_containers(overlay)))


@cache
def _scheduler_containers(overlay: str) -> tuple[Container, ...]:
    return tuple(containers_in(render(overlay), overlay))


def containers_in(objects: list[Obj], overlay: str) -> list[Container]:
    """The scheduler's containers among rendered objects (`overlay` names them in messages)."""
    sources = config_sources(objects)
    entrypoint = exec_form(runtime_stage().last("ENTRYPOINT"))
    image_cmd = exec_form(runtime_stage().last("CMD"))
    containers: list[Container] = []
    for workload in objects:
        template = pod_template(workload)
        if template is None or not is_scheduler_pod(template):
            continue
        pod = template["spec"]
        for spec in [*pod.get("initContainers", []), *pod["containers"]]:
            command: list[str] = spec.get("command", entrypoint)
            args: list[str] = spec.get("args", image_cmd if "command" not in spec else [])
            full = [*command, *args]
            assert full[: len(entrypoint)] == entrypoint, f"{name_of(workload)}: does not run {entrypoint}: {full}"
            env = runtime_image_env()
            for source in spec.get("envFrom", []):
                kind, ref = (
                    ("ConfigMap", source["configMapRef"])
                    if "configMapRef" in source
                    else (
                        "Secret",
                        source["secretRef"],
                    )
                )
                key = (kind, str(ref["name"]))
                assert key in sources or ref.get("optional"), (
                    f"{name_of(workload)} reads {kind} {ref['name']}, which overlays/{overlay} does not render "
                    f"and {SECRETS_EXAMPLE.relative_to(REPO)} does not describe"
                )
                env.update({source.get("prefix", "") + k: v for k, v in sources.get(key, {}).items()})
            for entry in spec.get("env", []):
                if "value" in entry:
                    env[entry["name"]] = str(entry["value"])
                elif "valueFrom" in entry:
                    ref = entry["valueFrom"].get("secretKeyRef") or entry["valueFrom"].get("configMapKeyRef")
                    kind = "Secret" if "secretKeyRef" in entry["valueFrom"] else "ConfigMap"
                    assert ref is not None, f"{name_of(workload)}: unsupported valueFrom in {entry}"
                    env[entry["name"]] = sources[(kind, str(ref["name"]))][str(ref["key"])]
                else:
                    env[entry["name"]] = ""
            containers.append(Container(overlay, workload, spec, full[len(entrypoint) :], env))
    return containers


# --- docker-compose.yml ---------------------------------------------------------------------------------------


def compose() -> Obj:
    """docker-compose.yml, parsed (YAML anchors and merge keys resolved), a fresh copy each call."""
    return copy.deepcopy(_compose())


@cache
def _compose() -> Obj:
    document = yaml.load(COMPOSE_FILE.read_text(), Loader=YAML_LOADER)
    assert isinstance(document, dict)
    return document


def compose_env(service: Obj) -> dict[str, str]:
    """A compose service's environment (map or list form); `${VAR:-default}` taken at its default."""
    raw = service.get("environment", {})
    items = raw.items() if isinstance(raw, dict) else (entry.split("=", 1) for entry in raw)
    return {str(k): re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(v)) for k, v in items}


def runs_scheduler_image(service: Obj) -> bool:
    """Whether a compose service is built from deploy/Dockerfile (its dockerfile is relative to its context)."""
    build = service.get("build")
    if not isinstance(build, dict):
        return False
    context = REPO / str(build.get("context", "."))
    return (context / str(build.get("dockerfile", "Dockerfile"))).resolve() == DOCKERFILE.resolve()


def duration_seconds(value: str) -> float:
    """A compose duration ("1m30s", "90s", "500ms") in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value)
    assert parts, f"not a duration: {value!r}"
    assert "".join(n + u for n, u in parts) == value, f"not a duration: {value!r}"
    return sum(float(number) * units[unit] for number, unit in parts)
