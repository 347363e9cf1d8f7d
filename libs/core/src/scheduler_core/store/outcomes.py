"""Outcomes of runs an executor holds: the fenced finish, the failure of runs it gives up on, and the renewal
of their leases while they run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.claims import RunSlot
from scheduler_core.store.models import ExecutionStatus


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, as its executor reports it."""

    execution_id: str
    scheduled_at: datetime  # the run's slot (ClaimedRun.scheduled_at): an outcome with another slot records nothing
    status: ExecutionStatus
    duration_ms: int
    result_summary: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    # When the task function began, by the database's clock (as the executor reckons it from its claim); None
    # keeps the started_at the claim wrote (the later of the claim and the slot).
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FinishResult:
    recorded: set[str]  # the execution ids whose outcome was recorded
    # A retry was scheduled or a queued run released: the timekeepers should plan again now (the caller wakes
    # them: JobStore.notify_changed, or in-process in embedded mode).
    wake: bool = False


@dataclass(frozen=True, slots=True)
class Renewal:
    held: set[str]  # the runs whose lease was extended
    # Of those, the runs an operator (or a replacing run) asked to cancel: execution id -> cancelled_by.
    cancelling: dict[str, str] = field(default_factory=dict)


class OutcomeStore(ABC):
    @abstractmethod
    async def finish(self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str) -> FinishResult:
        """Record outcomes, fenced: each only while its run (its execution id with its slot) is still `running`
        under instance_id, so a stale executor (its run already failed by the sweep) changes nothing.
        completed_at comes from the database clock, started_at from the outcome when it has one. The caller's locks
        of these runs are released either way. Idempotent: a second call records nothing. In the same
        transaction (portable.followups): a failed run's retry, if its job's policy allows one (waiting until its
        delay has passed, linked both ways), or else the job's count of failed slots in a row grows (pausing it at
        pause_after_failures); a success resets that count; and each job whose run ended releases its earliest
        queued run."""

    @abstractmethod
    async def fail_held(self, session: AsyncSession, instance_id: str, runs: Sequence[RunSlot], reason: str) -> int:
        """Fail, with `reason`, the runs (each named with its slot) still running under instance_id (a graceful
        shutdown past its grace period); release their locks; what follows a failure follows (as in finish);
        returns how many were failed."""

    @abstractmethod
    async def renew_leases(
        self, session: AsyncSession, instance_id: str, ttl: float, execution_ids: Sequence[str]
    ) -> Renewal:
        """Extend the locks instance_id holds on these runs to now + ttl seconds (the database's now, which is no
        earlier than when the caller sent the request: a lease the caller times from its request's send time ends
        no later than the database's); returns the ids it still holds, and which of them were asked to cancel. A
        lock the sweep already removed stays removed: the run was failed and must not be revived, and its
        executor must stop it."""
