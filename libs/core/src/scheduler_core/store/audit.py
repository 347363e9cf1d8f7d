"""The audit trail: who changed what, when (the database clock) and from where, and its retention.

Contract: `record` writes in the caller's transaction and never commits, so the row exists if and only if the
change it describes commits with it (a change that fails, or is rolled back, leaves no row). Rows are never
updated; only retention deletes them. Lists are newest first, ordered by (occurred_at, id)."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import SchedulerAuditLog

# Width of scheduled_job.created_by_id / updated_by_id (the reference's VARCHAR(36)).
USER_ID_LENGTH: Final = 36
# Who the scheduler itself is in the audit trail (its cleanup job, a job pausing itself after failures): no token,
# so no subject.
SCHEDULER_ACTOR_NAME: Final = "scheduler"


class AuditAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ENABLE = "enable"
    DISABLE = "disable"
    PAUSE = "pause"
    RESUME = "resume"
    TRIGGER = "trigger"
    CANCEL = "cancel"
    RERUN = "rerun"
    BACKFILL = "backfill"
    CLEANUP = "cleanup"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, and through which request. Text longer than its column is cut when recorded."""

    subject: str | None  # the token's `sub`
    name: str | None = None  # a display name from the token's claims
    client_address: str | None = None  # the real client (behind a trusted gateway: the one it forwarded)
    request_id: str | None = None

    @property
    def user_id(self) -> str | None:
        """`sub` as scheduled_job.created_by_id / updated_by_id store it (longer ids are cut)."""
        return None if self.subject is None else self.subject[:USER_ID_LENGTH]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: Actor
    action: AuditAction
    job_id: int | None = None
    target: str | None = None  # what the action wrote or acted on besides the job, e.g. an execution id
    # Field (the API's camelCase name) -> {"before": …, "after": …}; None when the action changes no field.
    changes: Mapping[str, Mapping[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class AuditFilters:
    job_id: int | None = None
    actor: str | None = None  # the actor's subject or display name, exactly
    action: AuditAction | None = None
    occurred_from: datetime | None = None  # inclusive
    occurred_to: datetime | None = None  # inclusive


@dataclass(frozen=True, slots=True)
class AuditPosition:
    """Where a page ended: the next page (keyset) holds the rows ordered after this one."""

    occurred_at: datetime
    id: int


class AuditStore(ABC):
    @abstractmethod
    async def record(self, session: AsyncSession, entry: AuditEntry) -> SchedulerAuditLog:
        """Write one row in the caller's transaction, occurred_at from the database clock; never commits."""

    @abstractmethod
    async def page(
        self,
        session: AsyncSession,
        filters: AuditFilters,
        *,
        limit: int,
        offset: int = 0,
        after: AuditPosition | None = None,
    ) -> list[SchedulerAuditLog]:
        """Rows matching the filters, newest first: those ordered after `after` (keyset paging, which stays
        put while rows are added), skipping `offset` of them, at most `limit`."""

    @abstractmethod
    async def count(self, session: AsyncSession, filters: AuditFilters) -> int:
        """How many rows match the filters."""

    @abstractmethod
    async def delete_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        """Delete up to batch_size rows that occurred before cutoff; returns how many. The caller commits between
        batches, so no transaction holds locks for long."""
