"""The PostgreSQL backend (standalone services): one module per noun."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
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
from scheduler_core.store.postgres.admin import ensure_database
from scheduler_core.store.postgres.claims import PostgresClaims
from scheduler_core.store.postgres.clock import PostgresClock
from scheduler_core.store.postgres.engine import create_postgres_engine
from scheduler_core.store.postgres.history import PostgresHistoryStore
from scheduler_core.store.postgres.jobs import PostgresJobStore
from scheduler_core.store.postgres.listener import PostgresWakeup
from scheduler_core.store.postgres.maintenance import PostgresMaintenance
from scheduler_core.store.postgres.outbox import PostgresOutbox
from scheduler_core.store.postgres.outcomes import PostgresOutcomes
from scheduler_core.store.postgres.partitions import PostgresPartitions
from scheduler_core.store.postgres.passes import PostgresPasses
from scheduler_core.wakeup import Wakeup


def postgres_store() -> Store:
    clock = PostgresClock()
    events = EventOutbox(clock)
    audit = PortableAuditStore(clock)
    followups = Followups(events, audit)
    partitions = PostgresPartitions()
    return Store(
        clock=clock,
        jobs=PostgresJobStore(clock),
        passes=PostgresPasses(events),
        outbox=PostgresOutbox(),
        claims=PostgresClaims(events),
        outcomes=PostgresOutcomes(clock, followups),
        sweeps=PortableSweeps(followups, events),
        instances=PortableInstanceStore(clock),
        history=PostgresHistoryStore(partitions),
        lookups=PortableLookupStore(insert),
        audit=audit,
        maintenance=PostgresMaintenance(),
        partitions=partitions,
        channels=PortableChannelStore(clock),
        deliveries=PortableDeliveryStore(clock, events),
    )


class PostgresBackend(Backend):
    name = "postgresql"

    def create_engine(self, url: str, *, pool_size: int, pre_ping: bool) -> AsyncEngine:
        return create_postgres_engine(url, pool_size=pool_size, pre_ping=pre_ping)

    def store(self) -> Store:
        return postgres_store()

    def wakeup(self, url: str) -> Wakeup:
        return PostgresWakeup(url)

    async def ensure_database(self, url: str) -> None:
        await ensure_database(url)
