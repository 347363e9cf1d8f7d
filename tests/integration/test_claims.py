"""Claims and outcomes in batches (RunRepository.claim_executions / finish_executions), against the real
databases: every outcome in one batch, the refusal of a claimer declared dead, the release of locks, and on
PostgreSQL the orderings that row locks guarantee and the number of statements a batch costs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.db.engine import create_sessionmaker
from scheduler_core.db.models import ExecutionStatus, InstanceStatus, ScheduledJobExecution, ScheduledJobLock
from scheduler_core.db.repository import (
    ClaimOutcome,
    ClaimResult,
    NewExecution,
    RunOutcome,
    SchedulerRepository,
    db_now,
    runs,
)
from tests.support.factories import interval_job, new_id, task_function

repo = SchedulerRepository()
Maker = async_sessionmaker[AsyncSession]


async def _now(sessionmaker: Maker) -> datetime:
    async with sessionmaker() as session:
        return await db_now(session)


async def _claim(sessionmaker: Maker, ids: list[str], instance: str = "exec-1", ttl: float = 60.0) -> list[ClaimResult]:
    async with sessionmaker.begin() as session:
        return await repo.claim_executions(session, ids, instance_id=instance, host_name="host-a", lock_ttl=ttl)


async def _executions(sessionmaker: Maker, ids: list[str]) -> dict[str, ScheduledJobExecution]:
    async with sessionmaker() as session:
        query = select(ScheduledJobExecution).where(ScheduledJobExecution.execution_id.in_(ids))
        return {row.execution_id: row for row in (await session.execute(query)).scalars()}


async def _locks(sessionmaker: Maker) -> dict[str, ScheduledJobLock]:
    async with sessionmaker() as session:
        return {lock.execution_id: lock for lock in (await session.execute(select(ScheduledJobLock))).scalars()}


async def _register(sessionmaker: Maker, status: str = InstanceStatus.RUNNING) -> str:
    async with sessionmaker.begin() as session:
        instance = await repo.register_instance(
            session, {"id": new_id(), "instance_name": "e", "host_name": "h", "process_id": 1, "mode": "standalone"}
        )
        await repo.set_instance_status(session, instance.id, status)
    return instance.id


async def test_a_mixed_batch_answers_every_id_in_input_order(sessionmaker: Maker) -> None:
    """Claimed, skipped (live locks of other executors count, earlier slots first), missed, manual runs
    exempt from the grace time, runs not pending, unknown ids and repeated ids, all in one batch."""
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        capped = await interval_job(
            session, next_run_at=None, max_instances=2, task_function_id=task_id, parameters={"n": 1}, timeout_seconds=7
        )
        full = await interval_job(session, next_run_at=None, max_instances=1, task_function_id=task_id)
        late = await interval_job(session, next_run_at=None, misfire_grace_time=5, task_function_id=task_id)
        manual = await interval_job(session, next_run_at=None, misfire_grace_time=0, task_function_id=task_id)
        ids = {name: new_id() for name in ("held", "c1", "c2", "c3", "f1", "late", "manual", "done")}
        await repo.create_executions(
            session,
            [
                NewExecution(ids["held"], capped.id, now - timedelta(seconds=9)),
                NewExecution(ids["c1"], capped.id, now - timedelta(seconds=3)),
                NewExecution(ids["c2"], capped.id, now - timedelta(seconds=2)),
                NewExecution(ids["c3"], capped.id, now - timedelta(seconds=1)),
                NewExecution(ids["f1"], full.id, now),
                NewExecution(ids["late"], late.id, now - timedelta(seconds=30)),
                NewExecution(ids["manual"], manual.id, now - timedelta(seconds=30), trigger="manual"),
                NewExecution(ids["done"], full.id, now - timedelta(seconds=60), status_id=ExecutionStatus.SUCCESS),
            ],
        )
        # The job `full` has two live locks (more than its max_instances), taken with the reference's primitive.
        for _ in range(2):
            assert await repo.acquire_lock(session, full.id, new_id(), "exec-other", ttl=600)
    # Another executor already runs one run of `capped`: one place is left.
    (held,) = await _claim(sessionmaker, [ids["held"]], instance="exec-other")
    assert held.outcome is ClaimOutcome.CLAIMED

    unknown = new_id()
    batch = [
        ids["c3"],
        unknown,
        ids["late"],
        ids["c1"],
        ids["manual"],
        ids["f1"],
        ids["c2"],
        ids["held"],
        ids["c1"],
        ids["done"],
        ids["late"],
    ]
    results = await _claim(sessionmaker, batch, ttl=45)

    assert [r.execution_id for r in results] == batch
    assert [r.outcome for r in results] == [
        ClaimOutcome.SKIPPED,  # c3: a later slot than c1, which took the last place
        ClaimOutcome.ALREADY_HANDLED,  # unknown
        ClaimOutcome.MISSED,  # late
        ClaimOutcome.CLAIMED,  # c1
        ClaimOutcome.CLAIMED,  # manual: no grace time applies
        ClaimOutcome.SKIPPED,  # f1
        ClaimOutcome.SKIPPED,  # c2
        ClaimOutcome.ALREADY_HANDLED,  # held: running under exec-other
        ClaimOutcome.ALREADY_HANDLED,  # c1 again
        ClaimOutcome.ALREADY_HANDLED,  # done
        ClaimOutcome.ALREADY_HANDLED,  # late again
    ]
    by_id = {r.execution_id: r for r in reversed(results)}  # first occurrences
    assert by_id[ids["c2"]].reason == "skipped: 2 run(s) of the job already running (max_instances=2)"
    assert by_id[ids["c3"]].reason == "skipped: 2 run(s) of the job already running (max_instances=2)"
    assert by_id[ids["f1"]].reason == "skipped: 1 run(s) of the job already running (max_instances=1)"
    late_reason = by_id[ids["late"]].reason
    assert late_reason is not None
    assert re.fullmatch(
        r"missed: picked up 3\d\.\d s after its scheduled time, past the job's misfire grace time of 5 s", late_reason
    )
    assert all(r.run is None for r in results if r.outcome is not ClaimOutcome.CLAIMED)
    assert all(r.reason is None for r in results if r.outcome not in (ClaimOutcome.SKIPPED, ClaimOutcome.MISSED))

    c1 = by_id[ids["c1"]].run
    assert c1 is not None
    assert (c1.job_id, c1.scheduled_at, c1.task_key, c1.parameters, c1.timeout_seconds) == (
        capped.id,
        now - timedelta(seconds=3),
        "noop",
        {"n": 1},
        7,
    )

    rows = await _executions(sessionmaker, list(ids.values()))
    locks = await _locks(sessionmaker)
    for name in ("c1", "manual"):
        row, lock, run = rows[ids[name]], locks[ids[name]], by_id[ids[name]].run
        assert run is not None
        assert (row.status_id, row.executor_id, row.host_name) == (ExecutionStatus.RUNNING, "exec-1", "host-a")
        assert row.started_at == run.started_at == lock.locked_at
        assert row.completed_at is None
        assert (lock.locked_by, lock.job_id) == ("exec-1", run.job_id)
        assert lock.expires_at - lock.locked_at == timedelta(seconds=45)
    for name, status in (("c2", 6), ("c3", 6), ("f1", 6), ("late", 5)):
        row = rows[ids[name]]
        assert (row.status_id, row.error_message, row.executor_id) == (status, by_id[ids[name]].reason, "")
        assert row.completed_at is not None
        assert row.started_at is None
        assert ids[name] not in locks
    assert rows[ids["held"]].executor_id == "exec-other"
    assert rows[ids["done"]].status_id == ExecutionStatus.SUCCESS
    assert {eid for eid, lock in locks.items() if lock.locked_by == "exec-1"} == {ids["c1"], ids["manual"]}


async def test_runs_ahead_of_their_slot_are_claimed_to_start_at_it_or_left_pending_while_their_job_is_full(
    sessionmaker: Maker,
) -> None:
    """Runs come up to the timekeeper's look-ahead early: one claimed ahead starts at its slot (started_at, and
    start_in by the database's clock); one whose job is at max_instances is not skipped before its slot but
    left pending (NOT_DUE, with the seconds until its slot), and skipped if still full once it is due."""
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        free = await interval_job(session, next_run_at=None, task_function_id=task_id)
        full = await interval_job(session, next_run_at=None, max_instances=1, task_function_id=task_id)
        ids = {name: new_id() for name in ("early", "waiting", "overdue")}
        await repo.create_executions(
            session,
            [
                NewExecution(ids["early"], free.id, now + timedelta(seconds=30)),
                NewExecution(ids["waiting"], full.id, now + timedelta(seconds=30)),
                NewExecution(ids["overdue"], full.id, now - timedelta(seconds=1)),
            ],
        )
        assert await repo.acquire_lock(session, full.id, new_id(), "exec-other", ttl=600)

    early, waiting = await _claim(sessionmaker, [ids["early"], ids["waiting"]])
    after = await _now(sessionmaker)

    assert early.outcome is ClaimOutcome.CLAIMED
    assert early.run is not None
    assert early.run.started_at == now + timedelta(seconds=30)
    assert 30 - (after - now).total_seconds() <= early.run.start_in <= 30
    assert waiting.outcome is ClaimOutcome.NOT_DUE
    assert (waiting.run, waiting.reason) == (None, None)
    assert 30 - (after - now).total_seconds() <= waiting.due_in <= 30

    rows = await _executions(sessionmaker, list(ids.values()))
    assert (rows[ids["early"]].status_id, rows[ids["early"]].started_at) == (
        ExecutionStatus.RUNNING,
        now + timedelta(seconds=30),
    )
    assert (await _locks(sessionmaker))[ids["early"]].locked_at <= after
    assert (rows[ids["waiting"]].status_id, rows[ids["waiting"]].completed_at) == (ExecutionStatus.PENDING, None)

    # Once due, a full job's run is skipped as before.
    (overdue,) = await _claim(sessionmaker, [ids["overdue"]])
    assert overdue.outcome is ClaimOutcome.SKIPPED


async def test_a_claimer_declared_dead_is_refused_the_whole_batch(sessionmaker: Maker) -> None:
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=5)
        ids = [new_id() for _ in range(3)]
        await repo.create_executions(
            session, [NewExecution(eid, job.id, now - timedelta(seconds=i)) for i, eid in enumerate(ids)]
        )
    dead = await _register(sessionmaker, InstanceStatus.STOPPED)
    alive = await _register(sessionmaker, InstanceStatus.RUNNING)
    batch = [ids[0], new_id(), ids[1], ids[0], ids[2]]

    refused = await _claim(sessionmaker, batch, instance=dead)
    assert [(r.execution_id, r.outcome, r.run, r.reason) for r in refused] == [
        (eid, ClaimOutcome.REFUSED, None, None) for eid in batch
    ]
    rows = await _executions(sessionmaker, ids)
    assert {row.status_id for row in rows.values()} == {ExecutionStatus.PENDING}
    assert await _locks(sessionmaker) == {}

    # The runs were left for a live executor.
    claimed = await _claim(sessionmaker, batch, instance=alive)
    assert [r.outcome for r in claimed] == [
        ClaimOutcome.CLAIMED,
        ClaimOutcome.ALREADY_HANDLED,
        ClaimOutcome.CLAIMED,
        ClaimOutcome.ALREADY_HANDLED,
        ClaimOutcome.CLAIMED,
    ]


async def test_finish_releases_the_callers_locks_whether_or_not_the_outcome_is_recorded(sessionmaker: Maker) -> None:
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=5)
        r1, r2, r3 = new_id(), new_id(), new_id()
        await repo.create_executions(
            session, [NewExecution(eid, job.id, now - timedelta(seconds=i)) for i, eid in enumerate((r1, r2, r3))]
        )
    await _claim(sessionmaker, [r1, r2], instance="exec-1")
    await _claim(sessionmaker, [r3], instance="exec-2")

    # Another executor's outcome for exec-1's run: neither recorded nor releasing exec-1's lock.
    async with sessionmaker.begin() as session:
        stale = await repo.finish_executions(
            session, [RunOutcome(r1, ExecutionStatus.SUCCESS, 3)], instance_id="exec-2"
        )
    assert stale == set()
    assert set(await _locks(sessionmaker)) == {r1, r2, r3}

    # r2 was failed meanwhile (as the sweep does), its lock still there: the outcome is rejected but the lock
    # is released all the same.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == r2)
            .values(status_id=ExecutionStatus.FAILED, error_message="executor lost")
        )
    async with sessionmaker.begin() as session:
        recorded = await repo.finish_executions(
            session,
            [
                RunOutcome(r1, ExecutionStatus.FAILED, 12, error_message="boom", error_traceback="Traceback ..."),
                RunOutcome(r2, ExecutionStatus.SUCCESS, 4, result_summary="late"),
            ],
            instance_id="exec-1",
        )
    assert recorded == {r1}
    locks = await _locks(sessionmaker)
    assert [(eid, lock.locked_by) for eid, lock in locks.items()] == [(r3, "exec-2")]
    rows = await _executions(sessionmaker, [r1, r2, r3])
    assert (rows[r1].status_id, rows[r1].duration_ms, rows[r1].error_message, rows[r1].error_traceback) == (
        ExecutionStatus.FAILED,
        12,
        "boom",
        "Traceback ...",
    )
    assert rows[r1].completed_at is not None
    assert (rows[r2].status_id, rows[r2].error_message, rows[r2].result_summary) == (
        ExecutionStatus.FAILED,
        "executor lost",
        None,
    )
    assert rows[r3].status_id == ExecutionStatus.RUNNING


# --- PostgreSQL: orderings by row locks, and the statements a batch costs ---------------------------


async def _blocked(task: asyncio.Task[Any]) -> bool:
    """True if the task is still waiting (on a row lock) a moment later."""
    await asyncio.sleep(0.3)
    return not task.done()


async def test_a_claim_waiting_for_a_job_counts_the_locks_committed_meanwhile(pg_engine: AsyncEngine) -> None:
    """The second claimer reads its pending rows before the first commits, but counts live locks after it
    got the job's row: the place the first took is seen."""
    maker = create_sessionmaker(pg_engine)
    now = await _now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=1)
        first, second = new_id(), new_id()
        await repo.create_executions(
            session, [NewExecution(first, job.id, now - timedelta(seconds=2)), NewExecution(second, job.id, now)]
        )
    async with maker.begin() as holder:
        (held,) = await repo.claim_executions(holder, [first], instance_id="exec-1", host_name="h", lock_ttl=60)
        assert held.outcome is ClaimOutcome.CLAIMED
        waiting = asyncio.create_task(_claim(maker, [second, first], instance="exec-2"))
        assert await _blocked(waiting)
    results = await asyncio.wait_for(waiting, timeout=10)
    assert [(r.execution_id, r.outcome, r.reason) for r in results] == [
        (second, ClaimOutcome.SKIPPED, "skipped: 1 run(s) of the job already running (max_instances=1)"),
        (first, ClaimOutcome.ALREADY_HANDLED, None),  # claimed by exec-1 while exec-2 waited
    ]
    locks = await _locks(maker)
    assert [(eid, lock.locked_by) for eid, lock in locks.items()] == [(first, "exec-1")]


