"""Persistence: the only package that speaks SQL.

One interface per noun, each stating its contract (what is atomic, idempotent, fenced):

    clock.py      the database's instant            jobs.py       jobs as the API edits them
    passes.py     the timekeeper's scheduling pass  outbox.py     runs written and relayed to the broker
    claims.py     the executor's claim of a run     outcomes.py   the fenced finish, lease renewals
    sweeps.py     the recovery sweep                instances.py  service processes and their heartbeats
    history.py    runs as the API lists them        lookups.py    task functions, job types, statuses
    audit.py      who changed what, when, from where
    maintenance.py  whether the database's upkeep of the scheduler's tables (autovacuum) is switched on
    partitions.py the history's days on PostgreSQL, made ahead and dropped whole by the cleanup
    channels.py   notification channels             deliveries.py the notifications' outbox and its relay

Two implementations: `postgres/` (standalone services) and `sqlite/` (embedded mode), one module per noun each;
`portable/` holds the SQLAlchemy statements both run unchanged. The backend is chosen once, from the database
URL, by `backends.backend_for`; a `Store` bundles its implementations. Every method takes the caller's
AsyncSession and never commits: transactions belong to the caller, so several calls can form one atomic step.
`tests/contract/store/` is the one suite that says what a store must do, run against both backends."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler_core.store.audit import (
    SCHEDULER_ACTOR_NAME,
    Actor,
    AuditAction,
    AuditEntry,
    AuditFilters,
    AuditPosition,
    AuditStore,
)
from scheduler_core.store.channels import ChannelStore
from scheduler_core.store.claims import ClaimedRun, ClaimOutcome, ClaimResult, ClaimStore, RunSlot
from scheduler_core.store.clock import Clock
from scheduler_core.store.deliveries import AttemptOutcome, DeliveryStore, DueDelivery
from scheduler_core.store.history import (
    Backlog,
    Cancellation,
    ExecutionFilters,
    HistoryPage,
    HistoryStore,
    SlotPosition,
)
from scheduler_core.store.instances import InstanceStore
from scheduler_core.store.jobs import JobFilters, JobNotFound, JobStore
from scheduler_core.store.lookups import LookupStore, TaskFunctionSpec
from scheduler_core.store.maintenance import MaintenanceStore, MaintenanceWarning
from scheduler_core.store.outbox import NewExecution, OutboxRun, OutboxStore, PublishedRun
from scheduler_core.store.outcomes import FinishResult, OutcomeStore, Renewal, RunOutcome
from scheduler_core.store.partitions import Partition, PartitionStore
from scheduler_core.store.passes import DueClaim, DueJob, JobAdvance, PassRecord, PassStore
from scheduler_core.store.sweeps import OrphanedRun, SilentInstance, SweepStore, UnclaimedRun


@dataclass(frozen=True, slots=True)
class Store:
    """One backend's implementation of every noun."""

    clock: Clock
    jobs: JobStore
    passes: PassStore
    outbox: OutboxStore
    claims: ClaimStore
    outcomes: OutcomeStore
    sweeps: SweepStore
    instances: InstanceStore
    history: HistoryStore
    lookups: LookupStore
    audit: AuditStore
    maintenance: MaintenanceStore
    partitions: PartitionStore
    channels: ChannelStore
    deliveries: DeliveryStore


__all__ = [
    "SCHEDULER_ACTOR_NAME",
    "Actor",
    "AttemptOutcome",
    "AuditAction",
    "AuditEntry",
    "AuditFilters",
    "AuditPosition",
    "AuditStore",
    "Backlog",
    "Cancellation",
    "ChannelStore",
    "ClaimOutcome",
    "ClaimResult",
    "ClaimStore",
    "ClaimedRun",
    "Clock",
    "DeliveryStore",
    "DueClaim",
    "DueDelivery",
    "DueJob",
    "ExecutionFilters",
    "FinishResult",
    "HistoryPage",
    "HistoryStore",
    "InstanceStore",
    "JobAdvance",
    "JobFilters",
    "JobNotFound",
    "JobStore",
    "LookupStore",
    "MaintenanceStore",
    "MaintenanceWarning",
    "NewExecution",
    "OrphanedRun",
    "OutboxRun",
    "OutboxStore",
    "OutcomeStore",
    "Partition",
    "PartitionStore",
    "PassRecord",
    "PassStore",
    "PublishedRun",
    "Renewal",
    "RunOutcome",
    "RunSlot",
    "SilentInstance",
    "SlotPosition",
    "Store",
    "SweepStore",
    "TaskFunctionSpec",
    "UnclaimedRun",
]
