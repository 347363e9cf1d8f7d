"""The executor's claim (scheduler_core.store.claims, ClaimStore), on PostgreSQL and on SQLite: a delivered run
becomes running under the claimer's lock, or is closed with its verdict (missed past its grace time, skipped
beyond max_instances), or is left pending until its slot (not due); every id of a batch is answered in input
order, and a claimer the sweep declared dead claims nothing. How concurrent claimers are ordered by row and
advisory locks, and what a batch costs, is PostgreSQL's: tests/integration/store."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from scheduler_core.store import ClaimOutcome, NewExecution, RunOutcome, Store
from scheduler_core.store.models import ExecutionStatus, InstanceStatus
from tests.contract.store.support import (
    HOST,
    Maker,
    claim,
    db_now,
    executions,
    hold_locks,
    later_run,
    locks,
    pending_run,
    register,
)
from tests.support.factories import interval_job, new_id, task_function


async def test_a_run_is_claimed_once_with_a_lock_and_what_its_task_needs(store: Store, sessionmaker: Maker) -> None:
    job_id, execution_id = await pending_run(sessionmaker, parameters={"x": 1}, timeout_seconds=9)
    [first] = await claim(sessionmaker, [execution_id])
    [second] = await claim(sessionmaker, [execution_id], instance="exec-2")
    assert first.outcome is ClaimOutcome.CLAIMED
    assert first.run is not None
    assert (first.run.task_key, first.run.parameters, first.run.timeout_seconds) == ("noop", {"x": 1}, 9)
    assert second.outcome is ClaimOutcome.ALREADY_HANDLED
    held = await locks(sessionmaker)
    async with sessionmaker() as session:
        execution = await store.history.get(session, execution_id)
    assert list(held) == [execution_id]
    lock = held[execution_id]
    assert (lock.job_id, lock.execution_id, lock.locked_by) == (job_id, execution_id, "exec-1")
    assert lock.expires_at > lock.locked_at
    assert execution is not None
    assert (execution.status_id, execution.executor_id, execution.host_name) == (2, "exec-1", HOST)
    assert execution.started_at is not None
    assert first.run.fencing_token == lock.id


async def test_every_claim_of_a_job_gets_a_greater_fencing_token_even_after_the_last_lock_is_released(
    store: Store, sessionmaker: Maker
) -> None:
    """A task writing to an external store passes its fencing token along, and the store refuses a writer whose
    token is lower than one it has seen: a later run of a job must never get a lower token, including after the
    lock with the highest id was deleted (a backend that reused that id would hand it out again)."""
    job_id, first = await pending_run(sessionmaker, max_instances=1)
    tokens = []
    for _ in range(4):
        [claimed] = await claim(sessionmaker, [first])
        assert claimed.run is not None
        tokens.append(claimed.run.fencing_token)
        async with sessionmaker.begin() as session:
            outcome = RunOutcome(first, claimed.run.scheduled_at, ExecutionStatus.SUCCESS, 1)
            assert (await store.outcomes.finish(session, [outcome], instance_id="exec-1")).recorded == {first}
        assert await locks(sessionmaker) == {}  # the lock with the highest id is gone
        first = await later_run(sessionmaker, job_id)
    assert tokens == sorted(set(tokens))


async def test_an_unknown_run_is_already_handled_and_an_empty_batch_answers_nothing(sessionmaker: Maker) -> None:
    [result] = await claim(sessionmaker, [new_id()])
    assert result.outcome is ClaimOutcome.ALREADY_HANDLED
    assert await claim(sessionmaker, []) == []


async def test_a_run_claimed_past_its_grace_time_is_recorded_missed_with_the_reason(
    store: Store, sessionmaker: Maker
) -> None:
    _, execution_id = await pending_run(sessionmaker, lateness_s=90, misfire_grace_time=60)
    [result] = await claim(sessionmaker, [execution_id])
    assert result.outcome is ClaimOutcome.MISSED
    async with sessionmaker() as session:
        execution = await store.history.get(session, execution_id)
    assert execution is not None
    assert execution.status_id == ExecutionStatus.MISSED
    assert execution.error_message is not None
    assert "misfire grace time of 60 s" in execution.error_message
    assert execution.error_message == result.reason
    assert execution.completed_at is not None


async def test_a_run_claimed_within_its_grace_time_runs(sessionmaker: Maker) -> None:
    _, execution_id = await pending_run(sessionmaker, lateness_s=30, misfire_grace_time=60)
    [result] = await claim(sessionmaker, [execution_id])
    assert result.outcome is ClaimOutcome.CLAIMED


async def test_a_manual_run_has_no_grace_time(store: Store, sessionmaker: Maker) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, misfire_grace_time=0)
        execution_id = new_id()
        await store.outbox.add(
            session, [NewExecution(execution_id, job.id, now - timedelta(seconds=30), trigger="manual")]
        )
    [result] = await claim(sessionmaker, [execution_id])
    assert result.outcome is ClaimOutcome.CLAIMED


async def test_a_run_beyond_max_instances_is_skipped_with_the_reason(store: Store, sessionmaker: Maker) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=2)
        ids = [new_id() for _ in range(3)]
        await store.outbox.add(
            session, [NewExecution(eid, job.id, now - timedelta(milliseconds=i)) for i, eid in enumerate(ids)]
        )
    outcomes = [(await claim(sessionmaker, [eid]))[0].outcome for eid in ids]
    assert outcomes == [ClaimOutcome.CLAIMED, ClaimOutcome.CLAIMED, ClaimOutcome.SKIPPED]
    async with sessionmaker() as session:
        skipped = await store.history.get(session, ids[2])
    assert skipped is not None
    assert skipped.status_id == ExecutionStatus.SKIPPED
    assert skipped.error_message is not None
    assert "max_instances=2" in skipped.error_message


async def test_expired_locks_do_not_count_toward_max_instances(store: Store, sessionmaker: Maker) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=1)
        first, second = new_id(), new_id()
        await store.outbox.add(
            session,
            [NewExecution(first, job.id, now), NewExecution(second, job.id, now - timedelta(seconds=1))],
        )
    [held] = await claim(sessionmaker, [first], ttl=0.001)
    assert held.outcome is ClaimOutcome.CLAIMED
    await asyncio.sleep(0.01)
    [result] = await claim(sessionmaker, [second])
    assert result.outcome is ClaimOutcome.CLAIMED


async def test_earlier_slots_of_a_job_take_its_places_whatever_the_order_of_the_batch(
    store: Store, sessionmaker: Maker
) -> None:
    """Per-job max_instances across the batch, duplicates and unknown ids, late runs missed."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        single = await interval_job(session, next_run_at=None, max_instances=1, task_function_id=task_id)
        double = await interval_job(session, next_run_at=None, max_instances=2, task_function_id=task_id)
        late = await interval_job(session, next_run_at=None, misfire_grace_time=5, task_function_id=task_id)
        ids = {name: new_id() for name in ("s1", "s2", "d1", "d2", "d3", "late")}
        await store.outbox.add(
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
    results = await claim(sessionmaker, order)
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
    [again] = await claim(sessionmaker, [ids["s1"]], instance="exec-2")
    assert again.outcome is ClaimOutcome.ALREADY_HANDLED


async def test_a_mixed_batch_answers_every_id_in_input_order(store: Store, sessionmaker: Maker) -> None:
    """Claimed, skipped (live locks of other executors count, earlier slots first), missed, manual runs
    exempt from the grace time, runs not pending, unknown ids and repeated ids, all in one batch."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        capped = await interval_job(
            session, next_run_at=None, max_instances=2, task_function_id=task_id, parameters={"n": 1}, timeout_seconds=7
        )
        full = await interval_job(session, next_run_at=None, max_instances=1, task_function_id=task_id)
        late = await interval_job(session, next_run_at=None, misfire_grace_time=5, task_function_id=task_id)
        manual = await interval_job(session, next_run_at=None, misfire_grace_time=0, task_function_id=task_id)
        ids = {name: new_id() for name in ("held", "c1", "c2", "c3", "f1", "late", "manual", "done")}
        await store.outbox.add(
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
        # The job `full` has two live locks (more than its max_instances), held by another executor.
        await hold_locks(session, full.id, "exec-other", ttl=600, count=2)
    # Another executor already runs one run of `capped`: one place is left.
    [held] = await claim(sessionmaker, [ids["held"]], instance="exec-other")
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
    results = await claim(sessionmaker, batch, ttl=45)

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

    rows = await executions(sessionmaker, list(ids.values()))
    held_locks = await locks(sessionmaker)
    for name in ("c1", "manual"):
        row, lock, run = rows[ids[name]], held_locks[ids[name]], by_id[ids[name]].run
        assert run is not None
        assert (row.status_id, row.executor_id, row.host_name) == (ExecutionStatus.RUNNING, "exec-1", HOST)
        assert row.started_at == row.claimed_at == run.claimed_at == lock.locked_at
        assert row.completed_at is None
        assert (lock.locked_by, lock.job_id) == ("exec-1", run.job_id)
        assert lock.expires_at - lock.locked_at == timedelta(seconds=45)
    for name, status in (("c2", 6), ("c3", 6), ("f1", 6), ("late", 5)):
        row = rows[ids[name]]
        assert (row.status_id, row.error_message, row.executor_id) == (status, by_id[ids[name]].reason, "")
        assert row.completed_at is not None
        assert row.started_at is None
        assert ids[name] not in held_locks
    assert rows[ids["held"]].executor_id == "exec-other"
    assert rows[ids["done"]].status_id == ExecutionStatus.SUCCESS
    assert {eid for eid, lock in held_locks.items() if lock.locked_by == "exec-1"} == {ids["c1"], ids["manual"]}


async def test_runs_ahead_of_their_slot_are_claimed_to_start_at_it_or_left_pending_while_their_job_is_full(
    store: Store, sessionmaker: Maker
) -> None:
    """Runs come up to the timekeeper's look-ahead early: one claimed ahead starts at its slot (started_at, and
    start_in by the database's clock); one whose job is at max_instances is not skipped before its slot but
    left pending (NOT_DUE, with the seconds until its slot), and skipped if still full once it is due."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        free = await interval_job(session, next_run_at=None, task_function_id=task_id)
        full = await interval_job(session, next_run_at=None, max_instances=1, task_function_id=task_id)
        ids = {name: new_id() for name in ("early", "waiting", "overdue")}
        await store.outbox.add(
            session,
            [
                NewExecution(ids["early"], free.id, now + timedelta(seconds=30)),
                NewExecution(ids["waiting"], full.id, now + timedelta(seconds=30)),
                NewExecution(ids["overdue"], full.id, now - timedelta(seconds=1)),
            ],
        )
        await hold_locks(session, full.id, "exec-other", ttl=600)

    early, waiting = await claim(sessionmaker, [ids["early"], ids["waiting"]])
    after = await db_now(sessionmaker)

    assert early.outcome is ClaimOutcome.CLAIMED
    assert early.run is not None
    assert (await executions(sessionmaker, [ids["early"]]))[ids["early"]].started_at == now + timedelta(seconds=30)
    assert 30 - (after - now).total_seconds() <= early.run.start_in <= 30
    assert waiting.outcome is ClaimOutcome.NOT_DUE
    assert (waiting.run, waiting.reason) == (None, None)
    assert 30 - (after - now).total_seconds() <= waiting.due_in <= 30

    rows = await executions(sessionmaker, list(ids.values()))
    assert (rows[ids["early"]].status_id, rows[ids["early"]].started_at) == (
        ExecutionStatus.RUNNING,
        now + timedelta(seconds=30),
    )
    assert (await locks(sessionmaker))[ids["early"]].locked_at <= after
    assert (rows[ids["waiting"]].status_id, rows[ids["waiting"]].completed_at) == (ExecutionStatus.PENDING, None)

    # Once due, a full job's run is skipped as before.
    [overdue] = await claim(sessionmaker, [ids["overdue"]])
    assert overdue.outcome is ClaimOutcome.SKIPPED


async def test_a_claimer_declared_dead_is_refused_the_whole_batch(store: Store, sessionmaker: Maker) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=5)
        ids = [new_id() for _ in range(3)]
        await store.outbox.add(
            session, [NewExecution(eid, job.id, now - timedelta(seconds=i)) for i, eid in enumerate(ids)]
        )
    dead = await register(sessionmaker, InstanceStatus.STOPPED)
    alive = await register(sessionmaker, InstanceStatus.RUNNING)
    batch = [ids[0], new_id(), ids[1], ids[0], ids[2]]

    refused = await claim(sessionmaker, batch, instance=dead)
    assert [(r.execution_id, r.outcome, r.run, r.reason) for r in refused] == [
        (eid, ClaimOutcome.REFUSED, None, None) for eid in batch
    ]
    rows = await executions(sessionmaker, ids)
    assert {row.status_id for row in rows.values()} == {ExecutionStatus.PENDING}  # left for a live executor
    assert await locks(sessionmaker) == {}

    # The runs were left for a live executor.
    claimed = await claim(sessionmaker, batch, instance=alive)
    assert [r.outcome for r in claimed] == [
        ClaimOutcome.CLAIMED,
        ClaimOutcome.ALREADY_HANDLED,
        ClaimOutcome.CLAIMED,
        ClaimOutcome.ALREADY_HANDLED,
        ClaimOutcome.CLAIMED,
    ]
