"""Run control in the store, on both backends (issue 18): a failed attempt's retry (its delay, the chain's links,
the slot's final outcome), the count of failed slots and the pause it triggers, the overlap policies at the
claim (skip, queue in slot order, replace), the release of waiting runs, cancellation on request, and the
sweep's part in each."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from scheduler_core.retries import JITTER
from scheduler_core.store import (
    SCHEDULER_ACTOR_NAME,
    AuditFilters,
    Cancellation,
    ClaimOutcome,
    JobAdvance,
    NewExecution,
    RunOutcome,
    Store,
)
from scheduler_core.store.models import ExecutionStatus, ScheduledJob, ScheduledJobExecution
from tests.contract.store.support import (
    Maker,
    claim,
    db_now,
    execution,
    executions,
    hold_locks,
    later_run,
    locks,
    pending_run,
    slots,
)
from tests.support.factories import interval_job, new_id


async def _finish(
    store: Store, sessionmaker: Maker, execution_id: str, status: ExecutionStatus, instance: str = "exec-1"
) -> bool:
    """Record the outcome of a run `instance` holds; whether the timekeepers must be woken."""
    slot = (await slots(sessionmaker, [execution_id]))[execution_id]
    async with sessionmaker.begin() as session:
        result = await store.outcomes.finish(
            session, [RunOutcome(execution_id, slot, status, 5, error_message="boom")], instance_id=instance
        )
    assert result.recorded == {execution_id}
    return result.wake


async def _attempts(sessionmaker: Maker, job_id: int) -> list[ScheduledJobExecution]:
    async with sessionmaker() as session:
        query = select(ScheduledJobExecution).where(ScheduledJobExecution.job_id == job_id)
        return list((await session.execute(query.order_by(ScheduledJobExecution.attempt))).scalars())


async def _job(sessionmaker: Maker, job_id: int) -> ScheduledJob:
    async with sessionmaker() as session:
        job = (await session.execute(select(ScheduledJob).where(ScheduledJob.id == job_id))).scalar_one()
        await session.refresh(job)
        return job


async def _release(store: Store, sessionmaker: Maker, until: datetime) -> list[str]:
    """A scheduling pass's release of the waiting runs due by `until`; the ids released."""
    async with sessionmaker.begin() as session:
        record = await store.passes.record(session, [], [], release_until=until, release_limit=100)
    return [run.execution_id for run in record.released]


# --- retries --------------------------------------------------------------------------------------------------


async def test_a_run_released_late_is_left_to_the_pass_that_released_it_not_also_published_by_the_relay(
    store: Store, sessionmaker: Maker
) -> None:
    # A retry due an hour ago (its timekeeper was down) is released by a pass now: its release_at becomes now, so
    # the relay, which publishes runs on their way for longer than its grace, does not publish it a second time.
    job_id, first = await pending_run(sessionmaker, max_retries=1, retry_delay_seconds=10)
    await claim(sessionmaker, [first])
    await _finish(store, sessionmaker, first, ExecutionStatus.FAILED)
    retry = (await _attempts(sessionmaker, job_id))[-1]
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == retry.execution_id)
            .values(release_at=now - timedelta(hours=1), created_at=now - timedelta(hours=1))
        )
    assert await _release(store, sessionmaker, now) == [retry.execution_id]
    released = await execution(sessionmaker, retry.execution_id)
    assert released.release_at is not None
    assert released.release_at >= now
    async with sessionmaker.begin() as session:
        relayed = await store.outbox.unpublished(session, created_before=now - timedelta(seconds=2), limit=10)
    assert retry.execution_id not in [run.execution_id for run in relayed]


