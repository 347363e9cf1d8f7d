"""What both backends' claims share: from the pending runs, their jobs' state and the claim's instant, each run's
verdict (scheduler_core.verdicts) and the ClaimedRun its executor gets. Pure: no SQL. The backends read the
rows and the state under their locks and write the verdicts."""

from __future__ import annotations

import enum
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.notifications import EventType
from scheduler_core.store.claims import ClaimedRun, ClaimOutcome, ClaimResult, ClaimStore, RunSlot
from scheduler_core.store.models import OverlapPolicy, Trigger
from scheduler_core.store.portable.events import EventOutbox


class PendingRun(Protocol):
    """A pending run as a claim reads it (a result row, or the SQLite claim's own record)."""

    @property
    def execution_id(self) -> str: ...
    @property
    def job_id(self) -> int: ...
    @property
    def scheduled_at(self) -> datetime: ...
    @property
    def trigger(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def misfire_grace_time(self) -> int: ...
    @property
    def max_instances(self) -> int: ...
    @property
    def overlap_policy(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any] | None: ...
    @property
    def timeout_seconds(self) -> int | None: ...
    @property
    def task_key(self) -> str: ...


def has_grace(trigger: str, attempt: int) -> bool:
    """Whether a run is bound by its job's misfire grace time: a scheduled slot's first attempt only. A manual
    run, a backfilled slot and a retry are late by design."""
    return trigger == Trigger.SCHEDULE and attempt == 1


def missed_reason(run: PendingRun, now: datetime) -> str | None:
    """Why a run picked up at `now` is missed, or None (see has_grace)."""
    if not has_grace(run.trigger, run.attempt):
        return None
    lateness = now - run.scheduled_at
    if not verdicts.past_grace(lateness, run.misfire_grace_time):
        return None
    return verdicts.missed_at_claim(lateness, run.misfire_grace_time)


def waits_in_queue(run: PendingRun) -> bool:
    """Whether a run with no free place waits for one (rather than being skipped): under overlap_policy queue or
    replace, and every retry (an attempt is never skipped for want of a place)."""
    return run.overlap_policy != OverlapPolicy.SKIP or run.attempt > 1


@dataclass(slots=True)
class JobState:
    """What a claim needs to know of a job besides its pending runs, read under the job's claim lock."""

    live: int  # live locks (runs holding a place), counted up to max_instances
    # The job's earliest queued run not yet running, as (scheduled_at, attempt, execution_id); read only for jobs
    # with a run that may queue (waits_in_queue).
    queue_head: tuple[datetime, int, str] | None = None
    # The job's oldest running run not yet asked to cancel; read only for overlap_policy replace.
    oldest_running: RunSlot | None = None


class Verdict(enum.Enum):
    RUN = "run"
    MISSED = "missed"
    SKIPPED = "skipped"
    QUEUED = "queued"
    NOT_DUE = "not_due"


@dataclass(frozen=True, slots=True)
class RunVerdict:
    execution_id: str
    verdict: Verdict
    reason: str | None = None  # MISSED, SKIPPED, QUEUED


@dataclass(slots=True)
class Decisions:
    """A claim's verdicts, in the rows' order, and the running runs that newer runs replace (the run to cancel
    -> who cancels it)."""

    verdicts: list[RunVerdict] = field(default_factory=list)
    replaced: dict[RunSlot, str] = field(default_factory=dict)


def decide(rows: Sequence[PendingRun], states: dict[int, JobState], now: datetime) -> Decisions:
    """The verdict of each pending run, `rows` in (job, slot, attempt) order:

    - past its grace time: MISSED (has_grace);
    - a place free under max_instances, and no earlier run of its job queued ahead of it (for a run that would
      queue): RUN, taking the place;
    - otherwise, its slot still ahead: NOT_DUE (claimed again at its slot, when a place may be free);
    - otherwise SKIPPED, or QUEUED if it waits for a place (waits_in_queue); under overlap_policy replace a
      queued first attempt also asks the job's oldest running run to cancel, so that its place frees.
    """
    decisions = Decisions()
    for row in rows:
        state = states[row.job_id]
        reason = missed_reason(row, now)
        if reason is not None:
            decisions.verdicts.append(RunVerdict(row.execution_id, Verdict.MISSED, reason))
            continue
        queues = waits_in_queue(row)
        own = (row.scheduled_at, row.attempt, row.execution_id)
        behind = queues and state.queue_head is not None and state.queue_head[2] != row.execution_id
        behind = behind and state.queue_head is not None and state.queue_head < own
        if state.live < row.max_instances and not behind:
            state.live += 1
            decisions.verdicts.append(RunVerdict(row.execution_id, Verdict.RUN))
        elif row.scheduled_at > now:
            decisions.verdicts.append(RunVerdict(row.execution_id, Verdict.NOT_DUE))
        elif not queues:
            decisions.verdicts.append(
                RunVerdict(row.execution_id, Verdict.SKIPPED, verdicts.skipped(row.max_instances))
            )
        else:
            if state.queue_head is None or own < state.queue_head:
                state.queue_head = own
            replaces = row.overlap_policy == OverlapPolicy.REPLACE and row.attempt == 1
            if replaces and state.oldest_running is not None:
                decisions.replaced[state.oldest_running] = verdicts.replaced_by(row.execution_id)
                state.oldest_running = None
            decisions.verdicts.append(
                RunVerdict(row.execution_id, Verdict.QUEUED, verdicts.queued(row.max_instances, replacing=replaces))
            )
    return decisions


def claimed_run(run: PendingRun, now: datetime, fencing_token: int) -> ClaimedRun:
    """The run as its claimer executes it. A run claimed ahead of its slot starts at the slot."""
    starts_at = max(now, run.scheduled_at)
    return ClaimedRun(
        execution_id=run.execution_id,
        job_id=run.job_id,
        scheduled_at=run.scheduled_at,
        claimed_at=now,
        task_key=run.task_key,
        parameters=run.parameters,
        timeout_seconds=run.timeout_seconds,
        start_in=(starts_at - now).total_seconds(),
        fencing_token=fencing_token,
        attempt=run.attempt,
    )


def not_due(execution_id: str, scheduled_at: datetime, now: datetime) -> ClaimResult:
    return ClaimResult(ClaimOutcome.NOT_DUE, execution_id, due_in=(scheduled_at - now).total_seconds())


def in_input_order(execution_ids: Sequence[str], results: dict[str, ClaimResult] | None) -> list[ClaimResult]:
    """One result per id, in input order: REFUSED for all if `results` is None (the claimer was declared
    stopped); an id absent from `results`, or repeated (its first occurrence took the result), ALREADY_HANDLED."""
    if results is None:
        return [ClaimResult(ClaimOutcome.REFUSED, eid) for eid in execution_ids]
    ordered = []
    for eid in execution_ids:
        result = results.pop(eid, None)
        ordered.append(result if result is not None else ClaimResult(ClaimOutcome.ALREADY_HANDLED, eid))
    return ordered


# The claims' verdicts that are events of their own.
_ANNOUNCED: Final = {ClaimOutcome.MISSED: EventType.RUN_MISSED, ClaimOutcome.SKIPPED: EventType.RUN_SKIPPED}

OUTCOME_OF: dict[Verdict, ClaimOutcome] = {
    Verdict.MISSED: ClaimOutcome.MISSED,
    Verdict.SKIPPED: ClaimOutcome.SKIPPED,
    Verdict.QUEUED: ClaimOutcome.QUEUED,
}


class BatchClaims(ClaimStore):
    """A claim as each backend writes it: the results of the ids that were pending (or None if the claimer is
    refused), put in input order here, and the runs it closed missed or skipped announced."""

    def __init__(self, events: EventOutbox) -> None:
        self._events = events

    async def claim(
        self,
        session: AsyncSession,
        runs: Sequence[RunSlot],
        *,
        instance_id: str,
        host_name: str,
        lock_ttl: float,
    ) -> list[ClaimResult]:
        if not runs:
            return []
        results = await self._claim(session, runs, instance_id, host_name, lock_ttl)
        if results:
            slots = dict(runs)
            for outcome, event_type in _ANNOUNCED.items():
                closed = [RunSlot(eid, slots[eid]) for eid, result in results.items() if result.outcome is outcome]
                if closed:
                    await self._events.add_runs(session, event_type, closed)
        return in_input_order([run.execution_id for run in runs], results)

    @abstractmethod
    async def _claim(
        self, session: AsyncSession, runs: Sequence[RunSlot], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        """Claim results by execution id (runs not pending absent), or None if the claimer is refused."""
