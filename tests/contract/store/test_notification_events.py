"""Events written to the notifications' outbox by the transactions that record what they announce, on both
backends: run.failed once a slot's final attempt failed (not for an attempt that is retried), job.paused when a
job pauses itself, job.recovered on the first success after failed slots, run.missed from the pass, the claim and
the sweep, run.skipped from the claim, executor.lost from the sweep, job.silent from the sweep (once) and, found
late, from the finish; and nothing when the transaction rolls back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from scheduler_core.store import ClaimOutcome, JobAdvance, NewExecution, RunOutcome, Store
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, NotificationDelivery, ScheduledJob
from tests.contract.store.support import Maker, claim, db_now, execution, hold_locks, pending_run, slots
from tests.support.factories import interval_job, new_id
from tests.support.notifications import add_channel, deliveries


async def _finish(store: Store, sessionmaker: Maker, execution_id: str, status: ExecutionStatus) -> None:
    slot = (await slots(sessionmaker, [execution_id]))[execution_id]
    async with sessionmaker.begin() as session:
        outcome = RunOutcome(
            execution_id, slot, status, 5, error_message="boom" if status == ExecutionStatus.FAILED else None
        )
        assert (await store.outcomes.finish(session, [outcome], instance_id="exec-1")).recorded == {execution_id}


async def _run(store: Store, sessionmaker: Maker, job_id: int, status: ExecutionStatus) -> str:
    """A new scheduled run of the job, claimed and finished with `status`; its execution id."""
    now = await db_now(sessionmaker)
    execution_id = new_id()
    async with sessionmaker.begin() as session:
        await store.outbox.add(session, [NewExecution(execution_id, job_id, now)])
    [claimed] = await claim(sessionmaker, [execution_id])
    assert claimed.outcome is ClaimOutcome.CLAIMED
    await _finish(store, sessionmaker, execution_id, status)
    return execution_id


async def _set_job(sessionmaker: Maker, job_id: int, **values: object) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(update(ScheduledJob).where(ScheduledJob.id == job_id).values(**values))


async def _job(sessionmaker: Maker, job_id: int) -> ScheduledJob:
    async with sessionmaker() as session:
        job = await session.get(ScheduledJob, job_id)
        assert job is not None
        await session.refresh(job)
        return job


async def test_run_failed_comes_once_per_slot_after_its_final_attempt(store: Store, sessionmaker: Maker) -> None:
    await add_channel(sessionmaker)
    _, first = await pending_run(sessionmaker, max_retries=1, retry_delay_seconds=0)
    await claim(sessionmaker, [first])
    await _finish(store, sessionmaker, first, ExecutionStatus.FAILED)
    assert await deliveries(sessionmaker, "run.failed") == []  # retried: not the slot's outcome yet
    retry = (await execution(sessionmaker, first)).retried_by
    assert retry is not None
    async with sessionmaker.begin() as session:
        await store.passes.record(session, [], [], release_until=await db_now(sessionmaker), release_limit=10)
    await claim(sessionmaker, [retry])
    await _finish(store, sessionmaker, retry, ExecutionStatus.FAILED)

    [failed] = await deliveries(sessionmaker, "run.failed")
    data = failed.payload["data"]
    assert (data["executionId"], data["firstExecutionId"], data["attempt"]) == (retry, first, 2)
    assert (data["status"], data["error"], data["trigger"]) == ("failed", "boom", "schedule")
    row = await execution(sessionmaker, retry)
    assert row.completed_at is not None
    assert failed.payload["occurredAt"] == row.completed_at.isoformat(timespec="microseconds").replace("+00:00", "Z")


async def test_a_job_pausing_itself_is_announced_after_its_failed_slots(store: Store, sessionmaker: Maker) -> None:
    await add_channel(sessionmaker)
    job_id, first = await pending_run(sessionmaker, pause_after_failures=2)
    await claim(sessionmaker, [first])
    await _finish(store, sessionmaker, first, ExecutionStatus.FAILED)
    assert await deliveries(sessionmaker, "job.paused") == []
    await _run(store, sessionmaker, job_id, ExecutionStatus.FAILED)

    events = [d.event_type for d in await deliveries(sessionmaker)]
    assert events == ["run.failed", "run.failed", "job.paused"]
    [paused] = await deliveries(sessionmaker, "job.paused")
    assert paused.job_id == job_id
    assert paused.payload["data"]["automatic"] is True
    assert paused.payload["data"]["consecutiveFailures"] == 2
    assert paused.payload["data"]["reason"] == (await _job(sessionmaker, job_id)).paused_reason


async def test_the_first_success_after_failed_slots_is_a_recovery_and_the_next_is_not(
    store: Store, sessionmaker: Maker
) -> None:
    await add_channel(sessionmaker)
    job_id, first = await pending_run(sessionmaker)
    await _run(store, sessionmaker, job_id, ExecutionStatus.SUCCESS)  # no streak: nothing to announce
    await claim(sessionmaker, [first])
    await _finish(store, sessionmaker, first, ExecutionStatus.FAILED)
    failed_at = (await execution(sessionmaker, first)).completed_at
    assert (await _job(sessionmaker, job_id)).failing_since == failed_at
    await _run(store, sessionmaker, job_id, ExecutionStatus.FAILED)
    assert (await _job(sessionmaker, job_id)).failing_since == failed_at  # the streak began with the first
    recovered_by = await _run(store, sessionmaker, job_id, ExecutionStatus.SUCCESS)
    await _run(store, sessionmaker, job_id, ExecutionStatus.SUCCESS)

    [recovered] = await deliveries(sessionmaker, "job.recovered")
    assert recovered.payload["data"]["executionId"] == recovered_by
    assert failed_at is not None
    assert recovered.payload["data"]["failingSince"] == failed_at.isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )
    job = await _job(sessionmaker, job_id)
    assert (job.failing_since, job.consecutive_failures) == (None, 0)


async def test_runs_missed_by_the_pass_the_claim_and_the_sweep_and_skipped_by_the_claim_are_announced(
    store: Store, sessionmaker: Maker
) -> None:
    await add_channel(sessionmaker, events=["run.missed", "run.skipped"])
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, misfire_grace_time=1)
        missed_by_pass = NewExecution(
            new_id(), job.id, now - timedelta(minutes=5), status_id=ExecutionStatus.MISSED, completed_at=now,
            error_message="missed: written 300 s after its slot",
        )  # fmt: skip
        record = await store.passes.record(session, [missed_by_pass], [JobAdvance(job.id, None)])
        assert record.written == [missed_by_pass.execution_id]
    again = NewExecution(
        new_id(), job.id, missed_by_pass.scheduled_at, status_id=ExecutionStatus.MISSED, completed_at=now
    )
    async with sessionmaker.begin() as session:  # the same slot from another pass: not written, not announced
        assert (await store.passes.record(session, [again], [])).written == []

    _, late = await pending_run(sessionmaker, lateness_s=120, misfire_grace_time=60)
    assert [r.outcome for r in await claim(sessionmaker, [late])] == [ClaimOutcome.MISSED]
    busy_job, busy = await pending_run(sessionmaker, lateness_s=1)
    async with sessionmaker.begin() as session:
        await hold_locks(session, busy_job, "exec-2", ttl=60)
    assert [r.outcome for r in await claim(sessionmaker, [busy])] == [ClaimOutcome.SKIPPED]
    _, unclaimed = await pending_run(sessionmaker, lateness_s=120, misfire_grace_time=60)
    async with sessionmaker.begin() as session:
        closed = await store.sweeps.close_unclaimed(session, await db_now(sessionmaker), 100)
    assert [run.execution_id for run in closed] == [unclaimed]

    missed = {d.payload["data"]["executionId"]: d for d in await deliveries(sessionmaker, "run.missed")}
    assert set(missed) == {missed_by_pass.execution_id, late, unclaimed}
    assert missed[late].payload["data"]["error"] == (await execution(sessionmaker, late)).error_message
    [skipped] = await deliveries(sessionmaker, "run.skipped")
    assert skipped.payload["data"]["executionId"] == busy
    assert skipped.payload["data"]["status"] == "skipped"


async def test_an_executor_declared_stopped_is_announced_and_a_timekeeper_is_not(
    store: Store, sessionmaker: Maker
) -> None:
    await add_channel(sessionmaker, events=["executor.lost"])
    ids = {}
    for role in ("executor", "timekeeper"):
        async with sessionmaker.begin() as session:
            values = {"id": new_id(), "instance_name": f"{role}@h", "host_name": "h", "process_id": 2, "role": role}
            instance = await store.instances.register(session, values | {"mode": "standalone"})
            await store.instances.set_status(session, instance.id, InstanceStatus.RUNNING)
            ids[role] = instance.id
    later = await db_now(sessionmaker) + timedelta(seconds=60)
    async with sessionmaker.begin() as session:
        stopped = await store.sweeps.stop_instances(session, list(ids.values()), silent_since=later, now=later)
    assert set(stopped) == set(ids.values())
    [lost] = await deliveries(sessionmaker)
    assert lost.event_type == "executor.lost"
    assert lost.job_id is None
    data = lost.payload["data"]
    assert (data["instanceId"], data["instanceName"], data["hostName"]) == (ids["executor"], "executor@h", "h")


async def _watched_job(store: Store, sessionmaker: Maker, *, overdue_s: float, **fields: Any) -> int:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(
            session, next_run_at=None, expect_success_within_seconds=30,
            success_expected_by=now - timedelta(seconds=overdue_s), **fields,
        )  # fmt: skip
    return job.id


async def _report_silent(store: Store, sessionmaker: Maker) -> list[int]:
    async with sessionmaker.begin() as session:
        return await store.sweeps.report_silent(session, await db_now(sessionmaker), 100)


async def test_a_silent_job_is_reported_once_by_the_sweep(store: Store, sessionmaker: Maker) -> None:
    await add_channel(sessionmaker)
    silent = await _watched_job(store, sessionmaker, overdue_s=5)
    await _watched_job(store, sessionmaker, overdue_s=-60)  # not due yet
    await _watched_job(store, sessionmaker, overdue_s=5, is_paused=True)  # cannot run: not judged
    assert await _report_silent(store, sessionmaker) == [silent]
    assert await _report_silent(store, sessionmaker) == []
    [reported] = await deliveries(sessionmaker, "job.silent")
    assert reported.job_id == silent
    assert reported.payload["data"]["expectSuccessWithinSeconds"] == 30
    assert reported.payload["data"]["detectedLate"] is False
    assert (await _job(sessionmaker, silent)).success_expected_by is None

    # Its next success watches it again, from that success; no second report for the silence already reported.
    run = await _run(store, sessionmaker, silent, ExecutionStatus.SUCCESS)
    completed_at = (await execution(sessionmaker, run)).completed_at
    assert completed_at is not None
    assert (await _job(sessionmaker, silent)).success_expected_by == completed_at + timedelta(seconds=30)
    assert len(await deliveries(sessionmaker, "job.silent")) == 1


@pytest.mark.parametrize("overdue_s", [5.0, -60.0])
async def test_a_silence_no_sweep_saw_is_reported_by_the_success_that_ends_it(
    store: Store, sessionmaker: Maker, overdue_s: float
) -> None:
    await add_channel(sessionmaker)
    job_id = await _watched_job(store, sessionmaker, overdue_s=overdue_s)
    await _run(store, sessionmaker, job_id, ExecutionStatus.SUCCESS)
    reported = await deliveries(sessionmaker, "job.silent")
    if overdue_s < 0:  # the success came in time
        assert reported == []
        return
    [late] = reported
    assert late.payload["data"]["detectedLate"] is True
    assert await _report_silent(store, sessionmaker) == []


async def test_an_event_is_written_with_its_transaction_or_not_at_all(store: Store, sessionmaker: Maker) -> None:
    await add_channel(sessionmaker)
    _, first = await pending_run(sessionmaker)
    [claimed] = await claim(sessionmaker, [first])
    assert claimed.run is not None
    async with sessionmaker() as session, session.begin():
        outcome = RunOutcome(first, claimed.run.scheduled_at, ExecutionStatus.FAILED, 5, error_message="boom")
        await store.outcomes.finish(session, [outcome], instance_id="exec-1")
        written = (await session.execute(select(NotificationDelivery.event_type))).scalars().all()
        assert written == ["run.failed"]  # written in the transaction ...
        await session.rollback()
    assert await deliveries(sessionmaker) == []  # ... and gone with it
    assert (await execution(sessionmaker, first)).status_id == ExecutionStatus.RUNNING
