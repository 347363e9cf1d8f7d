"""The deployment files against the code they deploy: every SCHEDULER_* variable they set is a real setting
with a valid value, every command is a real `jobscheduler` command, every probe and healthcheck asks a path the
targeted service serves on the port it listens on, and the executor is given longer to stop than it drains."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.deploy.support import (
    LONG_RUNNING_ROLES,
    Container,
    Obj,
    check_cli_invocation,
    compose,
    compose_env,
    config_sources,
    duration_seconds,
    env_prefix,
    exec_form,
    find,
    kind_of,
    listen_port,
    name_of,
    one,
    overlay_names,
    render,
    runs_scheduler_image,
    runtime_image_env,
    runtime_stage,
    scheduler_containers,
    serves,
    setting_env_names,
    settings_from_env,
)

OVERLAYS = overlay_names()
ROLES = frozenset({"api", "timekeeper", "executor", "migrate"})


def unknown_settings(names: set[str] | list[str]) -> list[str]:
    return sorted(name for name in names if name not in setting_env_names())


# --- environment variables ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_an_overlay_sets_is_a_setting(overlay: str) -> None:
    objects = render(overlay)
    problems: list[str] = []
    # ConfigMap and Secret keys: those named like settings, and every key of one a scheduler pod reads.
    read = {
        (kind, source[ref]["name"])
        for container in scheduler_containers(overlay)
        for source in container.spec.get("envFrom", [])
        for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef"))
        if ref in source
    }
    for (kind, name), data in config_sources(objects).items():
        keys = [key for key in data if key.startswith(env_prefix()) or (kind, name) in read]
        problems += [f"{kind} {name}: {key}" for key in unknown_settings(keys)]
    for container in scheduler_containers(overlay):
        names = [str(entry["name"]) for entry in container.spec.get("env", [])]
        problems += [f"{container.label} env: {name}" for name in unknown_settings(names)]
    assert not problems, f"not fields of scheduler_core.settings.Settings ({env_prefix()}*):\n" + "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_scheduler_container_gets_valid_settings(overlay: str) -> None:
    for container in scheduler_containers(overlay):
        settings = container.settings()  # raises on a value the service would refuse at start-up
        assert settings.host == "0.0.0.0", f"{container.label}: SCHEDULER_HOST must be 0.0.0.0 in a container"


def test_every_variable_compose_sets_is_a_valid_setting() -> None:
    for name, service in compose()["services"].items():
        if runs_scheduler_image(service):
            env = compose_env(service)
            assert not unknown_settings(list(env)), f"compose {name}: {unknown_settings(list(env))}"
            settings = settings_from_env({**runtime_image_env(), **env})
            assert settings.host == "0.0.0.0", f"compose {name}: SCHEDULER_HOST must be 0.0.0.0"


def test_every_variable_the_image_sets_is_a_setting() -> None:
    assert not unknown_settings(list(runtime_image_env())), "deploy/Dockerfile ENV"


# --- commands -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_a_cli_command(overlay: str) -> None:
    roles = [check_cli_invocation(container.argv) for container in scheduler_containers(overlay)]
    assert sorted(roles) == sorted(ROLES), f"overlays/{overlay}: one container per role expected, got {roles}"
    for container in scheduler_containers(overlay):
        expected_kind = "Job" if container.role == "migrate" else "Deployment"
        assert kind_of(container.workload) == expected_kind, (
            f"{container.label}: {container.role} runs as a {expected_kind}"
        )


def test_every_compose_service_runs_a_cli_command() -> None:
    roles = []
    for name, service in compose()["services"].items():
        if runs_scheduler_image(service):
            command = service.get("command", exec_form(runtime_stage().last("CMD")))
            assert isinstance(command, list), f"compose {name}: use the list form of command"
            roles.append(check_cli_invocation([str(part) for part in command]))
    assert sorted(roles) == sorted(ROLES), f"compose: one service per role expected, got {roles}"


def test_the_image_runs_a_cli_command_by_default() -> None:
    assert exec_form(runtime_stage().last("ENTRYPOINT")) == ["jobscheduler"]
    check_cli_invocation(exec_form(runtime_stage().last("CMD")))


# --- probes and ports ---------------------------------------------------------------------------------------


def check_http_get(container: Container, probe_name: str, probe: Obj) -> None:
    settings = container.settings()
    assert "httpGet" in probe, f"{container.label}: {probe_name} is not an HTTP probe"
    path, port = probe["httpGet"]["path"], container.port_number(probe["httpGet"]["port"])
    assert serves(container.role, settings, path), (
        f"{container.label}: {probe_name} asks {path}, not a {container.role} route"
    )
    listening = listen_port(container.role, container.argv, settings)
    assert port == listening, (
        f"{container.label}: {probe_name} on port {port}, the {container.role} listens on {listening}"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_served_paths_on_the_listening_port(overlay: str) -> None:
    checked = 0
    for container in scheduler_containers(overlay):
        if container.role not in LONG_RUNNING_ROLES:
            continue
        probes = {name: container.spec.get(name) for name in ("livenessProbe", "readinessProbe", "startupProbe")}
        assert probes["livenessProbe"], f"{container.label}: no liveness probe"
        assert probes["readinessProbe"], f"{container.label}: no readiness probe"
        for name, probe in probes.items():
            if probe is not None:
                check_http_get(container, name, probe)
                checked += 1
        assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{container.label}: liveness is /healthz"
        assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{container.label}: readiness is /readyz"
    assert checked >= 2 * len(LONG_RUNNING_ROLES)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_declared_ports_scrape_annotations_and_service_match_the_listening_port(overlay: str) -> None:
    objects = render(overlay)
    for container in scheduler_containers(overlay):
        if container.role not in LONG_RUNNING_ROLES:
            continue
        settings = container.settings()
        listening = listen_port(container.role, container.argv, settings)
        declared = [int(port["containerPort"]) for port in container.spec.get("ports", [])]
        assert declared == [listening], f"{container.label}: declares ports {declared}, listens on {listening}"
        annotations = container.workload["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", f"{container.label}: not scraped"
        assert int(annotations["prometheus.io/port"]) == listening, f"{container.label}: scrape port"
        assert serves(container.role, settings, annotations["prometheus.io/path"]), f"{container.label}: scrape path"
        if container.role == "api":
            service = one(objects, "Service", name_of(container.workload))
            selector = service["spec"]["selector"]
            labels = container.workload["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), f"{container.label}: the Service does not select the api pods"
            for port in service["spec"]["ports"]:
                assert container.port_number(port["targetPort"]) == listening, f"Service port {port}"


def test_compose_healthchecks_ask_served_paths_on_the_listening_port() -> None:
    for name, service in compose()["services"].items():
        if not runs_scheduler_image(service):
            continue
        argv = [str(part) for part in service["command"]]
        role = argv[0]
        if role not in LONG_RUNNING_ROLES:
            continue
        settings = settings_from_env({**runtime_image_env(), **compose_env(service)})
        test = " ".join(service["healthcheck"]["test"])
        urls = re.findall(r"https?://[^\s'\"]+", test)
        assert len(urls) == 1, f"compose {name}: the healthcheck should request one URL: {test}"
        url = urlsplit(urls[0])
        assert serves(role, settings, url.path), f"compose {name}: {url.path} is not a route of the {role}"
        listening = listen_port(role, argv, settings)
        assert url.port == listening, (
            f"compose {name}: healthcheck on port {url.port}, the {role} listens on {listening}"
        )


# --- the executor's shutdown ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_executors_get_longer_to_stop_than_their_shutdown_grace(overlay: str) -> None:
    executors = [container for container in scheduler_containers(overlay) if container.role == "executor"]
    assert executors
    for container in executors:
        grace = container.settings().shutdown_grace
        pod_grace = container.workload["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        assert pod_grace > grace, (
            f"{container.label}: terminationGracePeriodSeconds {pod_grace} <= shutdown grace {grace}"
        )


def test_compose_executor_gets_longer_to_stop_than_its_shutdown_grace() -> None:
    service = compose()["services"]["executor"]
    grace = settings_from_env({**runtime_image_env(), **compose_env(service)}).shutdown_grace
    # Docker's default is 10 s.
    stop = duration_seconds(str(service.get("stop_grace_period", "10s")))
    assert stop > grace, f"compose executor: stop_grace_period {stop} s <= SCHEDULER_SHUTDOWN_GRACE {grace} s"


# --- autoscaling --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers_target_the_executors_and_watch_their_queue(overlay: str) -> None:
    objects = render(overlay)
    executor = next(c for c in scheduler_containers(overlay) if c.role == "executor")
    settings = executor.settings()
    for scaled in find(objects, "ScaledObject"):
        assert scaled["spec"]["scaleTargetRef"]["name"] == name_of(executor.workload)
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "rabbitmq"
            metadata = trigger["metadata"]
            assert metadata["queueName"] == settings.queue_name, "KEDA watches another queue than SCHEDULER_QUEUE_NAME"
            # One executor holds up to SCHEDULER_EXECUTOR_CONCURRENCY messages (its prefetch): see keda.yaml.
            assert int(metadata["value"]) == settings.executor_concurrency, "KEDA value != executor concurrency"
    for hpa in find(objects, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] == name_of(executor.workload)
    autoscalers = find(objects, "ScaledObject") + find(objects, "HorizontalPodAutoscaler")
    assert len(autoscalers) <= 1, f"overlays/{overlay}: two autoscalers would fight over the executors"
    if autoscalers:
        assert "replicas" not in executor.workload["spec"], "an autoscaled Deployment must not set replicas"
