"""The timekeeper's settings reach its configuration, and out-of-range values are refused with the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scheduler_core.settings import Settings
from scheduler_timekeeper.main import config_from
from scheduler_timekeeper.service import TimekeeperConfig


def test_the_environment_sets_the_timekeepers_cycle_and_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_MIN_CYCLE", "0.05")
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_MAX_SLEEP", "2")
    config = config_from(Settings())
    assert (config.min_cycle, config.max_sleep) == (0.05, 2.0)


def test_the_settings_default_cycle_is_the_configs_own() -> None:
    assert Settings.model_fields["timekeeper_min_cycle"].default == TimekeeperConfig().min_cycle == 0.02


@pytest.mark.parametrize("value", ["-0.001", "1.5", "soon"])
def test_an_invalid_min_cycle_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SCHEDULER_TIMEKEEPER_MIN_CYCLE", value)
    with pytest.raises(ValidationError, match="timekeeper_min_cycle"):
        Settings()
