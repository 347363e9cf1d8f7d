"""Repositories: the only modules that speak SQL. One module per noun; `SchedulerRepository` is the
reference's single surface over all of them.

Every method takes the caller's AsyncSession and never commits: transactions belong to the caller (the
service layer, the timekeeper, the executor), so several repository calls can form one atomic step."""

from scheduler_core.db.repository.clock import db_now, is_postgres, now_expr
from scheduler_core.db.repository.executions import (
    ExecutionFilters,
    ExecutionRepository,
    NewExecution,
    PublishedRun,
)
from scheduler_core.db.repository.instances import InstanceRepository
from scheduler_core.db.repository.jobs import (
    DueClaim,
    DueJob,
    JobAdvance,
    JobFilters,
    JobNotFound,
    JobRepository,
    PassRecord,
)
from scheduler_core.db.repository.locks import LockRepository
from scheduler_core.db.repository.lookups import LookupRepository, TaskFunctionSpec
from scheduler_core.db.repository.runs import (
    ClaimedRun,
    ClaimOutcome,
    ClaimResult,
    OrphanedRun,
    RunOutcome,
    RunRepository,
    UnclaimedRun,
)


class SchedulerRepository(
    JobRepository, ExecutionRepository, RunRepository, LockRepository, InstanceRepository, LookupRepository
):
    """All repository methods of the reference (and those the timekeeper and executor need)."""


__all__ = [
    "ClaimOutcome",
    "ClaimResult",
    "ClaimedRun",
    "DueClaim",
    "DueJob",
    "ExecutionFilters",
    "ExecutionRepository",
    "InstanceRepository",
    "JobAdvance",
    "JobFilters",
    "JobNotFound",
    "JobRepository",
    "LockRepository",
    "LookupRepository",
    "NewExecution",
    "OrphanedRun",
    "PassRecord",
    "PublishedRun",
    "RunOutcome",
    "RunRepository",
    "SchedulerRepository",
    "TaskFunctionSpec",
    "UnclaimedRun",
    "db_now",
    "is_postgres",
    "now_expr",
]
