"""The benchmark's own RabbitMQ queues and exchanges (bench.* names), deleted after each run."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence

import aiormq

AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def wait_available(timeout: float) -> None:
    """Until RabbitMQ accepts a connection (the shared broker may be restarting), at most `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            connection = await aiormq.connect(AMQP_URL)
        except (OSError, aiormq.exceptions.AMQPError):
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(1.0)
        else:
            await connection.close()
            return


#: queues and exchanges whose deletion failed (the shared broker was restarting), retried by delete_remaining
_undeleted: tuple[set[str], set[str]] = (set(), set())


async def delete(queues: Sequence[str], exchanges: Sequence[str] = ()) -> None:
    """Delete our queues and exchanges (missing ones are fine). If the broker cannot be reached they are
    remembered for delete_remaining and the error is raised."""
    for name in [*queues, *exchanges]:
        if not name.startswith("bench"):
            raise ValueError(f"refusing to delete {name!r}: only bench* names are ours")
    _undeleted[0].update(queues)
    _undeleted[1].update(exchanges)
    connection = await aiormq.connect(AMQP_URL)
    try:
        for queue in queues:
            channel = await connection.channel()
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.queue_delete(queue)
            _undeleted[0].discard(queue)
        for exchange in exchanges:
            channel = await connection.channel()
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.exchange_delete(exchange)
            _undeleted[1].discard(exchange)
    finally:
        await connection.close()


async def delete_remaining(timeout: float = 60.0) -> list[str]:
    """Retry the deletions that failed; returns what remains."""
    queues, exchanges = sorted(_undeleted[0]), sorted(_undeleted[1])
    if queues or exchanges:
        try:
            await wait_available(timeout)
            await delete(queues, exchanges)
        except (OSError, aiormq.exceptions.AMQPError):
            pass
    return sorted(_undeleted[0] | _undeleted[1])
