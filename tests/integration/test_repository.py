"""The repository suite: every method, run on PostgreSQL and on SQLite (the `engine` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.db.engine import create_sessionmaker
from scheduler_core.db.models import (
    ExecutionStatus,
    InstanceStatus,
    JobType,
    ScheduledJobExecution,
    ScheduledJobLock,
)
from scheduler_core.db.repository import (
    ClaimOutcome,
    ExecutionFilters,
    JobAdvance,
    JobFilters,
    JobNotFound,
    NewExecution,
    RunOutcome,
    SchedulerRepository,
    TaskFunctionSpec,
    db_now,
)
from tests.support.factories import interval_job, new_id, task_function

repo = SchedulerRepository()
Maker = async_sessionmaker[AsyncSession]


async def _now(sessionmaker: Maker) -> datetime:
    async with sessionmaker() as session:
        return await db_now(session)


# --- lookups ---------------------------------------------------------------------------------------


async def test_lookups_are_seeded_with_english_and_arabic_names(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        types = await repo.get_job_types(session)
        statuses = await repo.get_execution_statuses(session)
    assert [(t.id, t.name) for t in types] == [(1, "interval"), (2, "cron")]
    assert [(s.id, s.name) for s in statuses] == [
        (1, "pending"),
        (2, "running"),
        (3, "success"),
        (4, "failed"),
        (5, "missed"),
        (6, "skipped"),
    ]
    assert all(row.name_en and row.name_ar for row in types)
    assert all(row.name_en and row.name_ar for row in statuses)
    assert [s.id for s in statuses] == [int(s) for s in ExecutionStatus]


async def test_upsert_task_functions_inserts_then_refreshes(sessionmaker: Maker) -> None:
    schema = {"type": "object", "properties": {"url": {"type": "string"}}}
    async with sessionmaker.begin() as session:
        await repo.upsert_task_functions(
            session, [TaskFunctionSpec("http_request", "HTTP request", "طلب", parameters_schema=schema)]
        )
    async with sessionmaker.begin() as session:
        await repo.upsert_task_functions(session, [TaskFunctionSpec("http_request", "HTTP call", "طلب")])
    async with sessionmaker() as session:
        functions = await repo.get_task_functions(session)
    assert [(f.key, f.name_en, f.parameters_schema, f.is_active) for f in functions] == [
        ("http_request", "HTTP call", None, True)
    ]


# --- jobs ------------------------------------------------------------------------------------------


async def test_create_and_get_job_with_defaults(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, seconds=30)
    async with sessionmaker() as session:
        found = await repo.get_job_by_id(session, job.id)
    assert found is not None
    assert found.task_function.key == "noop"
    assert found.job_type.name == "interval"
    assert (found.priority, found.max_instances, found.misfire_grace_time, found.coalesce) == (0, 1, 60, True)
    assert (found.is_enabled, found.is_active, found.is_primary, found.is_paused) == (
        True,
        True,
        False,
        False,
    )
    assert found.timezone == "UTC"
    assert found.created_at.tzinfo is not None


async def test_get_jobs_pages_and_filters(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        for i in range(5):
            await interval_job(session, next_run_at=None, task_function_id=task_id, is_enabled=i % 2 == 0)
        await interval_job(
            session,
            next_run_at=None,
            task_function_id=task_id,
            job_type_id=JobType.CRON,
            interval_seconds=None,
            cron_expression="* * * * *",
        )
    async with sessionmaker() as session:
        page1, total = await repo.get_jobs(session, JobFilters(), page=1, per_page=4)
        page2, _ = await repo.get_jobs(session, JobFilters(), page=2, per_page=4)
        enabled, enabled_total = await repo.get_jobs(session, JobFilters(is_enabled=True), 1, 20)
        cron, cron_total = await repo.get_jobs(session, JobFilters(job_type_id=JobType.CRON), 1, 20)
    assert total == 6
    assert len(page1) == 4
    assert len(page2) == 2
    assert {j.id for j in page1}.isdisjoint({j.id for j in page2})
    assert enabled_total == 4
    assert all(j.is_enabled for j in enabled)
    assert cron_total == 1
    assert cron[0].cron_expression == "* * * * *"


async def test_update_and_soft_delete(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=datetime(2030, 1, 1, tzinfo=UTC))
    async with sessionmaker.begin() as session:
        updated = await repo.update_job(session, job.id, {"priority": 7, "updated_by_id": "u-1"})
    assert updated.priority == 7
    assert updated.updated_at is not None
    async with sessionmaker.begin() as session:
        deleted = await repo.soft_delete_job(session, job.id)
    assert (deleted.is_active, deleted.next_run_at) == (False, None)
    async with sessionmaker() as session:
        assert await repo.get_job_by_id(session, job.id) is None
        assert await repo.get_job_by_id(session, job.id, include_deleted=True) is not None
        _, total = await repo.get_jobs(session, JobFilters(), 1, 20)
    assert total == 0
    async with sessionmaker.begin() as session:
        with pytest.raises(JobNotFound):
            await repo.update_job(session, job.id, {"priority": 1})


async def test_claim_due_jobs_only_takes_schedulable_due_jobs(sessionmaker: Maker) -> None:
    now = await _now(sessionmaker)
    past, future = now - timedelta(seconds=5), now + timedelta(hours=1)
    async with sessionmaker.begin() as session:
        due = await interval_job(session, next_run_at=past)
        await interval_job(session, next_run_at=future)
        await interval_job(session, next_run_at=past, is_enabled=False)
        await interval_job(session, next_run_at=past, is_paused=True)
        await interval_job(session, next_run_at=past, is_active=False)
        await interval_job(session, next_run_at=None)
    async with sessionmaker.begin() as session:
        claimed = await repo.claim_due_jobs(session, now, limit=10)
        earliest = await repo.earliest_next_run_at(session)
    assert [j.id for j in claimed] == [due.id]
    assert claimed[0].next_run_at == past
    assert earliest == past


async def test_advance_jobs_in_bulk(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        a = await interval_job(session, next_run_at=None)
        b = await interval_job(session, next_run_at=None)
    t1, t2 = datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    fired = datetime(2030, 12, 31, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        await repo.advance_jobs(session, [JobAdvance(a.id, t1, fired), JobAdvance(b.id, t2)])
    async with sessionmaker.begin() as session:
        await repo.advance_jobs(session, [JobAdvance(a.id, t2)])  # no run fired: last_run_at stays
    async with sessionmaker() as session:
        found_a, found_b = await repo.get_job_by_id(session, a.id), await repo.get_job_by_id(session, b.id)
    assert found_a is not None
    assert found_b is not None
    assert (found_a.next_run_at, found_b.next_run_at) == (t2, t2)  # microseconds survive both backends
    assert (found_a.last_run_at, found_b.last_run_at) == (fired, None)


async def test_count_jobs(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        await interval_job(session, next_run_at=None)
        await interval_job(session, next_run_at=None, is_enabled=False)
        await interval_job(session, next_run_at=None, is_active=False)
    async with sessionmaker() as session:
        assert await repo.count_jobs(session) == (2, 1)


# --- executions ------------------------------------------------------------------------------------


async def test_create_executions_is_idempotent_per_slot(sessionmaker: Maker) -> None:
    slot = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        first = await repo.create_executions(session, [NewExecution(new_id(), job.id, slot)])
    async with sessionmaker.begin() as session:
        again = await repo.create_executions(
            session,
            [
                NewExecution(new_id(), job.id, slot),
                NewExecution(new_id(), job.id, slot + timedelta(seconds=1)),
            ],
        )
    assert len(first) == 1
    assert len(again) == 1  # the existing slot was skipped, the new one written
    async with sessionmaker() as session:
        rows, total = await repo.get_executions(session, job.id, ExecutionFilters(), 1, 20)
    assert total == 2
    assert [r.scheduled_at for r in rows] == [slot + timedelta(seconds=1), slot]  # newest first
    assert all(r.status.name == "pending" and r.executor_id == "" for r in rows)


async def test_unique_slot_constraint_rejects_a_second_row(sessionmaker: Maker) -> None:
    slot = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        await repo.create_execution(
            session, {"execution_id": new_id(), "job_id": job.id, "scheduled_at": slot, "status_id": 1}
        )
    with pytest.raises(IntegrityError):
        async with sessionmaker.begin() as session:
            await repo.create_execution(
                session, {"execution_id": new_id(), "job_id": job.id, "scheduled_at": slot, "status_id": 1}
            )


async def test_history_filters_by_status_and_pages(sessionmaker: Maker) -> None:
    base = datetime(2030, 5, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        other = await interval_job(session, next_run_at=None)
        await repo.create_executions(
            session,
            [
                NewExecution(new_id(), job.id, base + timedelta(seconds=i), status_id=status)
                for i, status in enumerate([1, 5, 5, 1, 5])
            ]
            + [NewExecution(new_id(), other.id, base, status_id=5)],
        )
    async with sessionmaker() as session:
        missed, missed_total = await repo.get_executions(session, job.id, ExecutionFilters(status_id=5), 1, 2)
        everything, all_total = await repo.get_executions(session, None, ExecutionFilters(), 1, 100)
    assert missed_total == 3
    assert len(missed) == 2
    assert all(r.status_id == 5 for r in missed)
    assert all_total == 6
    assert len(everything) == 6


async def test_update_execution(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        execution_id = new_id()
        await repo.create_executions(session, [NewExecution(execution_id, job.id, datetime(2030, 1, 1, tzinfo=UTC))])
    async with sessionmaker.begin() as session:
        updated = await repo.update_execution(session, execution_id, {"result_summary": "done"})
    assert updated.result_summary == "done"


async def test_outbox_lists_unpublished_until_marked(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, priority=4)
        ids = await repo.create_executions(
            session,
            [NewExecution(new_id(), job.id, datetime(2030, 1, 1, 0, 0, i, tzinfo=UTC)) for i in range(3)],
        )
    later = await _now(sessionmaker) + timedelta(seconds=10)
    async with sessionmaker.begin() as session:
        before = await repo.unpublished_runs(session, created_before=later, limit=10)
        await repo.mark_published(session, ids[:2], later)
    async with sessionmaker.begin() as session:
        after = await repo.unpublished_runs(session, created_before=later, limit=10)
        too_young = await repo.unpublished_runs(session, created_before=later - timedelta(minutes=10), limit=10)
    assert sorted(r[0] for r in before) == sorted(ids)
    assert all(r[3] == 4 for r in before)
    assert [r[0] for r in after] == [ids[2]]
    assert too_young == []


# --- claim / finish --------------------------------------------------------------------------------


async def _pending_run(sessionmaker: Maker, *, lateness_s: float = 0, **job_fields: Any) -> tuple[int, str]:
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, **job_fields)
        execution_id = new_id()
        await repo.create_executions(session, [NewExecution(execution_id, job.id, now - timedelta(seconds=lateness_s))])
    return job.id, execution_id


async def _claim(sessionmaker: Maker, execution_id: str, instance: str = "exec-1", ttl: float = 60.0):  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as session:
        return await repo.claim_execution(session, execution_id, instance_id=instance, host_name="host-a", lock_ttl=ttl)


async def test_claim_runs_once_and_takes_a_lock(sessionmaker: Maker) -> None:
    job_id, execution_id = await _pending_run(sessionmaker, parameters={"x": 1}, timeout_seconds=9)
    first = await _claim(sessionmaker, execution_id)
    second = await _claim(sessionmaker, execution_id, instance="exec-2")
    assert first.outcome is ClaimOutcome.CLAIMED
    assert first.run is not None
    assert (first.run.task_key, first.run.parameters, first.run.timeout_seconds) == ("noop", {"x": 1}, 9)
    assert second.outcome is ClaimOutcome.ALREADY_HANDLED
    async with sessionmaker() as session:
        lock = await repo.check_lock(session, job_id)
        execution = await repo.get_execution(session, execution_id)
    assert lock is not None
    assert (lock.execution_id, lock.locked_by) == (execution_id, "exec-1")
    assert lock.expires_at > lock.locked_at
    assert execution is not None
    assert (execution.status_id, execution.executor_id, execution.host_name) == (2, "exec-1", "host-a")
    assert execution.started_at is not None


async def test_claim_unknown_execution_is_already_handled(sessionmaker: Maker) -> None:
    assert (await _claim(sessionmaker, new_id())).outcome is ClaimOutcome.ALREADY_HANDLED


async def test_claim_past_grace_records_missed_with_reason(sessionmaker: Maker) -> None:
    _, execution_id = await _pending_run(sessionmaker, lateness_s=90, misfire_grace_time=60)
    result = await _claim(sessionmaker, execution_id)
    assert result.outcome is ClaimOutcome.MISSED
    async with sessionmaker() as session:
        execution = await repo.get_execution(session, execution_id)
    assert execution is not None
    assert execution.status_id == ExecutionStatus.MISSED
    assert execution.error_message is not None
    assert "misfire grace time of 60 s" in execution.error_message
    assert execution.completed_at is not None


async def test_claim_within_grace_runs(sessionmaker: Maker) -> None:
    _, execution_id = await _pending_run(sessionmaker, lateness_s=30, misfire_grace_time=60)
    assert (await _claim(sessionmaker, execution_id)).outcome is ClaimOutcome.CLAIMED


async def test_manual_trigger_ignores_grace(sessionmaker: Maker) -> None:
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, misfire_grace_time=0)
        execution_id = new_id()
        await repo.create_executions(
            session, [NewExecution(execution_id, job.id, now - timedelta(seconds=30), trigger="manual")]
        )
    assert (await _claim(sessionmaker, execution_id)).outcome is ClaimOutcome.CLAIMED


async def test_claim_beyond_max_instances_is_skipped_with_reason(sessionmaker: Maker) -> None:
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=2)
        ids = [new_id() for _ in range(3)]
        await repo.create_executions(
            session, [NewExecution(eid, job.id, now - timedelta(milliseconds=i)) for i, eid in enumerate(ids)]
        )
    outcomes = [(await _claim(sessionmaker, eid)).outcome for eid in ids]
    assert outcomes == [ClaimOutcome.CLAIMED, ClaimOutcome.CLAIMED, ClaimOutcome.SKIPPED]
    async with sessionmaker() as session:
        skipped = await repo.get_execution(session, ids[2])
    assert skipped is not None
    assert skipped.status_id == ExecutionStatus.SKIPPED
    assert skipped.error_message is not None
    assert "max_instances=2" in skipped.error_message


async def test_expired_locks_do_not_count_toward_max_instances(sessionmaker: Maker) -> None:
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=1)
        first, second = new_id(), new_id()
        await repo.create_executions(
            session,
            [NewExecution(first, job.id, now), NewExecution(second, job.id, now - timedelta(seconds=1))],
        )
    assert (await _claim(sessionmaker, first, ttl=0.001)).outcome is ClaimOutcome.CLAIMED
    await asyncio.sleep(0.01)
    assert (await _claim(sessionmaker, second)).outcome is ClaimOutcome.CLAIMED


async def test_finish_is_fenced_on_owner_and_status(sessionmaker: Maker) -> None:
    job_id, execution_id = await _pending_run(sessionmaker)
    await _claim(sessionmaker, execution_id, instance="exec-1")
    async with sessionmaker.begin() as session:
        stale = await repo.finish_execution(
            session, execution_id, instance_id="exec-2", status=ExecutionStatus.SUCCESS, duration_ms=5
        )
    async with sessionmaker.begin() as session:
        owner = await repo.finish_execution(
            session,
            execution_id,
            instance_id="exec-1",
            status=ExecutionStatus.SUCCESS,
            duration_ms=12,
            result_summary="ok",
        )
    async with sessionmaker.begin() as session:
        twice = await repo.finish_execution(
            session, execution_id, instance_id="exec-1", status=ExecutionStatus.FAILED, duration_ms=1
        )
    assert (stale, owner, twice) == (False, True, False)
    async with sessionmaker() as session:
        execution = await repo.get_execution(session, execution_id)
        job = await repo.get_job_by_id(session, job_id)
        lock = await repo.check_lock(session, job_id)
    assert execution is not None
    assert (execution.status_id, execution.duration_ms, execution.result_summary) == (3, 12, "ok")
    assert execution.completed_at is not None
    assert job is not None
    assert lock is None


async def test_renew_locks_extends_only_held_locks(sessionmaker: Maker) -> None:
    job_id, execution_id = await _pending_run(sessionmaker)
    await _claim(sessionmaker, execution_id, instance="exec-1", ttl=1)
    async with sessionmaker() as session:
        before = await repo.check_lock(session, job_id)
    async with sessionmaker.begin() as session:
        held = await repo.renew_locks(session, "exec-1", ttl=120)
        none_held = await repo.renew_locks(session, "exec-9", ttl=120)
    async with sessionmaker() as session:
        after = await repo.check_lock(session, job_id)
    assert (held, none_held) == (1, 0)
    assert before is not None
    assert after is not None
    assert after.expires_at - before.expires_at > timedelta(seconds=100)


async def test_acquire_check_release_lock(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
    execution_id = new_id()
    async with sessionmaker.begin() as session:
        assert await repo.acquire_lock(session, job.id, execution_id, "inst-1") is True
        assert await repo.acquire_lock(session, job.id, execution_id, "inst-2") is False
        lock = await repo.check_lock(session, job.id)
        assert lock is not None
        assert lock.locked_by == "inst-1"
        # The reference's default lease is one hour.
        assert timedelta(minutes=59) < lock.expires_at - lock.locked_at <= timedelta(hours=1)
        await repo.release_lock(session, job.id, execution_id)
        assert await repo.check_lock(session, job.id) is None


# --- instances and the sweep -----------------------------------------------------------------------


async def test_instances_register_heartbeat_and_die(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        instance = await repo.register_instance(
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
    async with sessionmaker.begin() as session:
        assert await repo.update_heartbeat(session, instance.id, InstanceStatus.RUNNING) is True
        active = await repo.get_active_instances(session)
    assert [(i.id, i.status) for i in active] == [(instance.id, "running")]
    cutoff = await _now(sessionmaker) + timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        stopped = await repo.mark_silent_instances_stopped(session, cutoff)
    assert stopped == [instance.id]
    async with sessionmaker.begin() as session:
        # A process presumed dead must not silently come back.
        assert await repo.update_heartbeat(session, instance.id) is False
        assert await repo.get_active_instances(session) == []
        found = await repo.get_instance(session, instance.id)
    assert found is not None
    assert found.stopped_at is not None


async def test_sweep_fails_runs_of_stopped_instances_and_expired_locks(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        dead = await repo.register_instance(
            session,
            {"id": new_id(), "instance_name": "d", "host_name": "h", "process_id": 1, "mode": "standalone"},
        )
        alive = await repo.register_instance(
            session,
            {"id": new_id(), "instance_name": "a", "host_name": "h", "process_id": 2, "mode": "standalone"},
        )
    _, of_dead = await _pending_run(sessionmaker)
    _, expired = await _pending_run(sessionmaker)
    _, healthy = await _pending_run(sessionmaker)
    await _claim(sessionmaker, of_dead, instance=dead.id)
    await _claim(sessionmaker, expired, instance=alive.id, ttl=0.001)
    await _claim(sessionmaker, healthy, instance=alive.id)
    await asyncio.sleep(0.01)
    async with sessionmaker.begin() as session:
        await repo.set_instance_status(session, dead.id, InstanceStatus.STOPPED)
        orphans = await repo.fail_orphaned_runs(session, await db_now(session))
    reasons = {o.execution_id: o.reason for o in orphans}
    assert set(reasons) == {of_dead, expired}
    assert "stopped heartbeating" in reasons[of_dead]
    assert "lock expired" in reasons[expired]
    async with sessionmaker() as session:
        statuses = {
            eid: (await repo.get_execution(session, eid)).status_id  # type: ignore[union-attr]
            for eid in (of_dead, expired, healthy)
        }
        locks = (await session.execute(select(ScheduledJobLock.execution_id))).scalars().all()
    assert statuses == {of_dead: 4, expired: 4, healthy: 2}
    assert locks == [healthy]


async def test_fail_runs_of_instance_on_shutdown(sessionmaker: Maker) -> None:
    _, execution_id = await _pending_run(sessionmaker)
    await _claim(sessionmaker, execution_id, instance="exec-1")
    async with sessionmaker.begin() as session:
        failed = await repo.fail_runs_of_instance(session, "exec-1", [execution_id], "executor shut down")
    assert failed == 1
    async with sessionmaker() as session:
        execution = await repo.get_execution(session, execution_id)
    assert execution is not None
    assert (execution.status_id, execution.error_message) == (4, "executor shut down")


# --- status and retention --------------------------------------------------------------------------


async def test_running_counts_and_retention_never_deletes_open_runs(sessionmaker: Maker) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        rows = [
            NewExecution(new_id(), job.id, old + timedelta(seconds=i), status_id=status)
            for i, status in enumerate([1, 2, 3, 4, 5, 6, 3, 3])
        ]
        await repo.create_executions(session, rows)
        # created_at defaults to now; age them as if written in 2020.
        await session.execute(
            ScheduledJobExecution.__table__.update().values(created_at=old)  # type: ignore[attr-defined]
        )
    async with sessionmaker() as session:
        assert await repo.count_running(session) == 1
        assert [e.status_id for e in await repo.running_executions(session)] == [2]
    deleted = []
    cutoff = await _now(sessionmaker) - timedelta(days=30)
    while True:
        async with sessionmaker.begin() as session:
            n = await repo.delete_executions_before(session, cutoff, batch_size=2)
        if n == 0:
            break
        deleted.append(n)
    assert deleted == [2, 2, 2]
    async with sessionmaker() as session:
        left, total = await repo.get_executions(session, job.id, ExecutionFilters(), 1, 20)
    assert total == 2
    assert sorted(e.status_id for e in left) == [1, 2]


# --- PostgreSQL concurrency ------------------------------------------------------------------------


async def test_concurrent_timekeepers_claim_disjoint_batches(pg_engine: AsyncEngine) -> None:
    maker = create_sessionmaker(pg_engine)
    async with maker.begin() as session:
        now = await db_now(session)
        task_id = await task_function(session)
        for _ in range(20):
            await interval_job(session, next_run_at=now - timedelta(seconds=1), task_function_id=task_id)
    first_in, release = asyncio.Event(), asyncio.Event()

    async def claim(hold: bool) -> list[int]:
        async with maker.begin() as session:
            jobs = await repo.claim_due_jobs(session, now, limit=12)
            if hold:
                first_in.set()
                await release.wait()
            return [j.id for j in jobs]

    holder = asyncio.create_task(claim(hold=True))
    await first_in.wait()
    second = await asyncio.wait_for(claim(hold=False), timeout=10)  # SKIP LOCKED: no waiting
    release.set()
    first = await holder
    assert len(first) == 12
    assert len(second) == 8
    assert set(first).isdisjoint(second)


async def test_concurrent_claims_respect_max_instances(pg_engine: AsyncEngine) -> None:
    maker = create_sessionmaker(pg_engine)
    async with maker.begin() as session:
        now = await db_now(session)
        job = await interval_job(session, next_run_at=None, max_instances=3)
        ids = [new_id() for _ in range(12)]
        await repo.create_executions(
            session, [NewExecution(eid, job.id, now - timedelta(milliseconds=i)) for i, eid in enumerate(ids)]
        )

    async def claim(execution_id: str, instance: str) -> ClaimOutcome:
        async with maker.begin() as session:
            result = await repo.claim_execution(session, execution_id, instance_id=instance, host_name="h", lock_ttl=60)
            return result.outcome

    outcomes = await asyncio.gather(*(claim(eid, f"exec-{i % 4}") for i, eid in enumerate(ids)))
    assert outcomes.count(ClaimOutcome.CLAIMED) == 3
    assert outcomes.count(ClaimOutcome.SKIPPED) == 9


async def test_batch_claim_and_finish(sessionmaker: Maker) -> None:
    """Claims and outcomes in batches: per-job max_instances across the batch, duplicates and unknown ids,
    late runs missed, and outcomes fenced per run."""
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        single = await interval_job(session, next_run_at=None, max_instances=1, task_function_id=task_id)
        double = await interval_job(session, next_run_at=None, max_instances=2, task_function_id=task_id)
        late = await interval_job(session, next_run_at=None, misfire_grace_time=5, task_function_id=task_id)
        ids = {name: new_id() for name in ("s1", "s2", "d1", "d2", "d3", "late")}
        await repo.create_executions(
            session,
            [
                NewExecution(ids["s1"], single.id, now - timedelta(seconds=2)),
                NewExecution(ids["s2"], single.id, now - timedelta(seconds=1)),
                NewExecution(ids["d1"], double.id, now - timedelta(seconds=3)),
                NewExecution(ids["d2"], double.id, now - timedelta(seconds=2)),
                NewExecution(ids["d3"], double.id, now - timedelta(seconds=1)),
                NewExecution(ids["late"], late.id, now - timedelta(seconds=30)),
            ],
        )
    unknown = new_id()
    order = [ids["d3"], ids["s2"], unknown, ids["late"], ids["s1"], ids["d1"], ids["d2"], ids["s1"]]
    async with sessionmaker.begin() as session:
        results = await repo.claim_executions(session, order, instance_id="exec-1", host_name="h", lock_ttl=60)
    outcome = {eid: r.outcome for eid, r in zip(order[:-1], results[:-1], strict=True)}
    # Earlier slots of a job win its max_instances places, whatever the order of the batch.
    assert outcome == {
        ids["s1"]: ClaimOutcome.CLAIMED,
        ids["s2"]: ClaimOutcome.SKIPPED,
        ids["d1"]: ClaimOutcome.CLAIMED,
        ids["d2"]: ClaimOutcome.CLAIMED,
        ids["d3"]: ClaimOutcome.SKIPPED,
        ids["late"]: ClaimOutcome.MISSED,
        unknown: ClaimOutcome.ALREADY_HANDLED,
    }
    # A message delivered twice at once: only its first occurrence is claimed.
    assert results[4].outcome is ClaimOutcome.CLAIMED
    assert results[7].outcome is ClaimOutcome.ALREADY_HANDLED
    async with sessionmaker.begin() as session:
        again = await repo.claim_executions(session, [ids["s1"]], instance_id="exec-2", host_name="h", lock_ttl=60)
    assert again[0].outcome is ClaimOutcome.ALREADY_HANDLED

    outcomes = [
        RunOutcome(ids["s1"], ExecutionStatus.SUCCESS, 5, result_summary="ok"),
        RunOutcome(ids["d1"], ExecutionStatus.FAILED, 7, error_message="boom", error_traceback="Traceback"),
        RunOutcome(ids["d2"], ExecutionStatus.SUCCESS, 9),
        RunOutcome(ids["s2"], ExecutionStatus.SUCCESS, 1),  # skipped, not running: fenced out
    ]
    async with sessionmaker.begin() as session:
        stale = await repo.finish_executions(session, outcomes[:2], instance_id="exec-2")
        recorded = await repo.finish_executions(session, outcomes, instance_id="exec-1")
    assert stale == set()
    assert recorded == {ids["s1"], ids["d1"], ids["d2"]}
    async with sessionmaker() as session:
        rows = {eid: await repo.get_execution(session, eid) for eid in ids.values()}
        locks = (await session.execute(select(ScheduledJobLock.execution_id))).scalars().all()
    final = {eid: (row.status_id, row.duration_ms, row.error_message) for eid, row in rows.items() if row}
    assert final[ids["s1"]] == (ExecutionStatus.SUCCESS, 5, None)
    assert final[ids["d1"]] == (ExecutionStatus.FAILED, 7, "boom")
    assert final[ids["d2"]] == (ExecutionStatus.SUCCESS, 9, None)
    assert final[ids["s2"]][0] == ExecutionStatus.SKIPPED
    assert locks == []


async def test_a_claimer_declared_dead_claims_nothing(sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        instance = await repo.register_instance(
            session, {"id": new_id(), "instance_name": "e", "host_name": "h", "process_id": 1, "mode": "standalone"}
        )
    _, execution_id = await _pending_run(sessionmaker)
    async with sessionmaker.begin() as session:
        await repo.set_instance_status(session, instance.id, InstanceStatus.STOPPED)
    refused = await _claim(sessionmaker, execution_id, instance=instance.id)
    assert refused.outcome is ClaimOutcome.REFUSED
    async with sessionmaker() as session:
        execution = await repo.get_execution(session, execution_id)
    assert execution is not None
    assert execution.status_id == ExecutionStatus.PENDING  # left for a live executor


async def test_create_executions_takes_more_rows_than_a_statement_has_parameters(sessionmaker: Maker) -> None:
    """One timekeeper pass can write thousands of slots (500 jobs x many slots with coalesce off): more than
    asyncpg's 32,767 bound parameters would allow in one INSERT (9 per row)."""
    base = datetime(2030, 1, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        rows = [NewExecution(new_id(), job.id, base + timedelta(seconds=i)) for i in range(4000)]
        written = await repo.create_executions(session, rows)
    assert len(written) == 4000
