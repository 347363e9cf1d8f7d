"""The scheduler's state as the API's metrics read it (scheduler_api.state_metrics), on PostgreSQL and on SQLite:
the soonest slot of the schedulable jobs (JobStore.earliest_next_run), the runs waiting for an executor
(HistoryStore.backlog) and the live instances of each role (InstanceStore.live_by_role). Seeded random rows,
checked against the same rule computed in Python."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from scheduler_core.store import NewExecution, Store
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, ScheduledJobExecution, SchedulerInstance
from tests.contract.store.support import Maker, db_now
from tests.support.factories import interval_job, new_id

SEEDS = [1, 2, 3]
STATUSES = [ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING, ExecutionStatus.SUCCESS]


@pytest.mark.parametrize("seed", SEEDS)
async def test_earliest_next_run_is_the_soonest_slot_of_the_schedulable_jobs(
    store: Store, sessionmaker: Maker, seed: int
) -> None:
    rng = random.Random(seed)
    now = await db_now(sessionmaker)
    expected: list[datetime] = []
    async with sessionmaker.begin() as session:
        for _ in range(rng.randint(0, 12)):
            slot = None if rng.random() < 0.2 else now + timedelta(seconds=rng.uniform(-600, 600))
            enabled, active, paused = rng.random() < 0.8, rng.random() < 0.9, rng.random() < 0.15
            await interval_job(session, next_run_at=slot, is_enabled=enabled, is_active=active, is_paused=paused)
            if slot is not None and enabled and active and not paused:
                expected.append(slot)
    async with sessionmaker() as session:
        earliest = await store.jobs.earliest_next_run(session)
    assert earliest == (min(expected) if expected else None)


@pytest.mark.parametrize("seed", SEEDS)
async def test_backlog_counts_the_pending_runs_whose_slot_or_release_has_come(
    store: Store, sessionmaker: Maker, seed: int
) -> None:
    rng = random.Random(seed)
    now = await db_now(sessionmaker)
    due: list[datetime] = []
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        for number in range(rng.randint(0, 30)):
            execution_id = new_id()
            # Distinct slots: one row per slot and attempt.
            slot = now + timedelta(seconds=rng.uniform(-3600, 60), microseconds=number)
            status = rng.choice(STATUSES)
            await store.outbox.add(session, [NewExecution(execution_id, job.id, slot, status_id=status)])
            # A run released from waiting is due from its release, not from its slot (a retry's slot is old).
            release = now + timedelta(seconds=rng.uniform(-60, 60)) if rng.random() < 0.3 else None
            if release is not None:
                await session.execute(
                    update(ScheduledJobExecution)
                    .where(ScheduledJobExecution.execution_id == execution_id)
                    .values(release_at=release)
                )
            due_at = release or slot
            if status == ExecutionStatus.PENDING and due_at <= now:
                due.append(due_at)
    async with sessionmaker() as session:
        backlog = await store.history.backlog(session, now)
    assert backlog.runs == len(due)
    assert backlog.oldest_due_at == (min(due) if due else None)


@pytest.mark.parametrize("seed", SEEDS)
async def test_live_by_role_counts_instances_not_stopped_that_heartbeat_since_the_cutoff(
    store: Store, sessionmaker: Maker, seed: int
) -> None:
    rng = random.Random(seed)
    now = await db_now(sessionmaker)
    cutoff = now - timedelta(seconds=20)
    expected: dict[str, int] = {}
    async with sessionmaker.begin() as session:
        for _ in range(rng.randint(0, 15)):
            role = rng.choice(["api", "timekeeper", "executor", "embedded"])
            instance = await store.instances.register(
                session,
                {"id": new_id(), "instance_name": role, "host_name": "h", "process_id": 1, "mode": "standalone"}
                | {"role": role},
            )
            status = rng.choice([InstanceStatus.STARTING, InstanceStatus.RUNNING, InstanceStatus.STOPPED])
            heartbeat = now - timedelta(seconds=rng.choice([0, 5, 19.5, 20.5, 300]))
            await store.instances.set_status(session, instance.id, status)
            await session.execute(
                update(SchedulerInstance).where(SchedulerInstance.id == instance.id).values(last_heartbeat=heartbeat)
            )
            if status != InstanceStatus.STOPPED and heartbeat >= cutoff:
                expected[role] = expected.get(role, 0) + 1
    async with sessionmaker() as session:
        assert await store.instances.live_by_role(session, cutoff) == expected
