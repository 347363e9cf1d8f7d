"""The executor's claim: a delivered run becomes `running` under the claimer's lease, or is closed with its
verdict (missed, skipped), or is left for later (not due yet)."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"  # now running under this executor's lock
    ALREADY_HANDLED = "already_handled"  # not pending (a duplicate delivery) or unknown
    MISSED = "missed"  # picked up after its grace time; recorded as missed
    SKIPPED = "skipped"  # max_instances runs already running; recorded as skipped
    REFUSED = "refused"  # the claimer was declared dead by the sweep: nothing claimed, it must stop
    # max_instances runs already running and the run waits for a place (overlap_policy queue or replace, or a
    # retry): recorded waiting; released, and published again, once a place frees.
    QUEUED = "queued"
    # Ahead of its slot, with max_instances runs of its job running now: left pending, to be claimed again at
    # its slot (those runs may have finished by then), so that a run delivered early is never skipped early.
    NOT_DUE = "not_due"


class RunSlot(NamedTuple):
    """A run as its message names it: its execution id and its slot. On PostgreSQL the slot is the run row's
    partition key, so that a statement naming it reads only the partitions of its runs' days; a slot that is
    not the run's own finds nothing."""

    execution_id: str
    scheduled_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A run this executor now owns, with what it needs to execute it."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    claimed_at: datetime  # the claim's instant, by the database's clock
    task_key: str
    parameters: dict[str, Any] | None
    timeout_seconds: int | None
    # Seconds from the claim to started_at, by the database's clock: how long the executor holds the run
    # before starting its task (0 unless it was claimed ahead of its slot).
    start_in: float = 0.0
    # Grows with every claim of the job (the id of the run's lock, which is never reused): a task writing to an
    # external store passes it along so that the store can refuse a stale writer (TaskContext.fencing_token).
    fencing_token: int = 0
    attempt: int = 1  # 1-based: a retry of the slot is its next attempt


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: ClaimOutcome
    execution_id: str
    run: ClaimedRun | None = None  # set when outcome is CLAIMED
    reason: str | None = None  # set when outcome is MISSED, SKIPPED or QUEUED
    due_in: float = 0.0  # NOT_DUE: seconds until the run's slot, by the database's clock


class ClaimStore(ABC):
    @abstractmethod
    async def claim(
        self,
        session: AsyncSession,
        runs: Sequence[RunSlot],
        *,
        instance_id: str,
        host_name: str,
        lock_ttl: float,
    ) -> list[ClaimResult]:
        """Claim pending runs for this executor, each atomically with its lock; one result per run, in input
        order. Each run is named by its execution id and its slot (as its message carries them): a run whose
        slot is not the one given is not found (ALREADY_HANDLED). The verdicts are portable.claims.decide's
        (scheduler_core.verdicts' texts):

        - a run that is not pending (a duplicate delivery) or unknown is ALREADY_HANDLED, and left alone; an id
          repeated in the batch (a message delivered twice at once) is claimed for its first occurrence only;
        - a scheduled slot's first attempt picked up past its job's misfire grace time is recorded missed;
        - per job, in slot order, runs take the places left under max_instances live locks and become running,
          owned by instance_id, with a lock that expires lock_ttl seconds from now unless renewed, claimed_at now
          and started_at the later of now and their slot (ClaimedRun.start_in: how long to wait before starting
          the task; the executor records the real start with the outcome), and a fencing token greater than that
          of any earlier claim of the job; a run that would queue takes a place only if no earlier queued run of
          its job is still waiting;
        - a run beyond max_instances is left pending as NOT_DUE if its slot is still ahead (runs are delivered up
          to the look-ahead early, and those running may have finished by its slot); otherwise it is recorded
          skipped, or, if it waits for a place (overlap_policy queue or replace, or a retry), waiting with
          queued_at (QUEUED), and under replace its job's oldest running run is asked to cancel.

        Claims of one job are serialised (counted by one claimer at a time), claims of different jobs are not,
        and concurrent claimers never deadlock. A claimer the sweep declared stopped claims nothing: every result
        is REFUSED. Its instance row is read under a lock that orders the claim with the sweep's verdict: either
        the claim commits first and the sweep then fails its runs, or the claim sees the verdict."""