async def test_a_claim_and_the_timekeepers_pass_over_one_job_do_not_wait_for_each_other(pg_engine: AsyncEngine) -> None:
    """While a pass holds a due job's row to write its next slot, an earlier run of that job is claimed at
    once; while a claim of a job is in progress, a pass still takes that job (it is not skipped as locked)."""
    maker = create_sessionmaker(pg_engine)
    now = await _now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=now - timedelta(seconds=1), max_instances=5)
        first, second = new_id(), new_id()
        await repo.create_executions(
            session,
            [
                NewExecution(first, job.id, now - timedelta(seconds=3)),
                NewExecution(second, job.id, now - timedelta(seconds=2)),
            ],
        )
    async with maker.begin() as timekeeper:
        claim = await repo.claim_due(timekeeper, 10)
        assert [due.id for due in claim.jobs] == [job.id]
        (result,) = await asyncio.wait_for(_claim(maker, [first]), timeout=5)
        assert result.outcome is ClaimOutcome.CLAIMED
    async with maker.begin() as claimer:
        (held,) = await repo.claim_executions(claimer, [second], instance_id="exec-2", host_name="h", lock_ttl=60)
        assert held.outcome is ClaimOutcome.CLAIMED
        async with maker.begin() as timekeeper:
            claim = await asyncio.wait_for(repo.claim_due(timekeeper, 10), timeout=5)
            assert [due.id for due in claim.jobs] == [job.id]


