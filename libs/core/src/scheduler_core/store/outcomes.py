"""Outcomes of runs an executor holds: the fenced finish, the failure of runs it gives up on, and the renewal
of their leases while they run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, as its executor reports it."""

    execution_id: str
    status: ExecutionStatus
    duration_ms: int
    result_summary: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None


class OutcomeStore(ABC):
    @abstractmethod
    async def finish(self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str) -> set[str]:
        """Record outcomes, fenced: each only while its run is still `running` under instance_id, so a stale
        executor (its run already failed by the sweep) changes nothing. completed_at comes from the database
        clock. The caller's locks of these runs are released either way. Returns the execution ids whose outcome
        was recorded. Idempotent: a second call records nothing."""

    @abstractmethod
    async def fail_held(
        self, session: AsyncSession, instance_id: str, execution_ids: Sequence[str], reason: str
    ) -> int:
        """Fail, with `reason`, the runs of `execution_ids` still running under instance_id (a graceful
        shutdown past its grace period); release their locks; returns how many were failed."""

    @abstractmethod
    async def renew_leases(
        self, session: AsyncSession, instance_id: str, ttl: float, execution_ids: Sequence[str]
    ) -> set[str]:
        """Extend the locks instance_id holds on these runs to now + ttl seconds (the database's now, which is no
        earlier than when the caller sent the request: a lease the caller times from its request's send time ends
        no later than the database's); returns the ids it still holds. A lock the sweep already removed stays
        removed: the run was failed and must not be revived, and its executor must stop it."""