async def test_a_failed_attempt_is_retried_after_its_backoff_then_the_slot_fails_for_good(
    store: Store, sessionmaker: Maker
) -> None:
    job_id, first = await pending_run(
        sessionmaker, max_retries=2, retry_delay_seconds=10, retry_backoff_factor=3.0, retry_max_delay_seconds=3600
    )
    chain = [first]
    for attempt in (1, 2, 3):
        [claimed] = await claim(sessionmaker, [chain[-1]])
        assert claimed.outcome is ClaimOutcome.CLAIMED, claimed
        assert claimed.run is not None
        assert claimed.run.attempt == attempt
        wake = await _finish(store, sessionmaker, chain[-1], ExecutionStatus.FAILED)
        rows = await _attempts(sessionmaker, job_id)
        ended = next(r for r in rows if r.execution_id == chain[-1])
        assert ended.completed_at is not None
        if attempt == 3:
            assert len(rows) == 3
            assert ended.retried_by is None
            assert wake is False
            break
        assert wake is True
        retry = rows[-1]
        assert (retry.attempt, retry.status_id, retry.scheduled_at) == (
            attempt + 1,
            ExecutionStatus.WAITING,
            rows[0].scheduled_at,
        )
        assert ended.retried_by == retry.execution_id
        assert retry.first_execution_id == first
        assert retry.trigger == rows[0].trigger
        delay = 10 * 3 ** (attempt - 1)
        assert retry.release_at is not None
        waited = (retry.release_at - ended.completed_at).total_seconds()
        assert delay <= waited <= delay * (1 + JITTER), waited
        # Not released before its delay; released once it has passed.
        assert await _release(store, sessionmaker, retry.release_at - timedelta(seconds=1)) == []
        assert await _release(store, sessionmaker, retry.release_at) == [retry.execution_id]
        assert (await execution(sessionmaker, retry.execution_id)).status_id == ExecutionStatus.PENDING
        chain.append(retry.execution_id)
    job = await _job(sessionmaker, job_id)
    assert job.consecutive_failures == 1  # one slot failed, however many attempts it took


async def test_the_retry_delay_is_capped_and_a_job_without_retries_gets_none(store: Store, sessionmaker: Maker) -> None:
    capped_job, capped = await pending_run(
        sessionmaker, max_retries=5, retry_delay_seconds=100, retry_backoff_factor=10.0, retry_max_delay_seconds=150
    )
    plain_job, plain = await pending_run(sessionmaker)  # max_retries 0: today's behaviour
    await claim(sessionmaker, [capped, plain])
    for execution_id in (capped, plain):
        await _finish(store, sessionmaker, execution_id, ExecutionStatus.FAILED)
    [first, retry] = await _attempts(sessionmaker, capped_job)
    assert first.completed_at is not None
    assert retry.release_at is not None
    assert 100 <= (retry.release_at - first.completed_at).total_seconds() <= 100 * (1 + JITTER)
    assert len(await _attempts(sessionmaker, plain_job)) == 1
    # The second retry of the capped job would be 1,000 s: capped at 150.
    await _release(store, sessionmaker, retry.release_at)
    await claim(sessionmaker, [retry.execution_id])
    await _finish(store, sessionmaker, retry.execution_id, ExecutionStatus.FAILED)
    third = (await _attempts(sessionmaker, capped_job))[-1]
    second = await execution(sessionmaker, retry.execution_id)
    assert second.completed_at is not None
    assert third.release_at is not None
    assert 150 <= (third.release_at - second.completed_at).total_seconds() <= 150 * (1 + JITTER)


