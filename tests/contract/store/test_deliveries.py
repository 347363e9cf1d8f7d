"""The notifications' outbox in the store, on both backends: an event becomes one delivery per channel that takes
it (its type, its job), all with one event id; the relay's claim takes due deliveries for one attempt under a
lease; each attempt's outcome is recorded fenced on its attempt number; a channel's deliveries are listed by
status, newest first."""

from __future__ import annotations

from datetime import timedelta

from scheduler_core.notifications import Event, EventType
from scheduler_core.store import AttemptOutcome, Store
from scheduler_core.store.models import DeliveryStatus
from tests.contract.store.support import Maker, db_now
from tests.support.factories import interval_job
from tests.support.notifications import SECRET, add_channel, deliveries
from tests.support.stores import store_of


async def _enqueue(sessionmaker: Maker, *events: Event) -> int:
    async with sessionmaker.begin() as session:
        return await store_of(session).deliveries.enqueue(session, events)


async def test_an_event_goes_to_each_channel_that_takes_its_type_and_job_with_one_event_id(
    store: Store, sessionmaker: Maker
) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, name_en="Nightly export", name_ar="تصدير")
        other = await interval_job(session, next_run_at=None)
    every = await add_channel(sessionmaker)
    failures_of_job = await add_channel(sessionmaker, events=["run.failed", "job.paused"], job_ids=[job.id])
    await add_channel(sessionmaker, events=["run.missed"])  # another type
    await add_channel(sessionmaker, enabled=False)  # disabled
    now = await db_now(sessionmaker)

    data = {"reason": "by hand"}
    assert await _enqueue(sessionmaker, Event(EventType.JOB_PAUSED, now, job.id, data)) == 2
    assert await _enqueue(sessionmaker, Event(EventType.JOB_PAUSED, now, other.id, data)) == 1
    assert await _enqueue(sessionmaker, Event(EventType.EXECUTOR_LOST, now)) == 1  # no job: job filters exclude it

    rows = await deliveries(sessionmaker)
    assert [(r.channel_id, r.job_id, r.event_type) for r in rows] == [
        (every, job.id, "job.paused"),
        (failures_of_job, job.id, "job.paused"),
        (every, other.id, "job.paused"),
        (every, None, "executor.lost"),
    ]
    first, second = rows[0], rows[1]
    assert first.event_id == second.event_id == first.payload["id"]
    assert first.payload == second.payload
    assert first.payload["type"] == "job.paused"
    assert first.payload["job"] == {"id": job.id, "nameEn": "Nightly export", "nameAr": "تصدير"}
    assert first.payload["data"] == data
    assert rows[3].payload["job"] is None
    assert len({r.event_id for r in rows}) == 3
    assert all(r.status == DeliveryStatus.PENDING and r.attempts == 0 for r in rows)
    later = await db_now(sessionmaker)
    assert all(now <= r.next_attempt_at == r.created_at <= later for r in rows)


async def test_without_a_channel_taking_it_an_event_writes_nothing(store: Store, sessionmaker: Maker) -> None:
    now = await db_now(sessionmaker)
    assert await _enqueue(sessionmaker, Event(EventType.EXECUTOR_LOST, now)) == 0
    await add_channel(sessionmaker, events=["run.failed"])
    assert await _enqueue(sessionmaker, Event(EventType.EXECUTOR_LOST, now)) == 0
    assert await deliveries(sessionmaker) == []


async def test_the_claim_takes_due_deliveries_for_one_attempt_under_a_lease(store: Store, sessionmaker: Maker) -> None:
    channel_id = await add_channel(sessionmaker, url="http://hooks.example/a")
    disabled_later = await add_channel(sessionmaker)
    now = await db_now(sessionmaker)
    await _enqueue(sessionmaker, *(Event(EventType.EXECUTOR_LOST, now, data={"n": i}) for i in range(3)))
    async with sessionmaker.begin() as session:
        await store.channels.update(session, disabled_later, {"enabled": False})

    async with sessionmaker.begin() as session:
        taken = await store.deliveries.claim_due(session, limit=2, lease=60)
    assert len(taken) == 2
    assert all(d.attempt == 1 and d.url == "http://hooks.example/a" and d.secret == SECRET for d in taken)
    assert len({d.payload["data"]["n"] for d in taken}) == 2
    async with sessionmaker.begin() as session:
        rest = await store.deliveries.claim_due(session, limit=10, lease=60)
    assert len(rest) == 1  # the third; the disabled channel's three are held while it is disabled
    async with sessionmaker.begin() as session:
        assert await store.deliveries.claim_due(session, limit=10, lease=60) == []  # all leased

    rows = {r.id: r for r in await deliveries(sessionmaker, channel_id=channel_id)}
    leased = rows[taken[0].id]
    assert leased.attempts == 1
    assert leased.next_attempt_at >= now + timedelta(seconds=59)
    assert leased.status == DeliveryStatus.PENDING


