"""docker-compose.yml: valid against the compose specification (offline, with the schema check-jsonschema
bundles), and shaped as issue 5 asks: a one-shot migration the services wait for, two timekeepers, scalable
executors, a healthcheck on every long-running service."""

from __future__ import annotations

import subprocess
import sys

from tests.deploy.support import COMPOSE_FILE, Obj, compose, runs_scheduler_image


def test_compose_file_matches_the_compose_specification() -> None:
    # check-jsonschema's vendored compose-spec schema: no download (the CLI of the installed package).
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def services() -> dict[str, Obj]:
    found: dict[str, Obj] = compose()["services"]
    return found


def role(service: Obj) -> str | None:
    command = service.get("command")
    return str(command[0]) if runs_scheduler_image(service) and isinstance(command, list) and command else None


def one_shot(name: str) -> bool:
    """A service others wait for to *complete* (the migration): it exits, so it has no healthcheck."""
    return any(
        isinstance(other.get("depends_on"), dict)
        and other["depends_on"].get(name, {}).get("condition") == "service_completed_successfully"
        for other in services().values()
    )


def test_compose_runs_the_backing_services_the_issue_names() -> None:
    assert services()["postgres"]["image"].startswith("postgres:15")
    assert services()["rabbitmq"]["image"].startswith("rabbitmq:3.10-management")


def test_every_scheduler_service_waits_for_a_completed_migration_and_healthy_servers() -> None:
    migrations = [name for name, service in services().items() if role(service) == "migrate"]
    assert len(migrations) == 1, migrations
    migrate = migrations[0]
    assert services()[migrate].get("restart", "no") == "no", "the migration runs once"
    for name, service in services().items():
        if role(service) in {"api", "timekeeper", "executor"}:
            depends = service.get("depends_on")
            assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
            assert depends.get(migrate, {}).get("condition") == "service_completed_successfully", name
            for server in ("postgres", "rabbitmq"):
                assert depends.get(server, {}).get("condition") == "service_healthy", f"{name} -> {server}"


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in services().items():
        if one_shot(name):
            assert "healthcheck" not in service, f"{name} exits: a healthcheck would never pass"
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check.get("test"), f"{name}: healthcheck without a test"
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, f"{name}: {check['test']}"


def test_healthy_conditions_point_at_services_with_healthchecks() -> None:
    for name, service in services().items():
        for target, condition in (service.get("depends_on") or {}).items():
            assert target in services(), f"{name} depends on unknown service {target}"
            if condition.get("condition") == "service_healthy":
                check = services()[target].get("healthcheck") or {}
                assert check.get("test"), f"{name} waits for {target} to be healthy: it has no healthcheck"


def test_timekeepers_run_twice_and_executors_scale() -> None:
    by_role = {role(service): service for service in services().values() if role(service)}
    assert by_role["timekeeper"].get("deploy", {}).get("replicas", 1) >= 2
    for scaled in ("timekeeper", "executor"):
        service = by_role[scaled]
        # `--scale executor=N` needs generated container names and no fixed host port.
        assert "container_name" not in service, f"{scaled}: container_name prevents scaling"
        assert "ports" not in service, f"{scaled}: a published port prevents scaling"