async def test_failed_slots_in_a_row_pause_the_job_and_a_success_starts_the_count_again(
    store: Store, sessionmaker: Maker
) -> None:
    job_id, first = await pending_run(sessionmaker, pause_after_failures=2)
    assert (await _job(sessionmaker, job_id)).consecutive_failures == 0
    async with sessionmaker.begin() as session:  # the job has a next slot, which the pause takes away
        await store.passes.advance(session, [JobAdvance(job_id, await store.clock.now(session) + timedelta(hours=1))])
    await claim(sessionmaker, [first])
    await _finish(store, sessionmaker, first, ExecutionStatus.FAILED)
    assert (await _job(sessionmaker, job_id)).consecutive_failures == 1
    second = await later_run(sessionmaker, job_id)
    await claim(sessionmaker, [second])
    await _finish(store, sessionmaker, second, ExecutionStatus.SUCCESS)
    assert (await _job(sessionmaker, job_id)).consecutive_failures == 0
    for _ in range(2):
        run = await later_run(sessionmaker, job_id)
        await claim(sessionmaker, [run])
        await _finish(store, sessionmaker, run, ExecutionStatus.FAILED)
    job = await _job(sessionmaker, job_id)
    assert (job.consecutive_failures, job.is_paused, job.next_run_at) == (2, True, None)
    assert job.paused_reason is not None
    assert "2 consecutive failed" in job.paused_reason
    # The pause is in the audit trail, written with it: the scheduler as the actor, the run that tipped it.
    async with sessionmaker() as session:
        entries = await store.audit.page(session, AuditFilters(job_id=job_id), limit=10)
    assert [(e.action, e.actor_subject, e.actor_name, e.target) for e in entries] == [
        ("pause", None, SCHEDULER_ACTOR_NAME, run)
    ]
    assert entries[0].request_id == run
    assert entries[0].changes is not None
    assert entries[0].changes["isPaused"] == {"before": False, "after": True}
    assert entries[0].changes["pausedReason"] == {"before": None, "after": job.paused_reason}


async def test_a_run_lost_with_its_executor_is_retried_and_a_cancelled_one_is_not(
    store: Store, sessionmaker: Maker
) -> None:
    job_id, lost = await pending_run(sessionmaker, max_retries=1, retry_delay_seconds=0, retry_max_delay_seconds=0)
    other_job, cancelled = await pending_run(sessionmaker, max_retries=1)
    await claim(sessionmaker, [lost, cancelled], ttl=0.0)  # leases that expire at once
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        assert await store.history.cancel(session, cancelled, by="user u1", now=now) is Cancellation.REQUESTED
    async with sessionmaker.begin() as session:
        orphans = await store.sweeps.fail_orphaned(session, await store.clock.now(session))
    reasons = {o.execution_id: o.reason for o in orphans}
    assert set(reasons) == {lost, cancelled}
    # What each ended as, for the sweep's runs_total by status.
    assert {o.execution_id: o.status for o in orphans} == {
        lost: ExecutionStatus.FAILED,
        cancelled: ExecutionStatus.CANCELLED,
    }
    rows = await executions(sessionmaker, [lost, cancelled])
    assert rows[lost].status_id == ExecutionStatus.FAILED
    assert (rows[cancelled].status_id, rows[cancelled].error_message) == (
        ExecutionStatus.CANCELLED,
        "cancelled: user u1",
    )
    [_, retry] = await _attempts(sessionmaker, job_id)
    assert (retry.attempt, retry.status_id, rows[lost].retried_by) == (2, ExecutionStatus.WAITING, retry.execution_id)
    assert len(await _attempts(sessionmaker, other_job)) == 1


# --- overlap policies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "queue", "replace"])
async def test_a_run_due_while_its_job_is_full_follows_the_overlap_policy(
    store: Store, sessionmaker: Maker, policy: str
) -> None:
    job_id, running = await pending_run(sessionmaker, overlap_policy=policy, max_instances=1)
    [first] = await claim(sessionmaker, [running])
    assert first.outcome is ClaimOutcome.CLAIMED
    due = await later_run(sessionmaker, job_id)
    [verdict] = await claim(sessionmaker, [due], instance="exec-2")
    row = await execution(sessionmaker, due)
    held = await execution(sessionmaker, running)
    if policy == "skip":
        assert (verdict.outcome, row.status_id) == (ClaimOutcome.SKIPPED, ExecutionStatus.SKIPPED)
        return
    assert (verdict.outcome, row.status_id) == (ClaimOutcome.QUEUED, ExecutionStatus.WAITING)
    assert row.queued_at is not None
    assert row.release_at is None
    assert row.published_at is None
    if policy == "replace":
        assert held.cancel_requested_at is not None
        assert held.cancelled_by == f"replaced by run {due}"
        async with sessionmaker.begin() as session:
            renewal = await store.outcomes.renew_leases(session, "exec-1", 60, [running])
        assert renewal.cancelling == {running: f"replaced by run {due}"}
        await _finish(store, sessionmaker, running, ExecutionStatus.CANCELLED)
    else:
        assert held.cancel_requested_at is None
        await _finish(store, sessionmaker, running, ExecutionStatus.SUCCESS)
    # The place freed: the queued run is released, published by the next pass, and claimed.
    released = await execution(sessionmaker, due)
    assert released.release_at is not None
    assert await _release(store, sessionmaker, await db_now(sessionmaker)) == [due]
    [claimed] = await claim(sessionmaker, [due], instance="exec-2")
    assert claimed.outcome is ClaimOutcome.CLAIMED
    assert (await execution(sessionmaker, due)).error_message is None


