"""What the executor counts and logs of the runs it handles: the runs counters by final status (in all, and by
job), durations, and a log line per notable run (successes at debug: the history holds every run, and at a
thousand runs a second an info line each would cost more CPU than the run)."""

from __future__ import annotations

import structlog

from scheduler_core.observability.logging import bind_run
from scheduler_core.observability.metrics import Metrics
from scheduler_core.store import ClaimOutcome, ClaimResult, RunOutcome
from scheduler_core.store.models import ExecutionStatus

log = structlog.get_logger(__name__)


class RunTally:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        # The runs counter's child per final status, looked up once rather than by label for every run.
        self._by_status = {
            status: metrics.runs.labels(status=status.name.lower()) for status in ExecutionStatus if status.is_terminal
        }

    def unclaimed(self, claim: ClaimResult, job_id: int, trace_id: str | None = None) -> None:
        """A delivered run of the job this executor did not start (a duplicate, missed, skipped, queued)."""
        with bind_run(job_id, claim.execution_id, trace_id):
            if claim.outcome is ClaimOutcome.ALREADY_HANDLED:
                self._metrics.duplicates.inc()
                log.info("duplicate_delivery_ignored")
            elif claim.outcome is ClaimOutcome.MISSED:
                self._by_status[ExecutionStatus.MISSED].inc()
                self._metrics.job_run(job_id, "missed")
                self._metrics.missed.inc()
                log.warning("run_missed", reason=claim.reason)
            elif claim.outcome is ClaimOutcome.SKIPPED:
                self._by_status[ExecutionStatus.SKIPPED].inc()
                self._metrics.job_run(job_id, "skipped")
                log.warning("run_skipped", reason=claim.reason)
            elif claim.outcome is ClaimOutcome.QUEUED:
                log.info("run_queued", reason=claim.reason)

    def finished(self, job_id: int, outcome: RunOutcome, recorded: bool) -> None:
        """A run of the job whose task ended; `recorded`: its outcome was written (not if the sweep had failed it
        first, which counted it)."""
        if not recorded:
            log.warning("run_outcome_rejected", status=outcome.status.name.lower(), reason="no longer the owner")
            return
        self._by_status[outcome.status].inc()
        self._metrics.job_run(job_id, outcome.status.name.lower())
        self._metrics.run_duration.observe(outcome.duration_ms / 1000)
        if outcome.status is ExecutionStatus.SUCCESS:
            log.debug("run_finished", status="success", duration_ms=outcome.duration_ms)
        else:
            log.warning("run_failed", status=outcome.status.name.lower(), error=outcome.error_message)

    def failed_at_shutdown(self, count: int) -> None:
        # Not by job: the store reports how many it failed, not which (a run the sweep failed first is not one).
        self._by_status[ExecutionStatus.FAILED].inc(count)
