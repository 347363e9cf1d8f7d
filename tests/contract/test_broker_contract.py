"""Contract of :class:`scheduler_core.broker.Broker`, run against every implementation.

Each test takes the ``broker`` fixture (see ``conftest.py``), parametrized over the in-memory and the RabbitMQ
broker, so both implementations are held to the same behaviour. Tests marked ``rabbitmq`` at the end cover what
only a networked broker can do (connection loss, broker outage, undecodable bodies, queue types).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import aio_pika
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed

from scheduler_core.broker import (
    Broker,
    BrokerUnavailable,
    Delivery,
    DeliveryAlreadySettled,
    InMemoryBroker,
    MessageDecodeError,
    RabbitMQBroker,
    RunMessage,
)
from scheduler_core.broker.base import decode_runs, encode_runs, pack_runs
from scheduler_core.broker.startup import until_available

if TYPE_CHECKING:
    from tests.support.proxy import TcpProxy
    from tests.support.rabbit import RabbitAdmin

    from .conftest import BrokerFactory, RabbitFactory

# A hung broker call must fail the test well before the global 120 s timeout.
pytestmark = pytest.mark.timeout(60)

# Seconds to wait for something that should happen "now"; generous for a loaded CI machine.
WAIT_S = 10.0


def make_message(*, job_id: int = 1, priority: int = 0, scheduled_at: datetime | None = None) -> RunMessage:
    return RunMessage(
        execution_id=str(uuid.uuid4()),
        job_id=job_id,
        scheduled_at=scheduled_at or datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC),
        priority=priority,
    )


async def next_delivery(queue: asyncio.Queue[Delivery]) -> Delivery:
    return await asyncio.wait_for(queue.get(), WAIT_S)


async def wait_for(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {WAIT_S} s")
        await asyncio.sleep(0.01)


async def wait_for_depth(broker: Broker, expected: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while (depth := await broker.queue_depth()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"queue depth {depth}, expected {expected}")
        await asyncio.sleep(0.05)


def acking_into(queue: asyncio.Queue[Delivery]) -> Callable[[Delivery], Awaitable[None]]:
    async def handler(delivery: Delivery) -> None:
        await delivery.ack()
        queue.put_nowait(delivery)

    return handler


# -- message encoding ----------------------------------------------------------------------------------------


def test_message_round_trips_through_bytes() -> None:
    message = make_message(job_id=2**40, priority=-3)
    body = message.encode()
    assert b" " not in body  # compact JSON
    decoded = RunMessage.decode(body)
    assert decoded == message
    assert decoded.scheduled_at.tzinfo is not None
    assert decoded.scheduled_at.utcoffset() == timedelta(0)


def test_message_normalises_to_utc_and_rejects_naive() -> None:
    paris = timezone(timedelta(hours=2))
    message = make_message(scheduled_at=datetime(2026, 6, 1, 12, 0, tzinfo=paris))
    assert message.scheduled_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert message.scheduled_at.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        make_message(scheduled_at=datetime(2026, 6, 1, 12, 0))


VALID = {"execution_id": "6f1c7d0e-8a9b-4c1d-9e2f-3a4b5c6d7e8f", "job_id": 1, "priority": 0}
VALID_AT = '"scheduled_at":"2026-01-01T00:00:00+00:00"'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1,2,3]", id="array"),
        pytest.param(b'"a string"', id="string"),
        pytest.param(b'{"job_id":1}', id="missing-fields"),
        pytest.param(b'{"execution_id":"x","job_id":1,"priority":0,' + VALID_AT.encode() + b"}", id="bad-uuid"),
        pytest.param(
            b'{"execution_id":"6f1c7d0e-8a9b-4c1d-9e2f-3a4b5c6d7e8f","job_id":"1","priority":0,'
            + VALID_AT.encode()
            + b"}",
            id="job-id-string",
        ),
        pytest.param(
            b'{"execution_id":"6f1c7d0e-8a9b-4c1d-9e2f-3a4b5c6d7e8f","job_id":true,"priority":0,'
            + VALID_AT.encode()
            + b"}",
            id="job-id-bool",
        ),
        pytest.param(
            b'{"execution_id":"6f1c7d0e-8a9b-4c1d-9e2f-3a4b5c6d7e8f","job_id":1,"priority":1.5,'
            + VALID_AT.encode()
            + b"}",
            id="priority-float",
        ),
        pytest.param(
            b'{"execution_id":"6f1c7d0e-8a9b-4c1d-9e2f-3a4b5c6d7e8f","job_id":1,"priority":0,'
            b'"scheduled_at":"2026-01-01T00:00:00"}',
            id="naive-datetime",
        ),
        pytest.param(
            b'{"execution_id":"6f1c7d0e-8a9b-4c1d-9e2f-3a4b5c6d7e8f","job_id":1,"priority":0,'
            b'"scheduled_at":"yesterday"}',
            id="bad-datetime",
        ),
        pytest.param(b"[" * 100_000, id="deeply-nested"),
    ],
)
def test_decode_rejects_garbage(body: bytes) -> None:
    with pytest.raises(MessageDecodeError):
        RunMessage.decode(body)
    assert issubclass(MessageDecodeError, ValueError)


def test_decode_ignores_unknown_fields() -> None:
    body = b'{"execution_id":"6f1c7d0e-8a9b-4c1d-9e2f-3a4b5c6d7e8f","job_id":1,"priority":0,"new":[1],'
    body += VALID_AT.encode() + b"}"
    assert RunMessage.decode(body).job_id == 1


def test_one_run_keeps_the_one_run_body_and_several_share_one() -> None:
    one = make_message(job_id=7)
    # A single run is encoded exactly as before packing existed: executors of either version read it.
    assert encode_runs([one]) == one.encode()
    assert decode_runs(one.encode()) == (one,)
    several = [make_message(job_id=i, priority=i) for i in range(5)]
    body = encode_runs(several)
    assert body.startswith(b'{"runs":[')
    assert decode_runs(body) == tuple(several)
    with pytest.raises(ValueError, match="at least one run"):
        encode_runs([])


def traced(message: RunMessage, number: int = 1) -> RunMessage:
    """The run with a W3C trace context of its own."""
    return replace(message, traceparent=f"00-{number:032x}-{number:016x}-01")


def test_a_runs_trace_context_is_on_the_wire_only_when_it_has_one() -> None:
    plain, with_trace = make_message(), traced(make_message(), 7)
    assert b"traceparent" not in plain.encode()  # traces off: the body is what it always was
    assert RunMessage.decode(with_trace.encode()) == with_trace
    several = [traced(make_message(), n) for n in range(1, 4)]
    assert decode_runs(encode_runs(several)) == tuple(several)  # each run of a packed message keeps its own


@pytest.mark.parametrize("value", ["", "00-xyz", 7, None, "01-" + "a" * 32 + "-" + "b" * 16 + "-01"])
def test_a_malformed_trace_context_is_dropped_and_the_run_kept(value: object) -> None:
    raw = dict(make_message().to_json(), traceparent=value)
    decoded = RunMessage.decode(json.dumps(raw).encode())
    assert decoded.traceparent is None
    assert decoded.execution_id == raw["execution_id"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"runs":[]}', id="empty-runs"),
        pytest.param(b'{"runs":{}}', id="runs-not-array"),
        pytest.param(b'{"runs":[1]}', id="run-not-object"),
        pytest.param(b"[]", id="array"),
    ],
)
def test_decode_runs_rejects_garbage(body: bytes) -> None:
    with pytest.raises(MessageDecodeError):
        decode_runs(body)


def test_decode_runs_rejects_a_message_with_one_bad_run_whole() -> None:
    bad = dict(make_message().to_json(), execution_id="not-a-uuid")
    body = json.dumps({"runs": [make_message().to_json(), bad]}).encode()
    with pytest.raises(MessageDecodeError, match="UUID"):
        decode_runs(body)


def test_pack_runs_groups_by_clamped_priority_in_publish_order() -> None:
    low = [make_message(job_id=i, priority=-5 if i % 2 else 0) for i in range(5)]  # all clamp to 0
    high = [make_message(job_id=100 + i, priority=50) for i in range(4)]  # clamps to 10
    runs = [low[0], high[0], low[1], low[2], high[1], high[2], low[3], low[4], high[3]]
    packed = pack_runs(runs, runs_per_message=2, max_priority=10)
    assert packed == [
        (0, (low[0], low[1])),
        (0, (low[2], low[3])),
        (0, (low[4],)),
        (10, (high[0], high[1])),
        (10, (high[2], high[3])),
    ]
    assert pack_runs(runs, runs_per_message=1000, max_priority=10) == [(0, tuple(low)), (10, tuple(high))]
    assert pack_runs([], runs_per_message=3, max_priority=10) == []


@pytest.mark.parametrize("runs_per_message", [0, 1001, True])
def test_runs_per_message_is_validated(runs_per_message: int) -> None:
    with pytest.raises(ValueError, match="runs_per_message"):
        InMemoryBroker(runs_per_message=runs_per_message)
    with pytest.raises(ValueError, match="runs_per_message"):
        RabbitMQBroker("amqp://127.0.0.1/", "q", runs_per_message=runs_per_message)


# -- contract, every implementation --------------------------------------------------------------------------


async def test_runs_published_together_share_messages(packing_broker: Broker) -> None:
    normal = [make_message(job_id=i, priority=1) for i in range(7)]
    urgent = [make_message(job_id=100 + i, priority=9) for i in range(2)]
    await packing_broker.publish(normal + urgent)
    # 7 runs of one priority in messages of up to 3 (3 + 3 + 1), and the 2 urgent ones in a message of their own.
    await wait_for_depth(packing_broker, 4)

    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with await packing_broker.consume(acking_into(received), prefetch=10):
        got = [await next_delivery(received) for _ in range(4)]
    assert got[0].messages == tuple(urgent)  # higher priority first, as a whole message
    assert [d.messages for d in got[1:]] == [tuple(normal[0:3]), tuple(normal[3:6]), (normal[6],)]
    assert got[3].message == normal[6]
    with pytest.raises(ValueError, match="carries 3 runs"):
        _ = got[1].message
    assert await packing_broker.queue_depth() == 0


async def test_each_run_keeps_its_trace_context_through_the_broker(packing_broker: Broker) -> None:
    sent = [traced(make_message(job_id=i), i + 1) for i in range(4)]
    await packing_broker.publish(sent)
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with await packing_broker.consume(acking_into(received), prefetch=10):
        got = [await next_delivery(received) for _ in range(2)]  # 3 + 1 runs
    assert [run for delivery in got for run in delivery.messages] == sent


async def test_a_rejected_message_comes_back_with_all_its_runs(packing_broker: Broker) -> None:
    sent = [make_message(job_id=i) for i in range(3)]
    await packing_broker.publish(sent)
    seen: asyncio.Queue[Delivery] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        seen.put_nowait(delivery)
        if delivery.redelivered:
            await delivery.ack()
        else:
            await delivery.reject(requeue=True)

    async with await packing_broker.consume(handler, prefetch=1):
        first, second = await next_delivery(seen), await next_delivery(seen)
    assert (first.messages, first.redelivered) == (tuple(sent), False)
    assert (second.messages, second.redelivered) == (tuple(sent), True)
    with pytest.raises(DeliveryAlreadySettled, match="and 2 more"):
        await second.ack()


async def test_publish_consume_ack_round_trips(broker: Broker) -> None:
    sent = make_message(job_id=42, priority=3)
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    await broker.publish([sent])

    async with await broker.consume(acking_into(received), prefetch=1):
        delivery = await next_delivery(received)

    assert delivery.message == sent
    assert delivery.message.scheduled_at.utcoffset() == timedelta(0)
    assert delivery.redelivered is False
    assert delivery.settled is True
    # Acked: nothing comes back after the consumer closed.
    assert await broker.queue_depth() == 0


async def test_publish_of_1000_messages_is_confirmed(broker: Broker) -> None:
    messages = [make_message(job_id=i, priority=i % 11) for i in range(1000)]
    started = time.perf_counter()
    await broker.publish(messages)
    elapsed = time.perf_counter() - started
    print(f"\n{type(broker).__name__}: published and confirmed 1000 messages in {elapsed * 1000:.0f} ms")
    # Confirmed means enqueued: every message is ready in the queue as soon as publish returns.
    assert await broker.queue_depth() == 1000


async def test_empty_publish_is_a_no_op(broker: Broker) -> None:
    await broker.publish([])
    assert await broker.queue_depth() == 0


async def test_reject_with_requeue_redelivers(broker: Broker) -> None:
    sent = make_message()
    seen: asyncio.Queue[Delivery] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        seen.put_nowait(delivery)
        if delivery.redelivered:
            await delivery.ack()
        else:
            await delivery.reject(requeue=True)

    await broker.publish([sent])
    async with await broker.consume(handler, prefetch=1):
        first = await next_delivery(seen)
        second = await next_delivery(seen)
    assert (first.message, first.redelivered) == (sent, False)
    assert (second.message, second.redelivered) == (sent, True)
    assert await broker.queue_depth() == 0


async def test_reject_without_requeue_drops(broker: Broker) -> None:
    dropped, kept = make_message(job_id=1), make_message(job_id=2)
    seen: asyncio.Queue[Delivery] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        seen.put_nowait(delivery)
        if delivery.message == dropped:
            await delivery.reject(requeue=False)
        else:
            await delivery.ack()

    await broker.publish([dropped, kept])
    async with await broker.consume(handler, prefetch=1):
        got = [await next_delivery(seen), await next_delivery(seen)]
        # Give a wrongly requeued message the time to come back.
        await asyncio.sleep(0.3)
    assert [d.message for d in got] == [dropped, kept]
    assert seen.empty()
    assert await broker.queue_depth() == 0


async def test_unacked_messages_return_when_consumer_cancelled(broker: Broker) -> None:
    sent = [make_message(job_id=i) for i in range(3)]
    held: asyncio.Queue[Delivery] = asyncio.Queue()
    cancelled: list[int] = []

    async def holding_handler(delivery: Delivery) -> None:
        held.put_nowait(delivery)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(delivery.message.job_id)
            raise

    await broker.publish(sent)
    first = await broker.consume(holding_handler, prefetch=3)
    holding = [await next_delivery(held) for _ in sent]
    assert await broker.queue_depth() == 0
    assert first.in_flight == 3

    await first.cancel()
    assert sorted(cancelled) == [0, 1, 2]
    assert first.in_flight == 0
    await first.cancel()  # idempotent

    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with await broker.consume(acking_into(received), prefetch=10):
        again = [await next_delivery(received) for _ in sent]
    assert {d.message for d in again} == {d.message for d in holding} == set(sent)
    assert all(d.redelivered for d in again)
    # Settling a delivery that was handed back is a no-op, not an error.
    await holding[0].ack()
    assert await broker.queue_depth() == 0


async def test_cancel_grace_lets_running_handlers_finish(broker: Broker) -> None:
    finished = asyncio.Event()
    started = asyncio.Event()

    async def slow_handler(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.2)
        await delivery.ack()
        finished.set()

    await broker.publish([make_message()])
    consumer = await broker.consume(slow_handler, prefetch=1)
    await asyncio.wait_for(started.wait(), WAIT_S)
    await consumer.cancel(grace_s=WAIT_S)
    assert finished.is_set()
    await wait_for_depth(broker, 0)


async def test_prefetch_limits_outstanding_deliveries(broker: Broker) -> None:
    gate = asyncio.Event()
    in_flight = 0
    max_in_flight = 0
    done: asyncio.Queue[Delivery] = asyncio.Queue()

    async def blocking_handler(delivery: Delivery) -> None:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        await gate.wait()
        in_flight -= 1
        await delivery.ack()
        done.put_nowait(delivery)

    await broker.publish([make_message(job_id=i) for i in range(5)])
    async with await broker.consume(blocking_handler, prefetch=2) as consumer:
        await wait_for(lambda: in_flight == 2)
        # Time for a third delivery to sneak in if prefetch were not enforced.
        await asyncio.sleep(0.3)
        assert in_flight == 2
        assert consumer.in_flight == 2
        assert await broker.queue_depth() == 3
        gate.set()
        finished = {(await next_delivery(done)).message.job_id for _ in range(5)}
    assert finished == {0, 1, 2, 3, 4}
    assert max_in_flight == 2


async def test_priority_order_with_backlog(broker: Broker) -> None:
    # Out-of-range priorities are clamped into 0..max_priority (10 by default): 99 ranks as 10, -5 as 0.
    priorities = [0, 5, 10, 1, 99, 5, -5, 3, 10, 7, 2, 9]
    sent = [make_message(job_id=i, priority=p) for i, p in enumerate(priorities)]
    await broker.publish(sent)
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with await broker.consume(acking_into(received), prefetch=1):
        order = [(await next_delivery(received)).message for _ in sent]

    def rank(m: RunMessage) -> int:
        return max(0, min(m.priority, 10))

    ranks = [rank(m) for m in order]
    assert ranks == sorted(ranks, reverse=True), ranks
    # FIFO within one priority.
    for level in set(ranks):
        same = [m.job_id for m in order if rank(m) == level]
        assert same == sorted(same), (level, same)


async def test_queue_depth_counts_ready_messages(broker: Broker) -> None:
    assert await broker.queue_depth() == 0
    await broker.publish([make_message(job_id=i) for i in range(3)])
    assert await broker.queue_depth() == 3
    gate = asyncio.Event()
    held: asyncio.Queue[Delivery] = asyncio.Queue()

    async def holding_handler(delivery: Delivery) -> None:
        held.put_nowait(delivery)
        await gate.wait()
        await delivery.ack()

    async with await broker.consume(holding_handler, prefetch=1):
        await next_delivery(held)
        # Delivered but unacked messages are not "ready".
        assert await broker.queue_depth() == 2
        gate.set()
        await next_delivery(held)
        await next_delivery(held)
    await wait_for_depth(broker, 0)


async def test_ping(broker_factory: BrokerFactory) -> None:
    broker = broker_factory()
    assert await broker.ping() is False
    async with broker:
        assert await broker.ping() is True
    assert await broker.ping() is False


async def test_use_outside_context_raises(broker_factory: BrokerFactory) -> None:
    broker = broker_factory()
    with pytest.raises(RuntimeError, match="not started"):
        await broker.publish([make_message()])
    async with broker:
        pass
    with pytest.raises(RuntimeError, match="not started"):
        await broker.queue_depth()


async def test_handler_exception_requeues_and_consumer_keeps_going(broker: Broker) -> None:
    failing, other = make_message(job_id=1), make_message(job_id=2)
    seen: asyncio.Queue[Delivery] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        seen.put_nowait(delivery)
        if delivery.message == failing and not delivery.redelivered:
            raise RuntimeError("task registry exploded")
        await delivery.ack()

    await broker.publish([failing, other])
    async with await broker.consume(handler, prefetch=1):
        got = [await next_delivery(seen) for _ in range(3)]
    assert [(d.message, d.redelivered) for d in got] == [(failing, False), (failing, True), (other, False)]
    assert await broker.queue_depth() == 0


async def test_handler_returning_without_settling_requeues(broker: Broker) -> None:
    sent = make_message()
    seen: asyncio.Queue[Delivery] = asyncio.Queue()

    async def forgetful_handler(delivery: Delivery) -> None:
        seen.put_nowait(delivery)
        if delivery.redelivered:
            await delivery.ack()

    await broker.publish([sent])
    async with await broker.consume(forgetful_handler, prefetch=1):
        first, second = await next_delivery(seen), await next_delivery(seen)
    assert (first.redelivered, second.redelivered) == (False, True)
    assert first.settled  # settled for the handler by the consumer
    assert await broker.queue_depth() == 0


async def test_settling_twice_raises(broker: Broker) -> None:
    outcome: asyncio.Queue[BaseException | None] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        await delivery.ack()
        try:
            await delivery.reject(requeue=True)
        except DeliveryAlreadySettled as exc:
            outcome.put_nowait(exc)
        else:
            outcome.put_nowait(None)

    await broker.publish([make_message()])
    async with await broker.consume(handler, prefetch=1):
        result = await asyncio.wait_for(outcome.get(), WAIT_S)
    assert isinstance(result, DeliveryAlreadySettled)
    assert await broker.queue_depth() == 0


async def test_consumers_share_the_queue(broker: Broker) -> None:
    gate = asyncio.Event()
    by_consumer: dict[str, list[int]] = {"a": [], "b": []}

    def holding(name: str) -> Callable[[Delivery], Awaitable[None]]:
        async def handler(delivery: Delivery) -> None:
            by_consumer[name].append(delivery.message.job_id)
            await gate.wait()
            await delivery.ack()

        return handler

    async with (
        await broker.consume(holding("a"), prefetch=1),
        await broker.consume(holding("b"), prefetch=1),
    ):
        await broker.publish([make_message(job_id=i) for i in range(4)])
        await wait_for(lambda: len(by_consumer["a"]) + len(by_consumer["b"]) == 2)
        # Each consumer holds one: a busy consumer does not starve the other.
        assert len(by_consumer["a"]) == len(by_consumer["b"]) == 1
        gate.set()
        await wait_for(lambda: len(by_consumer["a"]) + len(by_consumer["b"]) == 4)
    assert sorted(by_consumer["a"] + by_consumer["b"]) == [0, 1, 2, 3]


@pytest.mark.parametrize("prefetch", [0, -1, 65536])
async def test_consume_rejects_invalid_prefetch(broker: Broker, prefetch: int) -> None:
    async def handler(delivery: Delivery) -> None:
        await delivery.ack()

    with pytest.raises(ValueError, match="prefetch"):
        await broker.consume(handler, prefetch=prefetch)


async def test_close_hands_back_unsettled_and_stops_handlers(broker_factory: BrokerFactory) -> None:
    broker = broker_factory()
    held: asyncio.Queue[Delivery] = asyncio.Queue()
    cancelled = asyncio.Event()

    async def holding_handler(delivery: Delivery) -> None:
        held.put_nowait(delivery)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with broker:
        await broker.publish([make_message()])
        await broker.consume(holding_handler, prefetch=1)
        await next_delivery(held)
    # Leaving the context cancels the consumer that was never cancelled explicitly.
    assert cancelled.is_set()


def test_invalid_max_priority_is_refused() -> None:
    with pytest.raises(ValueError, match="max_priority"):
        InMemoryBroker(max_priority=0)
    with pytest.raises(ValueError, match="max_priority"):
        RabbitMQBroker("amqp://127.0.0.1/", "q", max_priority=256)


# -- RabbitMQ only -------------------------------------------------------------------------------------------


@pytest.mark.rabbitmq
async def test_connect_to_closed_port_raises_broker_unavailable(make_rabbit_broker: RabbitFactory) -> None:
    broker = make_rabbit_broker(url="amqp://guest:s3cr3t-pw@127.0.0.1:1/", connect_timeout_s=1.5)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as info:
        async with broker:
            pass
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, elapsed
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "s3cr3t-pw" not in message
    assert await broker.ping() is False


@pytest.mark.rabbitmq
async def test_publish_while_broker_down_raises_then_recovers(
    make_rabbit_broker: RabbitFactory, tcp_proxy: TcpProxy, amqp_url: str
) -> None:
    publish_timeout_s = 1.0
    broker = make_rabbit_broker(url=tcp_proxy.url(amqp_url), publish_timeout_s=publish_timeout_s)
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with broker, await broker.consume(acking_into(received), prefetch=1):
        tcp_proxy.down()
        sent = make_message()
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await broker.publish([sent])
        assert time.monotonic() - started < publish_timeout_s + 1.0
        assert await broker.ping() is False
        with pytest.raises(BrokerUnavailable):
            await broker.queue_depth()

        tcp_proxy.up()
        # The caller retries, as the timekeeper's sweep does; the connection comes back by itself.
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                await broker.publish([sent])
                break
            except BrokerUnavailable:
                assert time.monotonic() < deadline, "broker did not come back"
                await asyncio.sleep(0.1)
        delivery = await next_delivery(received)
        assert delivery.message == sent
        assert await broker.ping() is True


@pytest.mark.rabbitmq
async def test_consumer_survives_connection_drop(
    make_rabbit_broker: RabbitFactory, tcp_proxy: TcpProxy, amqp_url: str
) -> None:
    broker = make_rabbit_broker(url=tcp_proxy.url(amqp_url))
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    release = asyncio.Event()
    late_ack_done = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        received.put_nowait(delivery)
        if delivery.message.job_id == 1 and not delivery.redelivered:
            await release.wait()
            await delivery.ack()  # its channel died meanwhile: a logged no-op, never an error
            late_ack_done.set()
            return
        await delivery.ack()

    async with broker, await broker.consume(handler, prefetch=5):
        first = make_message(job_id=1)
        await broker.publish([first])
        assert (await next_delivery(received)).message == first

        tcp_proxy.drop()

        # RabbitMQ requeued the unacked message when the connection died; the restored consumer gets it.
        again = await next_delivery(received)
        assert (again.message, again.redelivered) == (first, True)
        # The handler that was running when the connection dropped was not cancelled.
        release.set()
        await asyncio.wait_for(late_ack_done.wait(), WAIT_S)

        second = make_message(job_id=2)
        await broker.publish([second])
        after = await next_delivery(received)
        assert (after.message, after.redelivered) == (second, False)
        await wait_for_depth(broker, 0)


@pytest.mark.rabbitmq
async def test_undecodable_message_is_dropped_and_consumer_continues(
    make_rabbit_broker: RabbitFactory, rabbit_admin: RabbitAdmin
) -> None:
    broker = make_rabbit_broker()
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with broker, await broker.consume(acking_into(received), prefetch=1):
        await rabbit_admin.publish_raw(broker.queue_name, b"\x00 definitely not a run message")
        good = make_message()
        await broker.publish([good])
        assert (await next_delivery(received)).message == good
        await wait_for_depth(broker, 0)
        assert received.empty()


@pytest.mark.rabbitmq
async def test_quorum_queue_round_trips(make_rabbit_broker: RabbitFactory) -> None:
    broker = make_rabbit_broker(queue_type="quorum")
    assert broker.queue_arguments == {"x-queue-type": "quorum"}
    sent = [make_message(job_id=i, priority=i) for i in range(3)]
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with broker:
        await broker.publish(sent)
        await wait_for_depth(broker, 3)
        async with await broker.consume(acking_into(received), prefetch=2):
            got = {(await next_delivery(received)).message for _ in sent}
        assert got == set(sent)


@pytest.mark.rabbitmq
async def test_redeclaring_queue_with_other_type_fails(make_rabbit_broker: RabbitFactory) -> None:
    classic = make_rabbit_broker()
    async with classic:
        with pytest.raises(ChannelPreconditionFailed):
            async with make_rabbit_broker(queue_name=classic.queue_name, queue_type="quorum"):
                pass


@pytest.mark.rabbitmq
async def test_publish_to_deleted_queue_raises(make_rabbit_broker: RabbitFactory, rabbit_admin: RabbitAdmin) -> None:
    broker = make_rabbit_broker()
    async with broker:
        await rabbit_admin.delete_queues([broker.queue_name])
        # Unroutable (returned by the default exchange) must not count as confirmed.
        with pytest.raises(BrokerUnavailable, match="not confirmed"):
            await broker.publish([make_message()])


@pytest.mark.rabbitmq
@pytest.mark.rabbitmq
async def test_a_traced_one_run_message_carries_its_traceparent_header(
    make_rabbit_broker: RabbitFactory, amqp_url: str
) -> None:
    broker = make_rabbit_broker()
    run, untraced = traced(make_message(), 9), make_message()
    async with broker:
        await broker.publish([run])
        await broker.publish([untraced])
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(broker.queue_name, durable=True, arguments=broker.queue_arguments)
        first, second = await queue.get(timeout=WAIT_S), await queue.get(timeout=WAIT_S)
        await first.ack()
        await second.ack()
    assert first.headers == {"traceparent": run.traceparent}
    assert not second.headers


async def test_separate_publisher_and_consumer_brokers(make_rabbit_broker: RabbitFactory) -> None:
    # Timekeeper and executor are separate processes, each with its own broker on the same queue.
    publisher = make_rabbit_broker()
    consumer_side = make_rabbit_broker(queue_name=publisher.queue_name)
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with publisher, consumer_side, await consumer_side.consume(acking_into(received), prefetch=1):
        sent = make_message()
        await publisher.publish([sent])
        assert (await next_delivery(received)).message == sent


# --- presence -------------------------------------------------------------------------------------------------

# Seconds a question may wait: longer than aiormq takes to find a connection with a 1-s heartbeat stuck (6 s).
STUCK_WAIT_S = 15.0


async def test_a_presence_is_seen_while_held_and_gone_once_released(broker: Broker) -> None:
    name = f"test-{uuid.uuid4().hex}"
    assert await broker.presence_of(name) is False
    before = time.monotonic()
    presence = await broker.hold_presence(name)
    assert presence.held_since is not None
    assert before <= presence.held_since <= time.monotonic()
    assert await presence.prove() is True
    assert await broker.presence_of(name) is True
    await presence.release()
    assert presence.held_since is None
    assert await presence.prove() is False
    assert await broker.presence_of(name) is False


@pytest.mark.rabbitmq
async def test_another_connection_sees_a_presence_until_its_holder_disconnects(
    make_rabbit_broker: RabbitFactory,
) -> None:
    name = f"test-{uuid.uuid4().hex}"
    async with make_rabbit_broker() as observer:
        holder = make_rabbit_broker()
        async with holder:
            await holder.hold_presence(name)
            assert await observer.presence_of(name) is True
            assert await observer.presence_of(name) is True  # a check does not disturb the next
        # The holder's connection closed (as when its process is killed): the mark is gone at once.
        assert await observer.presence_of(name) is False


@pytest.mark.rabbitmq
async def test_a_presence_lost_with_its_connection_comes_back_as_a_new_mark(
    make_rabbit_broker: RabbitFactory, tcp_proxy: TcpProxy, amqp_url: str
) -> None:
    """A dropped connection breaks the mark: held_since is None until aio-pika reconnects and declares it again,
    and then counts from the reconnection, not from the first declaration."""
    name = f"test-{uuid.uuid4().hex}"
    async with make_rabbit_broker() as observer, make_rabbit_broker(url=tcp_proxy.url(amqp_url)) as holder:
        presence = await holder.hold_presence(name)
        first = presence.held_since
        assert first is not None
        tcp_proxy.down()
        deadline = time.monotonic() + WAIT_S
        while presence.held_since is not None or await observer.presence_of(name):
            assert time.monotonic() < deadline, "the loss of the connection was not noticed"
            await asyncio.sleep(0.05)
        assert await presence.prove() is False
        tcp_proxy.up()
        while presence.held_since is None or not await observer.presence_of(name):
            assert time.monotonic() < deadline, "the mark did not come back"
            await asyncio.sleep(0.05)
        assert presence.held_since > first
        assert await presence.prove() is True


@pytest.mark.rabbitmq
async def test_presence_of_is_unknown_when_the_broker_cannot_be_asked(
    make_rabbit_broker: RabbitFactory, tcp_proxy: TcpProxy, amqp_url: str
) -> None:
    async with make_rabbit_broker(url=tcp_proxy.url(amqp_url), publish_timeout_s=1.0) as observer:
        tcp_proxy.down()
        assert await observer.presence_of(f"test-{uuid.uuid4().hex}") is None


@pytest.mark.rabbitmq
async def test_presence_of_is_unknown_when_the_connection_is_found_stuck_under_the_question(
    make_rabbit_broker: RabbitFactory, tcp_proxy: TcpProxy, amqp_url: str
) -> None:
    """A connection on which no frame arrives for a few heartbeats is declared stuck by aiormq, which fails the
    calls pending on it with CancelledError: the answer is unknown (None), and neither the sweep asking it nor an
    executor proving its own mark ends with that error (a timekeeper crashed, an executor's fence stopped
    proving)."""
    broker = make_rabbit_broker(url=tcp_proxy.url(amqp_url), heartbeat_s=1, publish_timeout_s=STUCK_WAIT_S)
    async with broker as observer:
        presence = await observer.hold_presence(f"test-{uuid.uuid4().hex}")
        tcp_proxy.stall()
        asking = asyncio.create_task(observer.presence_of(f"test-{uuid.uuid4().hex}"))
        proving = asyncio.create_task(presence.prove())
        assert await asking is None
        assert await proving is False
        tcp_proxy.restore()


@pytest.mark.rabbitmq
async def test_a_start_up_step_during_a_broker_blip_is_retried_until_the_connection_is_back(
    make_rabbit_broker: RabbitFactory, tcp_proxy: TcpProxy, amqp_url: str
) -> None:
    """An executor's start-up after its connection was made (presence mark, consumer) meets a blip: each step is
    retried while the connection heals, instead of ending the process (the chaos run saw an executor exit 5)."""
    broker = make_rabbit_broker(url=tcp_proxy.url(amqp_url), publish_timeout_s=1.0)
    received: asyncio.Queue[Delivery] = asyncio.Queue()
    async with broker:
        tcp_proxy.down()
        with pytest.raises(BrokerUnavailable):  # one attempt: the blip ends it
            await until_available("consume", lambda: broker.consume(acking_into(received), prefetch=1), timeout=0)

        async def back_later() -> None:
            await asyncio.sleep(2.0)
            tcp_proxy.up()

        restoring = asyncio.create_task(back_later())
        presence = await until_available("hold_presence", lambda: broker.hold_presence("starting"), timeout=WAIT_S)
        consumer = await until_available(
            "consume", lambda: broker.consume(acking_into(received), prefetch=1), timeout=WAIT_S
        )
        await restoring
        async with consumer:
            sent = make_message()
            await broker.publish([sent])
            assert (await next_delivery(received)).message == sent
            assert await broker.presence_of("starting") is True
        await presence.release()