async def test_queued_runs_start_in_slot_order_and_new_ones_queue_behind_them(
    store: Store, sessionmaker: Maker
) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, overlap_policy="queue", max_instances=1)
        slots = [now - timedelta(seconds=30 - i) for i in range(4)]
        ids = [new_id() for _ in slots]
        await store.outbox.add(session, [NewExecution(eid, job.id, slot) for eid, slot in zip(ids, slots, strict=True)])
    results = await claim(sessionmaker, ids[::-1])  # delivered in reverse order, in one batch
    outcomes = {r.execution_id: r.outcome for r in results}
    assert outcomes[ids[0]] is ClaimOutcome.CLAIMED  # the earliest slot takes the place
    assert {outcomes[eid] for eid in ids[1:]} == {ClaimOutcome.QUEUED}
    started = [ids[0]]
    for _ in range(3):
        await _finish(store, sessionmaker, started[-1], ExecutionStatus.SUCCESS)
        [released] = await _release(store, sessionmaker, await db_now(sessionmaker))
        [claimed] = await claim(sessionmaker, [released])
        assert claimed.outcome is ClaimOutcome.CLAIMED
        started.append(released)
    assert started == ids


async def test_a_new_run_with_a_place_free_still_queues_behind_a_released_one(
    store: Store, sessionmaker: Maker
) -> None:
    job_id, running = await pending_run(sessionmaker, overlap_policy="queue", max_instances=1, lateness_s=5)
    await claim(sessionmaker, [running])
    queued = await later_run(sessionmaker, job_id)
    [verdict] = await claim(sessionmaker, [queued])
    assert verdict.outcome is ClaimOutcome.QUEUED
    await _finish(store, sessionmaker, running, ExecutionStatus.SUCCESS)
    await _release(store, sessionmaker, await db_now(sessionmaker))  # released: its message is on its way
    newer = await later_run(sessionmaker, job_id)
    [overtaking] = await claim(sessionmaker, [newer])
    assert overtaking.outcome is ClaimOutcome.QUEUED  # the place is the released run's
    [claimed] = await claim(sessionmaker, [queued])
    assert claimed.outcome is ClaimOutcome.CLAIMED


async def test_a_retry_waits_for_a_place_even_under_overlap_policy_skip(store: Store, sessionmaker: Maker) -> None:
    job_id, first = await pending_run(sessionmaker, max_retries=1, retry_delay_seconds=0, retry_max_delay_seconds=0)
    await claim(sessionmaker, [first])
    await _finish(store, sessionmaker, first, ExecutionStatus.FAILED)
    [retry] = await _release(store, sessionmaker, await db_now(sessionmaker))
    async with sessionmaker.begin() as session:
        await hold_locks(session, job_id, "exec-other", ttl=600)  # another run of the job holds its one place
    [verdict] = await claim(sessionmaker, [retry])
    assert verdict.outcome is ClaimOutcome.QUEUED
    assert (await execution(sessionmaker, retry)).status_id == ExecutionStatus.WAITING


