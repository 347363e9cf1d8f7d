"""Outcomes of the runs an executor holds (scheduler_core.store.outcomes, OutcomeStore), on PostgreSQL and on
SQLite: the finish fenced on (running, owned by the caller), which releases the caller's locks whether or not
the outcome is recorded; the failure of held runs at shutdown; lease renewal, which never revives a lock the
sweep removed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import Cancellation, ClaimOutcome, NewExecution, RunOutcome, Store
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, ScheduledJobLock
from tests.contract.store.support import (
    Maker,
    captured,
    claim,
    db_now,
    executions,
    later_run,
    locks,
    pending_run,
    run_slots,
    slots,
)
from tests.support.factories import interval_job, new_id, task_function


async def test_finish_is_fenced_on_owner_and_status(store: Store, sessionmaker: Maker) -> None:
    job_id, execution_id = await pending_run(sessionmaker)
    await claim(sessionmaker, [execution_id], instance="exec-1")
    slot = (await slots(sessionmaker, [execution_id]))[execution_id]
    async with sessionmaker.begin() as session:
        stale = await store.outcomes.finish(
            session, [RunOutcome(execution_id, slot, ExecutionStatus.SUCCESS, 5)], instance_id="exec-2"
        )
    async with sessionmaker.begin() as session:
        owner = await store.outcomes.finish(
            session,
            [RunOutcome(execution_id, slot, ExecutionStatus.SUCCESS, 12, result_summary="ok")],
            instance_id="exec-1",
        )
    async with sessionmaker.begin() as session:
        twice = await store.outcomes.finish(
            session, [RunOutcome(execution_id, slot, ExecutionStatus.FAILED, 1)], instance_id="exec-1"
        )
    assert (stale.recorded, owner.recorded, twice.recorded) == (set(), {execution_id}, set())
    async with sessionmaker() as session:
        execution = await store.history.get(session, execution_id)
        job = await store.jobs.get(session, job_id)
    assert execution is not None
    assert (execution.status_id, execution.duration_ms, execution.result_summary) == (3, 12, "ok")
    assert execution.completed_at is not None
    assert job is not None
    assert await locks(sessionmaker) == {}


async def test_a_batch_of_outcomes_is_recorded_per_run_and_every_lock_of_the_caller_released(
    store: Store, sessionmaker: Maker
) -> None:
    """Outcomes fenced per run: another executor's outcomes record nothing; of the owner's, those of runs it
    holds are recorded and one of a run it never held (skipped at the claim) is fenced out."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        single = await interval_job(session, next_run_at=None, max_instances=1, task_function_id=task_id)
        double = await interval_job(session, next_run_at=None, max_instances=2, task_function_id=task_id)
        ids = {name: new_id() for name in ("s1", "s2", "d1", "d2")}
        await store.outbox.add(
            session,
            [
                NewExecution(ids["s1"], single.id, now - timedelta(seconds=2)),
                NewExecution(ids["s2"], single.id, now - timedelta(seconds=1)),
                NewExecution(ids["d1"], double.id, now - timedelta(seconds=3)),
                NewExecution(ids["d2"], double.id, now - timedelta(seconds=2)),
            ],
        )
    claimed = await claim(sessionmaker, [ids["s1"], ids["s2"], ids["d1"], ids["d2"]], instance="exec-1")
    assert [r.outcome for r in claimed] == [
        ClaimOutcome.CLAIMED,
        ClaimOutcome.SKIPPED,
        ClaimOutcome.CLAIMED,
        ClaimOutcome.CLAIMED,
    ]

    slot_of = await slots(sessionmaker, list(ids.values()))
    outcomes = [
        RunOutcome(ids["s1"], slot_of[ids["s1"]], ExecutionStatus.SUCCESS, 5, result_summary="ok"),
        RunOutcome(
            ids["d1"], slot_of[ids["d1"]], ExecutionStatus.FAILED, 7, error_message="boom", error_traceback="Traceback"
        ),
        RunOutcome(ids["d2"], slot_of[ids["d2"]], ExecutionStatus.SUCCESS, 9),
        RunOutcome(ids["s2"], slot_of[ids["s2"]], ExecutionStatus.SUCCESS, 1),  # skipped, not running: fenced out
    ]
    async with sessionmaker.begin() as session:
        stale = await store.outcomes.finish(session, outcomes[:2], instance_id="exec-2")
        recorded = await store.outcomes.finish(session, outcomes, instance_id="exec-1")
    assert stale.recorded == set()
    assert recorded.recorded == {ids["s1"], ids["d1"], ids["d2"]}
    async with sessionmaker() as session:
        rows = {eid: await store.history.get(session, eid) for eid in ids.values()}
    final = {eid: (row.status_id, row.duration_ms, row.error_message) for eid, row in rows.items() if row}
    assert final[ids["s1"]] == (ExecutionStatus.SUCCESS, 5, None)
    assert final[ids["d1"]] == (ExecutionStatus.FAILED, 7, "boom")
    assert final[ids["d2"]] == (ExecutionStatus.SUCCESS, 9, None)
    assert final[ids["s2"]][0] == ExecutionStatus.SKIPPED
    assert await locks(sessionmaker) == {}


