"""What both backends' claims share: from a pending run and the claim's instant, its verdict (scheduler_core.verdicts)
and the ClaimedRun its executor gets. Pure: no SQL."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.store.claims import ClaimedRun, ClaimOutcome, ClaimResult, ClaimStore
from scheduler_core.store.models import Trigger


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
    def misfire_grace_time(self) -> int: ...
    @property
    def parameters(self) -> dict[str, Any] | None: ...
    @property
    def timeout_seconds(self) -> int | None: ...
    @property
    def task_key(self) -> str: ...


def missed_reason(run: PendingRun, now: datetime) -> str | None:
    """Why a run picked up at `now` is missed, or None: scheduled runs only (manual runs have no grace)."""
    if run.trigger != Trigger.SCHEDULE:
        return None
    lateness = now - run.scheduled_at
    if not verdicts.past_grace(lateness, run.misfire_grace_time):
        return None
    return verdicts.missed_at_claim(lateness, run.misfire_grace_time)


def claimed_run(run: PendingRun, now: datetime, fencing_token: int) -> ClaimedRun:
    """The run as its claimer executes it. A run claimed ahead of its slot starts at the slot."""
    started_at = max(now, run.scheduled_at)
    return ClaimedRun(
        execution_id=run.execution_id,
        job_id=run.job_id,
        scheduled_at=run.scheduled_at,
        started_at=started_at,
        task_key=run.task_key,
        parameters=run.parameters,
        timeout_seconds=run.timeout_seconds,
        start_in=(started_at - now).total_seconds(),
        fencing_token=fencing_token,
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


class BatchClaims(ClaimStore):
    """A claim as each backend writes it: the results of the ids that were pending (or None if the claimer is
    refused), put in input order here."""

    async def claim(
        self,
        session: AsyncSession,
        execution_ids: Sequence[str],
        *,
        instance_id: str,
        host_name: str,
        lock_ttl: float,
    ) -> list[ClaimResult]:
        if not execution_ids:
            return []
        results = await self._claim(session, execution_ids, instance_id, host_name, lock_ttl)
        return in_input_order(execution_ids, results)

    @abstractmethod
    async def _claim(
        self, session: AsyncSession, execution_ids: Sequence[str], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        """Claim results by execution id (ids not pending absent), or None if the claimer is refused."""