async def test_the_sweep_closes_queued_first_attempts_past_their_grace_and_unsticks_a_stalled_queue(
    store: Store, sessionmaker: Maker
) -> None:
    job_id, late = await pending_run(
        sessionmaker, overlap_policy="queue", max_instances=1, misfire_grace_time=1, lateness_s=30
    )
    async with sessionmaker.begin() as session:
        await hold_locks(session, job_id, "exec-other", ttl=600)
    [verdict] = await claim(sessionmaker, [late])
    assert verdict.outcome is ClaimOutcome.MISSED  # past its grace already: missed, not queued
    fresh_job, fresh = await pending_run(sessionmaker, overlap_policy="queue", max_instances=1, misfire_grace_time=2)
    async with sessionmaker.begin() as session:
        await hold_locks(session, fresh_job, "exec-other", ttl=0.5)
    [queued] = await claim(sessionmaker, [fresh])
    assert queued.outcome is ClaimOutcome.QUEUED
    # The lock that held the place expires without a finish (its executor vanished, nothing to fail): the queue
    # would wait for ever; the sweep releases its head.
    later = await db_now(sessionmaker) + timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        assert await store.sweeps.release_stalled(session, later, 100) == 1
    assert (await execution(sessionmaker, fresh)).release_at is not None
    # Left waiting past its grace instead, it is closed missed.
    async with sessionmaker.begin() as session:
        unclaimed = await store.sweeps.close_unclaimed(session, later + timedelta(seconds=5), 100)
    assert [run.execution_id for run in unclaimed] == [fresh]
    assert (await execution(sessionmaker, fresh)).status_id == ExecutionStatus.MISSED


# --- cancellation --------------------------------------------------------------------------------------------


async def test_a_run_not_started_is_cancelled_at_once_and_a_running_one_on_request(
    store: Store, sessionmaker: Maker
) -> None:
    job_id, pending = await pending_run(sessionmaker)
    _, running = await pending_run(sessionmaker)
    await claim(sessionmaker, [running])
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        assert await store.history.cancel(session, pending, by="user u1", now=now) is Cancellation.CANCELLED
        assert await store.history.cancel(session, running, by="user u2", now=now) is Cancellation.REQUESTED
    async with sessionmaker.begin() as session:
        assert await store.history.cancel(session, running, by="user u3", now=now) is Cancellation.ALREADY_REQUESTED
        assert await store.history.cancel(session, pending, by="user u3", now=now) is Cancellation.FINISHED
    rows = await executions(sessionmaker, [pending, running])
    assert (rows[pending].status_id, rows[pending].cancelled_by) == (ExecutionStatus.CANCELLED, "user u1")
    assert (rows[running].status_id, rows[running].cancelled_by) == (ExecutionStatus.RUNNING, "user u2")
    # The claim of a cancelled run finds nothing to do (its message may still come).
    [late] = await claim(sessionmaker, [pending])
    assert late.outcome is ClaimOutcome.ALREADY_HANDLED
    async with sessionmaker.begin() as session:
        renewal = await store.outcomes.renew_leases(session, "exec-1", 60, [running])
    assert renewal.held == {running}
    assert renewal.cancelling == {running: "user u2"}
    await _finish(store, sessionmaker, running, ExecutionStatus.CANCELLED)
    assert await locks(sessionmaker) == {}
    assert len(await _attempts(sessionmaker, job_id)) == 1


async def test_deleting_a_job_cancels_its_waiting_runs(store: Store, sessionmaker: Maker) -> None:
    job_id, first = await pending_run(sessionmaker, max_retries=3)
    await claim(sessionmaker, [first])
    await _finish(store, sessionmaker, first, ExecutionStatus.FAILED)
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        assert await store.history.cancel_waiting(session, job_id, reason="cancelled: deleted", now=now) == 1
    [_, retry] = await _attempts(sessionmaker, job_id)
    assert retry.status_id == ExecutionStatus.CANCELLED
    assert await _release(store, sessionmaker, now + timedelta(days=1)) == []