async def test_a_claim_waiting_on_the_sweeps_verdict_is_refused(pg_engine: AsyncEngine) -> None:
    maker = create_sessionmaker(pg_engine)
    instance = await _register(maker)
    now = await _now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        execution_id = new_id()
        await repo.create_executions(session, [NewExecution(execution_id, job.id, now)])
    async with maker.begin() as sweep:
        await repo.set_instance_status(sweep, instance, InstanceStatus.STOPPED)
        waiting = asyncio.create_task(_claim(maker, [execution_id], instance=instance))
        assert await _blocked(waiting)
    (result,) = await asyncio.wait_for(waiting, timeout=10)
    assert result.outcome is ClaimOutcome.REFUSED
    assert (await _executions(maker, [execution_id]))[execution_id].status_id == ExecutionStatus.PENDING


async def test_the_sweeps_verdict_waits_for_a_claim_in_progress_then_fails_its_run(pg_engine: AsyncEngine) -> None:
    maker = create_sessionmaker(pg_engine)
    instance = await _register(maker)
    now = await _now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        execution_id = new_id()
        await repo.create_executions(session, [NewExecution(execution_id, job.id, now)])

    async def declare_dead() -> None:
        async with maker.begin() as sweep:
            await repo.set_instance_status(sweep, instance, InstanceStatus.STOPPED)

    async with maker.begin() as claimer:
        (claimed,) = await repo.claim_executions(
            claimer, [execution_id], instance_id=instance, host_name="h", lock_ttl=60
        )
        assert claimed.outcome is ClaimOutcome.CLAIMED
        verdict = asyncio.create_task(declare_dead())
        assert await _blocked(verdict)
    await asyncio.wait_for(verdict, timeout=10)
    async with maker.begin() as session:
        orphans = await repo.fail_orphaned_runs(session, await db_now(session))
    assert [o.execution_id for o in orphans] == [execution_id]


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_batch_costs_the_same_statements_whatever_its_size(pg_engine: AsyncEngine) -> None:
    """Two statements per claim and one per outcome batch, the same SQL text for every batch size (one
    compiled form, one prepared statement)."""
    maker = create_sessionmaker(pg_engine)
    now = await _now(maker)
    async with maker.begin() as session:
        task_id = await task_function(session)
        jobs = [
            await interval_job(session, next_run_at=None, max_instances=100, task_function_id=task_id) for _ in range(3)
        ]
        ids = [new_id() for _ in range(1 + 5 + 40)]
        await repo.create_executions(
            session,
            [NewExecution(eid, jobs[i % 3].id, now - timedelta(milliseconds=i)) for i, eid in enumerate(ids)],
        )
    dead = await _register(maker, InstanceStatus.STOPPED)
    claims: list[list[str]] = []
    finishes: list[list[str]] = []
    for batch in (ids[:1], ids[1:6], ids[6:]):
        with _statements(pg_engine) as claim_statements:
            results = await _claim(maker, batch)
        assert {r.outcome for r in results} == {ClaimOutcome.CLAIMED}
        outcomes = [RunOutcome(eid, ExecutionStatus.SUCCESS, 1) for eid in batch]
        with _statements(pg_engine) as finish_statements:
            async with maker.begin() as session:
                assert await repo.finish_executions(session, outcomes, instance_id="exec-1") == set(batch)
        claims.append(claim_statements)
        finishes.append(finish_statements)
    assert [len(c) for c in claims] == [2, 2, 2]
    assert [len(f) for f in finishes] == [1, 1, 1]
    assert len({s for c in claims for s in c}) == 2
    assert len({s for f in finishes for s in f}) == 1
    assert await _locks(maker) == {}

    # Nothing pending, or a refused claimer: one statement.
    with _statements(pg_engine) as nothing:
        assert {r.outcome for r in await _claim(maker, [*ids[:3], new_id()])} == {ClaimOutcome.ALREADY_HANDLED}
    with _statements(pg_engine) as refused:
        assert {r.outcome for r in await _claim(maker, ids[:3], instance=dead)} == {ClaimOutcome.REFUSED}
    assert (len(nothing), len(refused)) == (1, 1)


