"""RabbitMQ side channel for tests: raw publishes, queue inspection and deletion, and the broker app's
stop/start (rabbitmqctl) for outage tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
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
