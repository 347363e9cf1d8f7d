"""Partitions: the executions' history kept as one table per UTC week of the runs' slots, so that retention drops
a week whole instead of deleting its rows one by one (PostgreSQL; migration 0012).

Deleting rows costs per row, and more per row the more dead entries lie ahead of the next batch (issue 21: 8.5 ms
+ 5.66 ms per million dead entries per batch of 1,000), and deleted rows return no disk until a VACUUM FULL.
Dropping a partition costs a catalog change and the unlinking of its files (about 0.7 ms per MB), whatever its
rows, and the disk comes back at once. The cost model, measured, is in the README ("Retention at scale").

SQLite keeps one table (embedded sizes): there, every method finds nothing to do, and retention is the batch
deletes of store/history.py alone."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

DAYS_AHEAD = 7  # days ahead of today that partitions are made for, so that a week without a cleanup finds them


class Step(enum.Enum):
    """What a step of the cleanup on a partition did."""

    DONE = "done"
    SKIPPED = "skipped"  # nothing to do, or not to be done now (see the method)
    BUSY = "busy"  # a lock it needs was not granted within a short wait: try again later


@dataclass(frozen=True, slots=True)
class Partition:
    """A partition of the executions: every slot in [starts, ends) (starts None: every slot before ends)."""

    name: str
    starts: datetime | None
    ends: datetime
    runs: int | None  # counted once its day had closed (None: not yet)


class PartitionStore(ABC):
    @abstractmethod
    async def try_exclusive(self, session: AsyncSession) -> bool:
        """Take the cleanup's lock, held by the session's connection (across its transactions) until
        release_exclusive or until the connection ends; False if another cleanup holds it. The session must be
        bound to one connection. One cleanup at a time: two would race to drop and delete the same rows, and
        double the load."""

    @abstractmethod
    async def release_exclusive(self, session: AsyncSession) -> None:
        """Release the lock try_exclusive took on the session's connection."""

    @abstractmethod
    async def make_week(self, session: AsyncSession, day: date) -> Step:
        """Make the partition of the week (Monday to Monday, UTC) holding the day, if it does not exist yet. Commit
        right after: it holds locks on the executions and on the jobs' table (its foreign key) until then. SKIPPED
        when it exists, or when the default partition already holds runs of the week (making it would have to move
        them: they stay there, deleted in batches); BUSY when its locks were not granted within a short wait."""

    @abstractmethod
    async def partitions(self, session: AsyncSession) -> list[Partition]:
        """The weeks' partitions and the partition of the slots before them, oldest first (not the default one)."""

    @abstractmethod
    async def count(self, session: AsyncSession, partition: Partition) -> int:
        """Count the partition's runs and remember the count with it (a scan of one index of the partition)."""

    @abstractmethod
    async def expired(self, session: AsyncSession, partition: Partition, cutoff: datetime) -> bool:
        """Whether every run of the partition may go: its last slot is before the cutoff, and none of its runs is
        unfinished (an index probe). By slot, not by creation: a run backfilled into a day that has since expired
        goes with its day."""

    @abstractmethod
    async def detach(self, session: AsyncSession, partition: Partition) -> Step:
        """Detach the partition from the executions (its runs leave the history at the commit). Commit right
        after. SKIPPED when, under the lock, it is found to hold an open run after all (written since expired()
        looked); BUSY when its locks were not granted within a short wait."""

    @abstractmethod
    async def drop_detached(self, session: AsyncSession) -> list[str]:
        """Drop the partitions detached earlier (their files are unlinked at the commit); returns their names."""