async def test_batches_find_their_runs_by_id_under_a_cached_generic_plan(pg_engine: AsyncEngine) -> None:
    """The server caches one generic plan per prepared statement, blind to the arrays' lengths: each statement
    must still reach its runs through the unique execution_id, never by reading every pending or running run
    (ix_scheduled_job_execution_open), which would make a claim cost grow with the backlog."""
    maker = create_sessionmaker(pg_engine)
    now = await _now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=100)
        history = [
            NewExecution(new_id(), job.id, now - timedelta(seconds=10_000 + i), status_id=ExecutionStatus.SUCCESS)
            for i in range(3000)
        ]
        pending = [NewExecution(new_id(), job.id, now - timedelta(seconds=i)) for i in range(300)]
        await repo.create_executions(session, history + pending)
    ids = [row.execution_id for row in pending[:3]]
    async with pg_engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE scheduled_job_execution")
        await connection.commit()

    statements = {
        runs._CLAIM_PENDING_POSTGRES: ("'exec-1'", f"ARRAY{ids}"),
        runs._CLAIM_DECIDE_POSTGRES: (
            f"ARRAY{ids[:2]}",
            "now()",
            f"ARRAY{ids[2:]}",
            "ARRAY['missed: late']",
            "'exec-1'",
            "'h'",
            "now() + interval '1 minute'",
        ),
        runs._RECORD_OUTCOMES_POSTGRES: (
            f"ARRAY{ids}",
            "'exec-1'",
            "ARRAY[3, 3, 3]",
            "ARRAY[1, 1, 1]",
            "ARRAY[NULL, NULL, NULL]::text[]",
            "ARRAY[NULL, NULL, NULL]::text[]",
            "ARRAY[NULL, NULL, NULL]::text[]",
        ),
    }
    # A connection of its own: the plan cache mode and the prepared statements stay with it.
    connection = await asyncpg.connect(
        make_url(str(pg_engine.url)).set(drivername="postgresql").render_as_string(False)
    )
    try:
        await connection.execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        for number, (statement, args) in enumerate(statements.items()):
            sql = statement.compile(dialect=pg_engine.dialect).string
            await connection.execute(f"PREPARE claim_plan_{number} AS {sql}")
            plan = "\n".join(
                row[0] for row in await connection.fetch(f"EXPLAIN EXECUTE claim_plan_{number}({', '.join(args)})")
            )
            assert "$1" in plan or "$2" in plan, plan  # a generic plan
            assert "ix_scheduled_job_execution_open" not in plan, plan
            assert "uq_scheduled_job_execution_execution_id" in plan, plan
        await connection.execute("ROLLBACK")
    finally:
        await connection.close()


