"""Scheduler instances' contract (scheduler_core.store.instances, InstanceStore), on PostgreSQL and on SQLite:
registered by the database clock, kept alive by heartbeats, listed while not stopped, and never silently back
once the sweep declared them stopped."""

from __future__ import annotations

from datetime import timedelta

from scheduler_core.store import Store
from scheduler_core.store.models import InstanceStatus
from tests.contract.store.support import Maker, db_now
from tests.support.factories import new_id


async def test_instances_register_heartbeat_and_once_declared_stopped_stay_stopped(
    store: Store, sessionmaker: Maker
) -> None:
    before = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        instance = await store.instances.register(
            session,
            {
                "id": new_id(),
                "instance_name": "executor@a",
                "host_name": "a",
                "process_id": 42,
                "mode": "standalone",
                "role": "executor",
            },
        )
    assert instance.status == InstanceStatus.STARTING
    assert before <= instance.started_at == instance.last_heartbeat
    async with sessionmaker.begin() as session:
        assert await store.instances.heartbeat(session, instance.id, InstanceStatus.RUNNING) is True
        active = await store.instances.active(session)
    assert [(i.id, i.status) for i in active] == [(instance.id, "running")]
    cutoff = await db_now(sessionmaker) + timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        stopped = await store.sweeps.stop_instances(
            session, [instance.id], silent_since=cutoff, now=await store.clock.now(session)
        )
    assert stopped == [instance.id]
    async with sessionmaker.begin() as session:
        # A process presumed dead must not silently come back.
        assert await store.instances.heartbeat(session, instance.id) is False
        assert await store.instances.active(session) == []
        found = await store.instances.get(session, instance.id)
    assert found is not None
    assert found.stopped_at is not None
    assert found.status == InstanceStatus.STOPPED


async def test_set_status_stamps_stopped_at_only_when_stopping_and_active_lists_the_oldest_first(
    store: Store, sessionmaker: Maker
) -> None:
    ids = [new_id() for _ in range(3)]
    for number, instance_id in enumerate(ids):
        async with sessionmaker.begin() as session:
            await store.instances.register(
                session,
                {"id": instance_id, "instance_name": f"i{number}", "host_name": "h", "process_id": number, "mode": "x"},
            )
    async with sessionmaker.begin() as session:
        await store.instances.set_status(session, ids[0], InstanceStatus.RUNNING)
        await store.instances.set_status(session, ids[1], InstanceStatus.STOPPED)
    async with sessionmaker() as session:
        active = await store.instances.active(session)
        running, stopped = await store.instances.get(session, ids[0]), await store.instances.get(session, ids[1])
        assert await store.instances.get(session, new_id()) is None
    assert [i.id for i in active] == [ids[0], ids[2]]
    assert running is not None
    assert (running.status, running.stopped_at) == (InstanceStatus.RUNNING, None)
    assert stopped is not None
    assert stopped.status == InstanceStatus.STOPPED
    assert stopped.stopped_at is not None
