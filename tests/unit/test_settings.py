"""Settings are the one place a default lives: the services' configurations are built from them, with the rules
between settings checked at start-up, and out-of-range values refused with the field."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from scheduler_core.settings import Settings
from scheduler_executor.config import ExecutorConfig
from scheduler_timekeeper.service import TimekeeperConfig


def test_the_environment_sets_the_timekeepers_cycle_lookahead_and_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_MIN_CYCLE", "0.05")
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_LOOKAHEAD", "0.2")
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_MAX_SLEEP", "2")
    config = TimekeeperConfig.from_settings(Settings())
    assert (config.min_cycle, config.lookahead, config.max_sleep) == (0.05, 0.2, 2.0)


def test_the_environment_sets_the_executors_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_EXECUTOR_CONCURRENCY", "7")
    monkeypatch.setenv("SCHEDULER_SHUTDOWN_GRACE", "3")
    config = ExecutorConfig.from_settings(Settings())
    assert (config.concurrency, config.shutdown_grace, config.lock_ttl) == (7, 3.0, Settings().lock_ttl)


@pytest.mark.parametrize("config", [TimekeeperConfig, ExecutorConfig])
def test_the_configurations_have_no_defaults_of_their_own(config: type) -> None:
    fields = dataclasses.fields(config)
    assert fields
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING for f in fields)


@pytest.mark.parametrize("variable", ["SCHEDULER_TIMEKEEPER_MIN_CYCLE", "SCHEDULER_TIMEKEEPER_LOOKAHEAD"])
@pytest.mark.parametrize("value", ["-0.001", "1.5", "soon"])
def test_an_invalid_cycle_or_lookahead_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("SCHEDULER_").lower()):
        Settings()


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"heartbeat_interval": 20.0, "instance_timeout": 20.0}, "SCHEDULER_HEARTBEAT_INTERVAL"),
        ({"instance_timeout": 30.0, "lock_ttl": 20.0}, "SCHEDULER_INSTANCE_TIMEOUT"),
        ({"timekeeper_min_cycle": 0.1, "timekeeper_lookahead": 0.05}, "SCHEDULER_TIMEKEEPER_LOOKAHEAD"),
    ],
)
def test_settings_that_contradict_each_other_are_refused_naming_both(values: dict[str, float], named: str) -> None:
    with pytest.raises(ValidationError, match=named) as refused:
        Settings.model_validate(values)
    message = str(refused.value)
    assert sum(f"SCHEDULER_{name.upper()}" in message for name in values) == 2


def test_the_defaults_satisfy_every_rule() -> None:
    settings = Settings()
    assert settings.heartbeat_interval < settings.instance_timeout <= settings.lock_ttl
    assert settings.timekeeper_lookahead >= settings.timekeeper_min_cycle