async def test_the_sweep_records_missed_the_scheduled_runs_pending_past_their_grace_time(sessionmaker: Maker) -> None:
    """close_unclaimed_runs applies the claim's rule (whole seconds of lateness above the grace) without a claim:
    late scheduled runs become missed with the reason, on time, manual, and running runs are left alone."""
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        short = await interval_job(session, next_run_at=None, misfire_grace_time=2, task_function_id=task_id)
        long = await interval_job(session, next_run_at=None, misfire_grace_time=60, task_function_id=task_id)
        ids = {name: new_id() for name in ("late", "edge", "within", "manual", "running")}
        await repo.create_executions(
            session,
            [
                NewExecution(ids["late"], short.id, now - timedelta(seconds=10)),
                # 2.5 s late: whole seconds 2, not above the grace of 2 s.
                NewExecution(ids["edge"], short.id, now - timedelta(seconds=2.5)),
                NewExecution(ids["within"], long.id, now - timedelta(seconds=30)),
                NewExecution(ids["manual"], short.id, now - timedelta(seconds=20), trigger="manual"),
                NewExecution(ids["running"], long.id, now - timedelta(seconds=20)),
            ],
        )
    [running] = await _claim(sessionmaker, [ids["running"]])
    assert running.outcome is ClaimOutcome.CLAIMED
    async with sessionmaker.begin() as session:
        closed = await repo.close_unclaimed_runs(session, now, limit=100)
    assert [(run.execution_id, run.job_id) for run in closed] == [(ids["late"], short.id)]
    assert closed[0].reason.startswith("missed: not claimed by any executor within the job's misfire grace time of 2 s")

    rows = await _executions(sessionmaker, list(ids.values()))
    assert rows[ids["late"]].status_id == ExecutionStatus.MISSED
    assert (rows[ids["late"]].error_message, rows[ids["late"]].completed_at) == (closed[0].reason, now)
    assert {name: rows[ids[name]].status_id for name in ("edge", "within", "manual", "running")} == {
        "edge": ExecutionStatus.PENDING,
        "within": ExecutionStatus.PENDING,
        "manual": ExecutionStatus.PENDING,
        "running": ExecutionStatus.RUNNING,
    }
    # A claim that comes after the sweep finds the run handled.
    [late] = await _claim(sessionmaker, [ids["late"]])
    assert late.outcome is ClaimOutcome.ALREADY_HANDLED
    # At most `limit` per call, oldest slots first.
    async with sessionmaker.begin() as session:
        first = await repo.close_unclaimed_runs(session, now + timedelta(seconds=3600), limit=1)
        rest = await repo.close_unclaimed_runs(session, now + timedelta(seconds=3600), limit=10)
    assert [run.execution_id for run in first] == [ids["within"]]
    assert [run.execution_id for run in rest] == [ids["edge"]]


