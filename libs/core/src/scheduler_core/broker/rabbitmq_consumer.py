"""RabbitMQ consuming: a consumer on its own channel (its own prefetch window; closing the channel hands back
exactly its unacked messages) and the deliveries it receives, settled on the channel that carried them.

Handlers run in tasks owned by the consumer (:class:`~scheduler_core.broker.consumer.HandlerTasks`), not in
aio-pika's per-message tasks, which aiormq cancels when their channel closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from .consumer import Consumer, Handler, HandlerTasks
from .delivery import Delivery
from .errors import MessageDecodeError
from .message import RunMessage, decode_runs
from .rabbitmq_connection import UNAVAILABLE

log = structlog.get_logger(__name__)


class RabbitDelivery(Delivery):
    __slots__ = ("_incoming",)

    def __init__(self, incoming: AbstractIncomingMessage, messages: tuple[RunMessage, ...]) -> None:
        super().__init__(messages, redelivered=bool(incoming.redelivered))
        self._incoming = incoming

    async def _settle(self, *, ack: bool, requeue: bool) -> None:
        try:
            if ack:
                await self._incoming.ack()
            else:
                await self._incoming.reject(requeue=requeue)
        except CONNECTION_EXCEPTIONS as exc:
            # The channel that carried the delivery is gone (consumer closed, connection dropped): RabbitMQ
            # has requeued the message already and will redeliver it. Delivery tags are per channel, so it
            # cannot be settled on the re-opened channel either.
            log.warning("delivery_settle_lost", error=repr(exc), ack=ack, **self._log_context())


class RabbitConsumer(Consumer):
    """One consumer of ``queue_name`` on its own ``channel``; ``on_cancel`` tells its broker it is gone.

    ``queue_arguments`` must be the broker's (the queue is declared again, idempotently, before subscribing);
    ``op_timeout_s`` bounds each cancel step, in seconds.
    """

    def __init__(
        self,
        channel: AbstractRobustChannel,
        handler: Handler,
        *,
        queue_name: str,
        queue_arguments: dict[str, Any],
        prefetch: int,
        op_timeout_s: float,
        on_cancel: Callable[[RabbitConsumer], None],
    ) -> None:
        self._channel = channel
        self._queue_name = queue_name
        self._queue_arguments = queue_arguments
        self._prefetch = prefetch
        self._op_timeout_s = op_timeout_s
        self._on_cancel = on_cancel
        self._queue: AbstractRobustQueue | None = None
        self._tag: str | None = None
        self._handlers = HandlerTasks(handler, queue=queue_name)
        self._cancelled = False

    @property
    def in_flight(self) -> int:
        return len(self._handlers)

    async def register(self) -> None:
        """Apply the prefetch window and subscribe; aio-pika re-does both after a reconnect."""
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._queue = await self._channel.declare_queue(self._queue_name, durable=True, arguments=self._queue_arguments)
        self._tag = await self._queue.consume(self._on_message, no_ack=False)
        log.info("consumer_started", queue=self._queue_name, consumer=self._tag, prefetch=self._prefetch)

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        # Runs in an aiormq task that is cancelled if the channel closes: do only quick work here.
        try:
            messages = decode_runs(incoming.body)
        except MessageDecodeError as exc:
            # Redelivering garbage cannot help; dropping it is logged with enough to find the publisher.
            log.error(
                "message_decode_failed",
                queue=self._queue_name,
                error=str(exc),
                body_prefix=incoming.body[:200].decode("utf-8", "replace"),
            )
            try:
                await incoming.reject(requeue=False)
            except CONNECTION_EXCEPTIONS as reject_exc:
                log.warning("delivery_settle_lost", error=repr(reject_exc), ack=False)
            return
        delivery = RabbitDelivery(incoming, messages)
        if self._cancelled:
            # Sent by the broker before it processed our basic.cancel: hand it straight back.
            await delivery.reject(requeue=True)
            return
        self._handlers.spawn(delivery)

    async def cancel(self, *, grace_s: float = 0.0, cut_short: asyncio.Event | None = None) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._on_cancel(self)
        if self._queue is not None and self._tag is not None:
            try:
                async with asyncio.timeout(self._op_timeout_s):
                    # Also removes the consumer from aio-pika's restore list, even if this times out.
                    await self._queue.cancel(self._tag)
            except UNAVAILABLE as exc:
                log.warning("consumer_cancel_failed", consumer=self._tag, error=repr(exc))
        await self._handlers.stop(grace_s, cut_short)
        try:
            async with asyncio.timeout(self._op_timeout_s):
                # Closing the channel is what makes RabbitMQ requeue this consumer's unacked messages.
                await self._channel.close()
        except UNAVAILABLE as exc:
            log.warning("consumer_channel_close_failed", consumer=self._tag, error=repr(exc))
        log.info("consumer_cancelled", queue=self._queue_name, consumer=self._tag)
