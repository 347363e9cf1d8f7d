"""The benchmarked systems: one module each, registered here by name (order = run order)."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.harness.model import System


def _standalone() -> System:
    from benchmarks.systems.jobscheduler_standalone import JobschedulerStandalone

    return JobschedulerStandalone()


def _embedded() -> System:
    from benchmarks.systems.jobscheduler_embedded import JobschedulerEmbedded

    return JobschedulerEmbedded("sqlite")


def _embedded_pg() -> System:
    from benchmarks.systems.jobscheduler_embedded import JobschedulerEmbedded

    return JobschedulerEmbedded("postgresql")


def _limit() -> System:
    from benchmarks.systems.limit import LimitPipeline

    return LimitPipeline()


def _limit_batched() -> System:
    from benchmarks.systems.limit import LimitBatched

    return LimitBatched()


def _celery() -> System:
    from benchmarks.systems.celery_beat import CeleryBeat

    return CeleryBeat()


def _apscheduler() -> System:
    from benchmarks.systems.apscheduler import APScheduler4

    return APScheduler4()


SYSTEMS: dict[str, Callable[[], System]] = {
    "limit": _limit,
    "limit-batched": _limit_batched,
    "jobscheduler-standalone": _standalone,
    "jobscheduler-embedded": _embedded,
    "jobscheduler-embedded-pg": _embedded_pg,
    "celery-beat": _celery,
    "apscheduler": _apscheduler,
}

#: what `make bench` runs (the PostgreSQL flavour of embedded mode is available on request)
DEFAULT_SYSTEMS = (
    "limit",
    "limit-batched",
    "jobscheduler-standalone",
    "jobscheduler-embedded",
    "celery-beat",
    "apscheduler",
)