async def test_a_lease_that_ran_out_lets_another_relay_retry_and_fences_the_late_outcome(
    store: Store, sessionmaker: Maker
) -> None:
    await add_channel(sessionmaker)
    now = await db_now(sessionmaker)
    await _enqueue(sessionmaker, Event(EventType.EXECUTOR_LOST, now))
    async with sessionmaker.begin() as session:
        [first] = await store.deliveries.claim_due(session, limit=10, lease=0)  # its lease over at once
    async with sessionmaker.begin() as session:
        [second] = await store.deliveries.claim_due(session, limit=10, lease=60)
    assert (first.id, first.attempt, second.attempt) == (second.id, 1, 2)
    async with sessionmaker.begin() as session:
        late = AttemptOutcome(first.id, first.attempt, delivered=True, status_code=200)
        assert await store.deliveries.record(session, [late]) == 0
        current = AttemptOutcome(second.id, second.attempt, delivered=True, status_code=204)
        assert await store.deliveries.record(session, [current]) == 1
    [row] = await deliveries(sessionmaker)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 2, 204)
    assert row.delivered_at is not None


async def test_a_failed_attempt_is_rescheduled_or_given_up(store: Store, sessionmaker: Maker) -> None:
    await add_channel(sessionmaker)
    now = await db_now(sessionmaker)
    await _enqueue(sessionmaker, Event(EventType.EXECUTOR_LOST, now), Event(EventType.EXECUTOR_LOST, now))
    async with sessionmaker.begin() as session:
        retried, given_up = await store.deliveries.claim_due(session, limit=10, lease=60)
    later = now + timedelta(seconds=30)
    async with sessionmaker.begin() as session:
        outcomes = [
            AttemptOutcome(retried.id, 1, delivered=False, status_code=503, error="HTTP 503", next_attempt_at=later),
            AttemptOutcome(given_up.id, 1, delivered=False, error="ConnectError: refused"),
        ]
        assert await store.deliveries.record(session, outcomes) == 2
    rows = {r.id: r for r in await deliveries(sessionmaker)}
    assert (rows[retried.id].status, rows[retried.id].last_status_code, rows[retried.id].last_error) == (
        DeliveryStatus.PENDING,
        503,
        "HTTP 503",
    )
    assert rows[retried.id].next_attempt_at == later
    assert (rows[given_up.id].status, rows[given_up.id].last_error) == (DeliveryStatus.FAILED, "ConnectError: refused")
    async with sessionmaker.begin() as session:
        assert await store.deliveries.claim_due(session, limit=10, lease=60) == []  # the retry is not due yet


async def test_a_channels_deliveries_are_listed_newest_first_by_status(store: Store, sessionmaker: Maker) -> None:
    channel_id = await add_channel(sessionmaker)
    other = await add_channel(sessionmaker, events=["job.silent"])
    now = await db_now(sessionmaker)
    await _enqueue(sessionmaker, *(Event(EventType.EXECUTOR_LOST, now, data={"n": i}) for i in range(3)))
    async with sessionmaker.begin() as session:
        [oldest] = await store.deliveries.claim_due(session, limit=1, lease=60)
        await store.deliveries.record(session, [AttemptOutcome(oldest.id, 1, delivered=True, status_code=200)])
    await _enqueue(sessionmaker, Event(EventType.JOB_SILENT, now))
    async with sessionmaker() as session:
        everything, total = await store.deliveries.page(session, channel_id, None, 1, 10)
        delivered, delivered_total = await store.deliveries.page(session, channel_id, "delivered", 1, 10)
        second_page, _ = await store.deliveries.page(session, channel_id, None, 2, 3)
        others, _ = await store.deliveries.page(session, other, None, 1, 10)
    assert total == 4
    assert [d.id for d in everything] == sorted((d.id for d in everything), reverse=True)
    assert (delivered_total, [d.id for d in delivered]) == (1, [oldest.id])
    assert [d.id for d in second_page] == [everything[-1].id]
    assert [d.event_type for d in others] == ["job.silent"]


async def test_retention_deletes_old_deliveries_that_are_done_and_keeps_pending_ones(
    store: Store, sessionmaker: Maker
) -> None:
    await add_channel(sessionmaker)
    now = await db_now(sessionmaker)
    await _enqueue(sessionmaker, *(Event(EventType.EXECUTOR_LOST, now, data={"n": i}) for i in range(4)))
    async with sessionmaker.begin() as session:
        delivered, failed, _ = await store.deliveries.claim_due(session, limit=3, lease=60)
        await store.deliveries.record(
            session,
            [AttemptOutcome(delivered.id, 1, delivered=True), AttemptOutcome(failed.id, 1, delivered=False, error="x")],
        )
    later = await db_now(sessionmaker) + timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        assert await store.deliveries.delete_finished_before(session, now - timedelta(seconds=1), 10) == 0  # too new
        assert await store.deliveries.delete_finished_before(session, later, 1) == 1
        assert await store.deliveries.delete_finished_before(session, later, 10) == 1
    assert {row.status for row in await deliveries(sessionmaker)} == {DeliveryStatus.PENDING}
    assert len(await deliveries(sessionmaker)) == 2
