"""Presence on RabbitMQ: an exclusive queue, which the broker deletes the moment the connection that declared it
closes, and which another connection can see but not touch (a passive declare answers 405 RESOURCE_LOCKED
while it exists, 404 NOT_FOUND once it is gone)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection, AbstractRobustQueue
from aiormq.exceptions import ChannelLockedResource, ChannelNotFoundEntity

from .presence import Presence
from .rabbitmq_connection import UNAVAILABLE

log = structlog.get_logger(__name__)


def presence_queue(name: str) -> str:
    """The queue name of a presence mark."""
    return f"scheduler.presence.{name}"


class RabbitPresence(Presence):
    """The mark is declared on a robust channel of `connection`: aio-pika declares it again after a reconnection,
    which the close and reconnect callbacks turn into a break in `held_since`. Each proof goes over a channel of
    its own (a failed passive declare closes the channel it was sent on)."""

    def __init__(self, connection: AbstractRobustConnection, name: str, *, op_timeout_s: float) -> None:
        self._connection = connection
        self._name = name
        self._queue = presence_queue(name)
        self._op_timeout_s = op_timeout_s  # seconds, per broker round trip
        self._declare_channel: AbstractRobustChannel | None = None
        self._queue_object: AbstractRobustQueue | None = None
        self._held_since: float | None = None

    @property
    def held_since(self) -> float | None:
        return self._held_since

    async def start(self) -> None:
        async with asyncio.timeout(self._op_timeout_s):
            self._declare_channel = self._connection.channel(publisher_confirms=False)
            await self._declare_channel.initialize()
            # Taken before the declaration is sent: the mark cannot have existed before this instant.
            declared_at = time.monotonic()
            self._queue_object = await self._declare_channel.declare_queue(self._queue, exclusive=True, durable=False)
        self._held_since = declared_at
        self._connection.close_callbacks.add(self._on_lost)
        self._connection.reconnect_callbacks.add(self._on_reconnected)
        log.info("presence_held", queue=self._queue)

    def _on_lost(self, *_args: object) -> None:
        if self._held_since is not None:
            log.warning("presence_lost", queue=self._queue)
        self._held_since = None

    def _on_reconnected(self, *_args: object) -> None:
        # aio-pika has re-declared the queue on the new connection before calling this: a new mark, from now.
        self._held_since = time.monotonic()
        log.info("presence_restored", queue=self._queue)

    async def prove(self) -> bool:
        if self._held_since is None:
            return False
        # Our own connection's exclusive queue: a passive declare succeeds while it exists.
        return await presence_of(self._connection, self._name, timeout_s=self._op_timeout_s) is True

    async def release(self) -> None:
        self._connection.close_callbacks.discard(self._on_lost)
        self._connection.reconnect_callbacks.discard(self._on_reconnected)
        self._held_since = None
        try:
            async with asyncio.timeout(self._op_timeout_s):
                if self._queue_object is not None:
                    # Exclusive queues go with their connection; one that outlives its holder must go now.
                    await self._queue_object.delete(if_unused=False, if_empty=False)
                if self._declare_channel is not None:
                    await self._declare_channel.close()
        except UNAVAILABLE as exc:
            log.debug("presence_release_failed", queue=self._queue, error=repr(exc))


async def presence_of(connection: AbstractRobustConnection, name: str, *, timeout_s: float) -> bool | None:
    """Whether the presence mark `name` exists: True if it does (405 RESOURCE_LOCKED: it belongs to another
    connection; no error: to this one), False on 404 NOT_FOUND, None when the broker did not answer in time. A
    channel of its own per question: a passive declare that fails closes the channel it was sent on."""
    channel = connection.channel(publisher_confirms=False)
    try:
        async with asyncio.timeout(timeout_s):
            await channel.initialize()
            underlay = await channel.get_underlay_channel()
            await underlay.queue_declare(presence_queue(name), passive=True)
    except ChannelLockedResource:
        return True
    except ChannelNotFoundEntity:
        return False
    except UNAVAILABLE:
        return None
    except asyncio.CancelledError:
        if _cancelled_itself():
            raise
        return None  # the connection broke under the question (see _cancelled_itself)
    finally:
        try:
            with contextlib.suppress(*UNAVAILABLE):
                async with asyncio.timeout(timeout_s):
                    await channel.close()
        except asyncio.CancelledError:
            if _cancelled_itself():
                raise
    return True


def _cancelled_itself() -> bool:
    """Whether a CancelledError is this task's own cancellation. aiormq also fails the calls pending on a connection
    it found stuck (no frame for a few heartbeats) with CancelledError: for the caller that is a broker that could
    not be asked, and a sweep or a fence must not end with it."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