async def test_finish_releases_the_callers_locks_whether_or_not_the_outcome_is_recorded(
    store: Store, sessionmaker: Maker
) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=5)
        r1, r2, r3 = new_id(), new_id(), new_id()
        await store.outbox.add(
            session, [NewExecution(eid, job.id, now - timedelta(seconds=i)) for i, eid in enumerate((r1, r2, r3))]
        )
    await claim(sessionmaker, [r1, r2], instance="exec-1")
    await claim(sessionmaker, [r3], instance="exec-2")
    slot_of = await slots(sessionmaker, [r1, r2, r3])

    # Another executor's outcome for exec-1's run: neither recorded nor releasing exec-1's lock.
    async with sessionmaker.begin() as session:
        stale = await store.outcomes.finish(
            session, [RunOutcome(r1, slot_of[r1], ExecutionStatus.SUCCESS, 3)], instance_id="exec-2"
        )
    assert stale.recorded == set()
    assert set(await locks(sessionmaker)) == {r1, r2, r3}

    # r2 was failed meanwhile (as the sweep does), its lock still there: the outcome is rejected but the lock
    # is released all the same.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == r2)
            .values(status_id=ExecutionStatus.FAILED, error_message="executor lost")
        )
    async with sessionmaker.begin() as session:
        recorded = await store.outcomes.finish(
            session,
            [
                RunOutcome(
                    r1, slot_of[r1], ExecutionStatus.FAILED, 12, error_message="boom", error_traceback="Traceback ..."
                ),
                RunOutcome(r2, slot_of[r2], ExecutionStatus.SUCCESS, 4, result_summary="late"),
            ],
            instance_id="exec-1",
        )
    assert recorded.recorded == {r1}
    held = await locks(sessionmaker)
    assert [(eid, lock.locked_by) for eid, lock in held.items()] == [(r3, "exec-2")]
    rows = await executions(sessionmaker, [r1, r2, r3])
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


async def test_fail_held_fails_the_runs_still_running_under_the_instance_and_releases_their_locks(
    store: Store, sessionmaker: Maker
) -> None:
    _, execution_id = await pending_run(sessionmaker)
    _, of_other = await pending_run(sessionmaker)
    await claim(sessionmaker, [execution_id], instance="exec-1")
    await claim(sessionmaker, [of_other], instance="exec-2")
    runs = await run_slots(sessionmaker, [execution_id, of_other])
    async with sessionmaker.begin() as session:
        failed = await store.outcomes.fail_held(session, "exec-1", runs, "executor shut down")
    assert failed == 1
    async with sessionmaker() as session:
        execution = await store.history.get(session, execution_id)
        other = await store.history.get(session, of_other)
    assert execution is not None
    assert (execution.status_id, execution.error_message) == (4, "executor shut down")
    assert execution.completed_at is not None
    assert other is not None
    assert other.status_id == ExecutionStatus.RUNNING  # another executor's run is not this one's to fail
    assert list(await locks(sessionmaker)) == [of_other]


async def test_renew_leases_extends_only_held_locks_and_never_revives_a_removed_one(
    store: Store, sessionmaker: Maker
) -> None:
    _, execution_id = await pending_run(sessionmaker)
    _, removed = await pending_run(sessionmaker)
    await claim(sessionmaker, [execution_id, removed], instance="exec-1", ttl=1)
    before = (await locks(sessionmaker))[execution_id]
    async with sessionmaker.begin() as session:
        # The sweep removed this lock (its run is failed): it must stay removed.
        await session.execute(delete(ScheduledJobLock).where(ScheduledJobLock.execution_id == removed))
    async with sessionmaker.begin() as session:
        held = await store.outcomes.renew_leases(session, "exec-1", 120, [execution_id, removed])
        none_held = await store.outcomes.renew_leases(session, "exec-9", 120, [execution_id])
    after = await locks(sessionmaker)
    assert (held.held, none_held.held) == ({execution_id}, set())
    assert list(after) == [execution_id]
    assert after[execution_id].expires_at - before.expires_at > timedelta(seconds=100)


async def test_a_renewal_returns_the_cancel_requests_of_its_runs_from_their_locks_alone(
    store: Store, engine: AsyncEngine, sessionmaker: Maker
) -> None:
    """A running run's cancel request, an operator's or a replacing run's, comes back with the next renewal of its
    lease, from the lock row alone: a renewal reads no execution (on a table partitioned by slot, a lookup by
    execution id alone would probe every partition)."""
    _, asked = await pending_run(sessionmaker)
    _, quiet = await pending_run(sessionmaker)
    _, elsewhere = await pending_run(sessionmaker)
    job_id, replaced = await pending_run(sessionmaker, overlap_policy="replace", max_instances=1)
    await claim(sessionmaker, [asked, quiet, replaced])
    await claim(sessionmaker, [elsewhere], instance="exec-2")
    due = await later_run(sessionmaker, job_id)
    await claim(sessionmaker, [due], instance="exec-2")
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        for run, by in ((asked, "user u1"), (elsewhere, "user u2")):
            assert await store.history.cancel(session, run, by=by, now=now) is Cancellation.REQUESTED
        assert await store.history.cancel(session, asked, by="user u3", now=now) is Cancellation.ALREADY_REQUESTED
    held = [asked, quiet, replaced]
    with captured(engine) as seen:
        async with sessionmaker.begin() as session:
            renewal = await store.outcomes.renew_leases(session, "exec-1", 60, held)
    assert renewal.held == set(held)
    assert renewal.cancelling == {asked: "user u1", replaced: f"replaced by run {due}"}
    assert not [statement for statement, _ in seen if "scheduled_job_execution" in statement]
    async with sessionmaker.begin() as session:
        other = await store.outcomes.renew_leases(session, "exec-2", 60, [elsewhere])
    assert other.cancelling == {elsewhere: "user u2"}
