"""RabbitMQ side channel for tests: raw publishes, queue inspection and deletion, and the broker app's
stop/start (rabbitmqctl) for outage tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika

from scheduler_core.broker import RabbitMQBroker


class RabbitAdmin:
    """What the broker under test must not do itself."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue_names: list[str] = []

    def broker_factory(self, queue_name: str | None = None, **kwargs: Any) -> Callable[[], RabbitMQBroker]:
        """Factory of brokers on one fresh queue (deleted by `delete_queues`)."""
        name = queue_name or f"test-{uuid.uuid4().hex}"
        if name not in self.queue_names:
            self.queue_names.append(name)
        # Seconds; short so that a failing test fails fast instead of waiting for production values.
        kwargs.setdefault("publish_timeout_s", 3.0)
        kwargs.setdefault("connect_timeout_s", 10.0)
        kwargs.setdefault("reconnect_interval_s", 0.3)
        return lambda: RabbitMQBroker(self.url, name, **kwargs)

    async def publish_raw(self, queue_name: str, body: bytes) -> None:
        async with await aio_pika.connect(self.url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue_name)

    async def purge_queue(self, name: str) -> int:
        """Drop every ready message of the queue (as an operator's purge would); returns how many."""
        async with await aio_pika.connect(self.url) as connection:
            channel = await connection.channel()
            queue = await channel.get_queue(name, ensure=True)
            purged = await queue.purge()
            return purged.message_count or 0

    async def delete_queues(self, names: list[str] | None = None) -> None:
        async with await aio_pika.connect(self.url) as connection:
            channel = await connection.channel()
            for name in names if names is not None else self.queue_names:
                await channel.queue_delete(name, if_unused=False, if_empty=False)


async def rabbitmqctl(*args: str, timeout: float = 60) -> None:
    """Run rabbitmqctl; raises if it fails."""
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {output.decode(errors='replace')}")


@dataclass
class LateAcker:
    """A consumer that takes one message and never acks it: RabbitMQ's consumer timeout must close its channel.
    Times are unix seconds."""

    queue_name: str
    delivered_at: float | None = None
    closed_at: float | None = None
    close_reason: str = ""
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def held_s(self) -> float | None:
        """Seconds from the delivery to the broker closing the channel."""
        if self.delivered_at is None or self.closed_at is None:
            return None
        return self.closed_at - self.delivered_at


@asynccontextmanager
async def late_acking_consumer(url: str) -> AsyncIterator[LateAcker]:
    """Open a channel, publish one message to a fresh queue and consume it without ever acking; the queue is
    deleted afterwards. The channel is opened on entry: the broker's consumer_timeout in force then applies."""
    probe = LateAcker(f"late-ack-probe-{uuid.uuid4().hex}")
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()

        def on_close(_channel: object, exc: BaseException | None) -> None:
            probe.closed_at = time.time()
            probe.close_reason = repr(exc)
            probe.closed.set()

        channel.close_callbacks.add(on_close)
        queue = await channel.declare_queue(probe.queue_name, durable=False, auto_delete=False)
        await channel.default_exchange.publish(aio_pika.Message(b"hold me"), routing_key=probe.queue_name)

        async def hold(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            probe.delivered_at = time.time()  # and never ack

        await queue.consume(hold, no_ack=False)
        yield probe
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                cleanup = await connection.channel()
                await cleanup.queue_delete(probe.queue_name)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await connection.close()
