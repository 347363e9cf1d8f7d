"""Service configurations for tests, built the one way the product builds them: from Settings, so that the
defaults and the rules between settings are Settings' own."""

from __future__ import annotations

from typing import Any

from scheduler_core.settings import Settings
from scheduler_executor.config import ExecutorConfig
from scheduler_timekeeper.service import TimekeeperConfig


def timekeeper_config(**settings: Any) -> TimekeeperConfig:
    """TimekeeperConfig of Settings with these values (Settings' field names, e.g. timekeeper_lookahead=0.1)."""
    return TimekeeperConfig.from_settings(Settings(**settings))


def executor_config(**settings: Any) -> ExecutorConfig:
    """ExecutorConfig of Settings with these values (Settings' field names, e.g. executor_concurrency=2)."""
    return ExecutorConfig.from_settings(Settings(**settings))