async def test_manual_runs_pending_long_after_their_confirmed_publish_go_back_to_the_outbox(
    sessionmaker: Maker,
) -> None:
    """forget_stale_manual_publications: manual runs still pending whose message was confirmed before the bound
    become unpublished (the relay's to publish again), oldest confirmation first and at most `limit`; recent,
    unconfirmed, scheduled and running runs are left alone."""
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        job = await interval_job(session, next_run_at=None, task_function_id=task_id)
        ids = {name: new_id() for name in ("oldest", "old", "recent", "unconfirmed", "scheduled", "running")}
        await repo.create_executions(
            session,
            [
                NewExecution(ids[name], job.id, now - timedelta(seconds=400 + i), trigger="manual")
                for i, name in enumerate(("oldest", "old", "recent", "unconfirmed", "running"))
            ]
            + [NewExecution(ids["scheduled"], job.id, now - timedelta(seconds=600))],
        )
        confirmed_ago = {"oldest": 360, "old": 320, "recent": 60, "scheduled": 600, "running": 600}
        for name, ago in confirmed_ago.items():
            await repo.mark_published(session, [ids[name]], now - timedelta(seconds=ago))
    [running] = await _claim(sessionmaker, [ids["running"]])
    assert running.outcome is ClaimOutcome.CLAIMED

    bound = now - timedelta(seconds=300)
    async with sessionmaker.begin() as session:
        first = await repo.forget_stale_manual_publications(session, published_before=bound, limit=1)
        rest = await repo.forget_stale_manual_publications(session, published_before=bound, limit=10)
    assert (first, rest) == ([ids["oldest"]], [ids["old"]])

    rows = await _executions(sessionmaker, list(ids.values()))
    published = {name: rows[ids[name]].published_at for name in ids}
    assert published["oldest"] is None
    assert published["old"] is None
    assert published["unconfirmed"] is None
    assert published["recent"] == now - timedelta(seconds=60)
    assert published["scheduled"] == now - timedelta(seconds=600)
    assert published["running"] == now - timedelta(seconds=600)
    # The relay takes them: manual runs in the outbox are published at once.
    async with sessionmaker.begin() as session:
        outbox = await repo.unpublished_runs(session, created_before=now - timedelta(seconds=3600), limit=10)
    assert {row[0] for row in outbox} == {ids["oldest"], ids["old"], ids["unconfirmed"]}
