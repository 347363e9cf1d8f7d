"""The SQLite backend (embedded mode): one module per noun."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import Store
from scheduler_core.store.backend import Backend
from scheduler_core.store.portable.audit import PortableAuditStore
from scheduler_core.store.portable.channels import PortableChannelStore
from scheduler_core.store.portable.deliveries import PortableDeliveryStore
from scheduler_core.store.portable.events import EventOutbox
from scheduler_core.store.portable.followups import Followups
from scheduler_core.store.portable.instances import PortableInstanceStore
from scheduler_core.store.portable.lookups import PortableLookupStore
from scheduler_core.store.portable.sweeps import PortableSweeps
from scheduler_core.store.sqlite.claims import SqliteClaims
from scheduler_core.store.sqlite.clock import SqliteClock
from scheduler_core.store.sqlite.engine import create_sqlite_engine
from scheduler_core.store.sqlite.history import SqliteHistoryStore
from scheduler_core.store.sqlite.jobs import SqliteJobStore
from scheduler_core.store.sqlite.maintenance import SqliteMaintenance
from scheduler_core.store.sqlite.outbox import SqliteOutbox
from scheduler_core.store.sqlite.outcomes import SqliteOutcomes
from scheduler_core.store.sqlite.partitions import SqlitePartitions
from scheduler_core.store.sqlite.passes import SqlitePasses
from scheduler_core.wakeup import LocalWakeup, Wakeup


def sqlite_store() -> Store:
    clock = SqliteClock()
    events = EventOutbox(clock)
    audit = PortableAuditStore(clock)
    followups = Followups(events, audit)
    return Store(
        clock=clock,
        jobs=SqliteJobStore(clock),
        passes=SqlitePasses(events),
        outbox=SqliteOutbox(),
        claims=SqliteClaims(events),
        outcomes=SqliteOutcomes(clock, followups),
        sweeps=PortableSweeps(followups, events),
        instances=PortableInstanceStore(clock),
        history=SqliteHistoryStore(),
        lookups=PortableLookupStore(insert),
        audit=audit,
        maintenance=SqliteMaintenance(),
        partitions=SqlitePartitions(),
        channels=PortableChannelStore(clock),
        deliveries=PortableDeliveryStore(clock, events),
    )


class SqliteBackend(Backend):
    name = "sqlite"

    def create_engine(self, url: str, *, pool_size: int, pre_ping: bool) -> AsyncEngine:
        # One connection whatever pool_size (SQLite has one writer); nothing to pre-ping in-process.
        return create_sqlite_engine(url)

    def store(self) -> Store:
        return sqlite_store()

    def wakeup(self, url: str) -> Wakeup:
        return LocalWakeup()

    async def ensure_database(self, url: str) -> None:
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
