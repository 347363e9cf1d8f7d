"""The notifications' relay against a receiver on 127.0.0.1, over both store backends: a delivery is POSTed once,
signed, with its event id, and recorded delivered; a refusing answer (5xx, a redirect), an unreachable receiver or
an address the outbound guard refuses is an attempt that failed, tried again on the backoff schedule read from the
database, and given up past the window; a Slack channel gets {"text"}; a disabled channel's deliveries wait."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.notifications import DeliveryBackoff, Event, EventType, render_body
from scheduler_core.observability.metrics import Metrics
from scheduler_core.outbound import OutboundGuard
from scheduler_core.store import Store
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import DeliveryStatus
from scheduler_timekeeper.notifications import NotificationRelay
from tests.support.notifications import SECRET, Maker, add_channel, deliveries
from tests.support.receiver import Receiver

BACKOFF = DeliveryBackoff(first_delay=30, max_delay=300, give_up_after=3600)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = Receiver()
    await started.start()
    yield started
    await started.stop()


def relay(
    sessionmaker: Maker,
    store: Store,
    *,
    allow: bool = True,
    backoff: DeliveryBackoff = BACKOFF,
    metrics: Metrics | None = None,
) -> NotificationRelay:
    return NotificationRelay(
        sessionmaker,
        store,
        metrics or Metrics(),
        guard=OutboundGuard.allowing(["127.0.0.1"] if allow else []),
        backoff=backoff,
        timeout=5.0,
        poll_interval=0.1,
        jitter=lambda: 0.0,
    )


async def send_all(relay: NotificationRelay, allow: bool = True) -> int:
    async with OutboundGuard.allowing(["127.0.0.1"] if allow else []).client(follow_redirects=False) as client:
        return await relay.relay_once(client)


async def emit(sessionmaker: Maker, store: Store, *events: Event) -> None:
    async with sessionmaker.begin() as session:
        await store.deliveries.enqueue(session, events)


async def lost(sessionmaker: Maker, store: Store) -> None:
    async with sessionmaker() as session:
        now = await store.clock.now(session)
    await emit(sessionmaker, store, Event(EventType.EXECUTOR_LOST, now, data={"instanceId": "e-1"}))


async def test_a_delivery_is_posted_once_signed_with_its_event_id_and_recorded_delivered(
    engine: AsyncEngine, store: Store, receiver: Receiver
) -> None:
    maker = create_sessionmaker(engine)
    await add_channel(maker, url=receiver.url)
    await lost(maker, store)
    assert await send_all(relay(maker, store)) == 1
    assert await send_all(relay(maker, store)) == 0

    [received] = receiver.received
    [row] = await deliveries(maker)
    assert received.path == "/hook"
    assert received.signed_by(SECRET, now=time.time())
    assert received.event_id == row.event_id == received.payload["id"]
    assert received.headers["x-scheduler-event-type"] == "executor.lost"
    assert received.headers["content-type"] == "application/json"
    assert received.body == render_body(row.payload, "json")
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (DeliveryStatus.DELIVERED, 1, 200, None)
    assert row.delivered_at is not None


@pytest.mark.parametrize("status", [503, 302])
async def test_a_refusing_answer_is_tried_again_on_the_backoff_schedule(
    engine: AsyncEngine, store: Store, receiver: Receiver, status: int
) -> None:
    maker = create_sessionmaker(engine)
    receiver.status = lambda _: status
    await add_channel(maker, url=receiver.url)
    await lost(maker, store)
    metrics = Metrics()
    await send_all(relay(maker, store, metrics=metrics))
    [row] = await deliveries(maker)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.PENDING, 1, status)
    # The series SchedulerNotificationsFailing reads (deploy/observability) moves.
    sample = metrics.registry.get_sample_value("scheduler_notification_deliveries_total", {"outcome": "retrying"})
    assert sample == 1.0
    assert row.last_error == f"HTTP {status}: ok"
    async with maker() as session:
        now = await store.clock.now(session)
    # 30 s from the failed attempt (jitter 0 here), by the database's clock.
    assert now + timedelta(seconds=29) <= row.next_attempt_at <= now + timedelta(seconds=30)
    assert await send_all(relay(maker, store)) == 0  # not due yet
    assert len(receiver.received) == 1  # a redirect is not followed


async def test_an_unreachable_or_refused_receiver_fails_the_attempt_with_the_reason(
    engine: AsyncEngine, store: Store, receiver: Receiver
) -> None:
    maker = create_sessionmaker(engine)
    unreachable = Receiver()
    await unreachable.start()
    await unreachable.stop()  # a port nobody listens on now
    closed = await add_channel(maker, url=unreachable.url)
    guarded = await add_channel(maker, url=receiver.url)
    await lost(maker, store)
    await send_all(relay(maker, store, allow=False), allow=False)
    errors = {row.channel_id: row.last_error or "" for row in await deliveries(maker)}
    assert errors[closed].startswith(("OutboundRefused", "ConnectError"))
    assert errors[guarded].startswith("OutboundRefused: refused http://127.0.0.1:")
    assert "SCHEDULER_OUTBOUND_ALLOW" in errors[guarded]
    assert receiver.received == []
    assert {row.status for row in await deliveries(maker)} == {DeliveryStatus.PENDING}


async def test_a_delivery_past_its_window_is_given_up(engine: AsyncEngine, store: Store, receiver: Receiver) -> None:
    maker = create_sessionmaker(engine)
    receiver.status = lambda _: 500
    await add_channel(maker, url=receiver.url)
    await lost(maker, store)
    await send_all(relay(maker, store, backoff=DeliveryBackoff(first_delay=30, max_delay=300, give_up_after=10)))
    [row] = await deliveries(maker)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.FAILED, 1, "HTTP 500: ok")


async def test_a_slack_channel_gets_text_and_a_disabled_channel_gets_nothing_until_enabled(
    engine: AsyncEngine, store: Store, receiver: Receiver
) -> None:
    maker = create_sessionmaker(engine)
    slack = await add_channel(maker, url=receiver.url, format="slack", secret=None)
    off = await add_channel(maker, url=receiver.url)
    await lost(maker, store)
    async with maker.begin() as session:
        await store.channels.update(session, off, {"enabled": False})
    await send_all(relay(maker, store))
    [received] = receiver.received
    assert received.payload == {"text": "[jobscheduler] executor e-1 was lost"}
    assert "x-scheduler-signature" not in received.headers  # no secret: unsigned
    assert received.event_id == (await deliveries(maker, channel_id=slack))[0].event_id

    async with maker.begin() as session:
        await store.channels.update(session, off, {"enabled": True})
    await send_all(relay(maker, store))
    assert [r.payload.get("type") for r in receiver.received] == [None, "executor.lost"]
    assert len({r.event_id for r in receiver.received}) == 1  # the same event, to both channels
