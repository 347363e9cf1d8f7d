"""The timekeeper's settings reach its configuration, and out-of-range values are refused with the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scheduler_core.settings import Settings
from scheduler_timekeeper.main import config_from
from scheduler_timekeeper.service import TimekeeperConfig


def test_the_environment_sets_the_timekeepers_cycle_lookahead_and_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_MIN_CYCLE", "0.05")
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_LOOKAHEAD", "0.2")
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_MAX_SLEEP", "2")
    config = config_from(Settings())
    assert (config.min_cycle, config.lookahead, config.max_sleep) == (0.05, 0.2, 2.0)


def test_the_settings_defaults_are_the_configs_own() -> None:
    assert Settings.model_fields["timekeeper_min_cycle"].default == TimekeeperConfig().min_cycle == 0.02
    assert Settings.model_fields["timekeeper_lookahead"].default == TimekeeperConfig().lookahead == 0.05


@pytest.mark.parametrize("variable", ["SCHEDULER_TIMEKEEPER_MIN_CYCLE", "SCHEDULER_TIMEKEEPER_LOOKAHEAD"])
@pytest.mark.parametrize("value", ["-0.001", "1.5", "soon"])
def test_an_invalid_cycle_or_lookahead_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("SCHEDULER_").lower()):
        Settings()
