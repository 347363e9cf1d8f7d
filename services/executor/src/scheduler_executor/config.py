"""The settings an executor uses, taken from Settings once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler_core.settings import Settings


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """The settings an executor uses (Settings documents each, with its unit and default)."""

    concurrency: int
    prefetch: int
    lock_ttl: float
    instance_timeout: float
    watchdog_interval: float
    task_timeout: float
    shutdown_grace: float
    startup_timeout: float
    outbound_allow: tuple[str, ...]
    audit_retention_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ExecutorConfig:
        return cls(
            concurrency=settings.executor_concurrency,
            prefetch=settings.executor_prefetch,
            lock_ttl=settings.lock_ttl,
            instance_timeout=settings.instance_timeout,
            watchdog_interval=settings.watchdog_interval,
            task_timeout=settings.task_timeout,
            shutdown_grace=settings.shutdown_grace,
            startup_timeout=settings.startup_timeout,
            outbound_allow=tuple(settings.outbound_allow),
            audit_retention_days=settings.audit_retention_days,
        )
