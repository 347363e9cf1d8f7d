"""RabbitMQ broker (aio-pika): robust connection, publisher confirms, persistent messages, manual ack.

One durable queue, published to through the default exchange (routing key = queue name). Connection use:

* one robust connection per broker, which aio-pika re-opens after a connection loss or a broker restart and on
  which it re-opens channels, re-declares the queue, re-applies ``basic.qos`` and re-registers consumers (same
  consumer tags);
* a publishing channel with publisher confirms, an "admin" channel for passive declares (``queue_depth``,
  ``ping``), and one channel per consumer so that each consumer has its own prefetch window and closing it
  hands back exactly that consumer's unacked messages.

Handlers run in tasks owned by our consumer rather than in aio-pika's per-message tasks, because aiormq
cancels those when their channel closes: a connection blip would otherwise kill every running handler.

Queue types: ``classic`` (default) is declared with ``x-max-priority`` and the broker delivers higher priority
first. ``quorum`` is replicated across a cluster but RabbitMQ (before 4.0) ignores message priority on quorum
queues: messages are then delivered in publish order, so priority only comes from the order the timekeeper
publishes in. Changing ``queue_type`` or ``max_priority`` of an existing queue makes the declaration fail with
``PRECONDITION_FAILED``: the queue must be deleted (or renamed) first.

This module holds :class:`RabbitMQBroker`: the queue's declaration, the broker's lifecycle, publishing and the
queue's counters. The first connection and its retries live in ``rabbitmq_connection``, consumers and their
deliveries in ``rabbitmq_consumer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aio_pika.exceptions import ChannelPreconditionFailed
from pamqp.commands import Basic
from yarl import URL

from .base import Broker
from .consumer import Consumer, Handler
from .errors import BrokerUnavailable
from .limits import check_max_priority, check_prefetch, check_runs_per_message
from .message import RunMessage, encode_runs, pack_runs
from .presence import Presence
from .rabbitmq_connection import UNAVAILABLE, connect, redact_url
from .rabbitmq_consumer import RabbitConsumer
from .rabbitmq_presence import RabbitPresence, presence_of

__all__ = ["QueueType", "RabbitMQBroker", "redact_url"]

log = structlog.get_logger(__name__)

QueueType = Literal["classic", "quorum"]


def _trace_headers(runs: tuple[RunMessage, ...]) -> dict[str, Any] | None:
    if len(runs) == 1 and runs[0].traceparent is not None:
        return {"traceparent": runs[0].traceparent}
    return None


class RabbitMQBroker(Broker):
    """:class:`~scheduler_core.broker.base.Broker` over RabbitMQ (see the module docstring).

    Arguments (times in seconds):

    * ``url`` — AMQP URL; aiormq query parameters such as ``?heartbeat=30`` are honoured.
    * ``queue_name`` — the durable queue, declared on start (idempotent with the same arguments).
    * ``queue_type`` — ``"classic"`` (priorities honoured) or ``"quorum"`` (replicated, priority ignored).
    * ``max_priority`` — ``x-max-priority`` of a classic queue (1..255); job priorities are clamped into it.
    * ``runs_per_message`` — runs of one priority that ``publish`` packs into one message (1..1000).
    * ``publish_timeout_s`` — bound on ``publish`` (all confirms), and on consumer set-up, ``queue_depth`` and
      closing; ``publish`` waits up to this long for a reconnect in progress.
    * ``connect_timeout_s`` — entering retries the first connection for this long, then raises
      :class:`BrokerUnavailable`. Later losses are retried forever in the background.
    * ``reconnect_interval_s`` — pause between background reconnection attempts.
    * ``ping_timeout_s`` — bound on ``ping``; keep it below the readiness probe's timeout.
    * ``connection_name`` — shown in the RabbitMQ management UI and ``rabbitmqctl list_connections``.
    * ``heartbeat_s`` — AMQP heartbeat interval proposed to the server (unless the URL sets one): a peer that
      misses two is declared gone, so a paused or cut-off process's unacked messages go back to the queue, and
      its presence mark disappears, after about twice this.
    """

    def __init__(
        self,
        url: str,
        queue_name: str,
        *,
        queue_type: QueueType = "classic",
        max_priority: int = 10,
        runs_per_message: int = 1,
        publish_timeout_s: float = 5.0,
        connect_timeout_s: float = 30.0,
        reconnect_interval_s: float = 2.0,
        ping_timeout_s: float = 1.0,
        connection_name: str | None = None,
        heartbeat_s: int | None = None,
    ) -> None:
        if queue_type not in ("classic", "quorum"):
            raise ValueError(f"queue_type must be 'classic' or 'quorum', got {queue_type!r}")
        if not queue_name:
            raise ValueError("queue_name must not be empty")
        for name, value in (
            ("publish_timeout_s", publish_timeout_s),
            ("connect_timeout_s", connect_timeout_s),
            ("reconnect_interval_s", reconnect_interval_s),
            ("ping_timeout_s", ping_timeout_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        parsed = URL(url)
        if heartbeat_s is not None and "heartbeat" not in parsed.query:
            url = str(parsed.update_query(heartbeat=heartbeat_s))
        self._url = url
        self._safe_url = redact_url(url)
        self.queue_name = queue_name
        self.queue_type: QueueType = queue_type
        self._max_priority = check_max_priority(max_priority)
        self._runs_per_message = check_runs_per_message(runs_per_message)
        self._publish_timeout_s = publish_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._reconnect_interval_s = reconnect_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._connection_name = connection_name or f"scheduler:{queue_name}"
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._admin_channel: AbstractRobustChannel | None = None
        self._consumers: set[RabbitConsumer] = set()
        self._closing = False
        # Tracks outages for logging only; aio-pika owns the actual connection state.
        self._connected = False

    @property
    def queue_arguments(self) -> dict[str, Any]:
        """Arguments the queue is declared with (must match across every process using the queue)."""
        if self.queue_type == "quorum":
            return {"x-queue-type": "quorum"}
        return {"x-max-priority": self._max_priority}

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._connection is not None or self._closing:
            raise RuntimeError("RabbitMQBroker can be started once")
        connection = await connect(
            self._url,
            connect_timeout_s=self._connect_timeout_s,
            reconnect_interval_s=self._reconnect_interval_s,
            connection_name=self._connection_name,
        )
        try:
            async with asyncio.timeout(self._publish_timeout_s):
                # on_return_raises: an unroutable message (queue deleted) fails its publish instead of being
                # silently dropped by the default exchange.
                publish_channel = connection.channel(publisher_confirms=True, on_return_raises=True)
                await publish_channel.initialize()
                await publish_channel.declare_queue(self.queue_name, durable=True, arguments=self.queue_arguments)
                admin_channel = connection.channel(publisher_confirms=False)
                await admin_channel.initialize()
        except ChannelPreconditionFailed:
            await connection.close()
            log.error("queue_declare_failed", queue=self.queue_name, arguments=self.queue_arguments)
            raise
        except UNAVAILABLE as exc:
            await connection.close()
            raise BrokerUnavailable(
                f"RabbitMQ at {self._safe_url} did not set up queue {self.queue_name!r}: {exc!r}"
            ) from exc
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        self._publish_channel = publish_channel
        self._admin_channel = admin_channel
        self._connected = True
        connection.close_callbacks.add(self._on_connection_lost)
        connection.reconnect_callbacks.add(self._on_reconnected)
        log.info(
            "broker_started",
            url=self._safe_url,
            queue=self.queue_name,
            queue_type=self.queue_type,
            max_priority=self._max_priority,
            runs_per_message=self._runs_per_message,
        )

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        for consumer in list(self._consumers):
            await consumer.cancel()
        if self._connection is not None:
            # Closing the connection closes its channels; bounded in case the broker is unresponsive.
            try:
                async with asyncio.timeout(self._publish_timeout_s):
                    await self._connection.close()
            except UNAVAILABLE as exc:
                log.warning("broker_close_failed", url=self._safe_url, error=repr(exc))
            log.info("broker_closed", url=self._safe_url, queue=self.queue_name)

    def _on_connection_lost(self, _connection: object, exc: BaseException | None = None) -> None:
        # aio-pika calls this on the loss and again on every failed reconnection attempt: warn once per outage.
        if self._closing:
            return
        if self._connected:
            self._connected = False
            log.warning("broker_connection_lost", url=self._safe_url, error=repr(exc))
        else:
            log.debug("broker_reconnect_failed", url=self._safe_url, error=repr(exc))

    def _on_reconnected(self, _connection: object) -> None:
        self._connected = True
        log.info("broker_reconnected", url=self._safe_url, queue=self.queue_name, consumers=len(self._consumers))

    def _require(self) -> tuple[AbstractRobustConnection, AbstractRobustChannel, AbstractRobustChannel]:
        if self._closing or self._connection is None or self._publish_channel is None or self._admin_channel is None:
            raise RuntimeError("RabbitMQBroker is not started (use `async with`)")
        return self._connection, self._publish_channel, self._admin_channel

    # -- operations ------------------------------------------------------------------------------------------

    async def publish(self, messages: Sequence[RunMessage]) -> None:
        _, channel, _ = self._require()
        if not messages:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        amqp_messages = [
            aio_pika.Message(
                encode_runs(runs),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                priority=priority,
                content_type="application/json",
                # Not message_id: aiormq matches returned messages to their publish by message_id, which must
                # therefore stay unique even if a batch carries the same execution twice.
                correlation_id=runs[0].execution_id,
                # The run's W3C trace context as a message header too, for AMQP tooling, when the message carries
                # one traced run; several runs of one message each carry their own in the body.
                headers=_trace_headers(runs),
            )
            for priority, runs in pack_runs(
                messages, runs_per_message=self._runs_per_message, max_priority=self._max_priority
            )
        ]
        try:
            async with asyncio.timeout(self._publish_timeout_s):
                # Waits for a reconnect in progress (bounded by the same timeout) instead of failing at once.
                await channel.ready()
                exchange = channel.default_exchange
                results = await asyncio.gather(
                    *(exchange.publish(m, routing_key=self.queue_name, mandatory=True) for m in amqp_messages),
                    return_exceptions=True,
                )
        except UNAVAILABLE as exc:
            log.warning("publish_failed", queue=self.queue_name, count=len(messages), error=repr(exc) or "timeout")
            raise BrokerUnavailable(
                f"{len(messages)} message(s) to {self.queue_name!r} not confirmed within "
                f"{self._publish_timeout_s:g} s ({exc!r})"
            ) from exc
        failures = [result for result in results if not isinstance(result, Basic.Ack)]
        if failures:
            log.warning(
                "publish_failed",
                queue=self.queue_name,
                count=len(messages),
                failed=len(failures),
                error=repr(failures[0]),
            )
            raise BrokerUnavailable(
                f"{len(failures)} of {len(amqp_messages)} message(s) ({len(messages)} runs) to {self.queue_name!r} "
                f"not confirmed: {failures[0]!r}"
            )
        log.debug(
            "published",
            queue=self.queue_name,
            count=len(messages),
            messages=len(amqp_messages),
            elapsed_ms=round((loop.time() - started) * 1000, 1),
        )

    async def consume(self, handler: Handler, *, prefetch: int) -> Consumer:
        connection, _, _ = self._require()
        check_prefetch(prefetch)
        channel: AbstractRobustChannel | None = None
        try:
            async with asyncio.timeout(self._publish_timeout_s):
                await connection.ready()
                channel = connection.channel(publisher_confirms=False)
                await channel.initialize()
                consumer = RabbitConsumer(
                    channel,
                    handler,
                    queue_name=self.queue_name,
                    queue_arguments=self.queue_arguments,
                    prefetch=prefetch,
                    op_timeout_s=self._publish_timeout_s,
                    on_cancel=self._consumers.discard,
                )
                await consumer.register()
        except UNAVAILABLE as exc:
            await self._close_quietly(channel)
            raise BrokerUnavailable(
                f"cannot register a consumer on {self.queue_name!r} at {self._safe_url}: {exc!r}"
            ) from exc
        except BaseException:
            await self._close_quietly(channel)
            raise
        self._consumers.add(consumer)
        return consumer

    @staticmethod
    async def _close_quietly(channel: AbstractRobustChannel | None) -> None:
        if channel is None or not channel.is_initialized:
            return
        try:
            async with asyncio.timeout(1.0):
                await channel.close()
        except UNAVAILABLE:
            pass

    async def _ready_count(self, channel: AbstractRobustChannel, timeout_s: float) -> int:
        async with asyncio.timeout(timeout_s):
            await channel.ready()
            underlay = await channel.get_underlay_channel()
            # Passive: only reads the queue's counters, and fails (404) rather than create a missing queue.
            declared = await underlay.queue_declare(self.queue_name, passive=True)
        return int(declared.message_count or 0)

    async def queue_depth(self) -> int:
        _, _, channel = self._require()
        try:
            return await self._ready_count(channel, self._publish_timeout_s)
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"queue depth of {self.queue_name!r} unavailable: {exc!r}") from exc

    async def ping(self) -> bool:
        if self._closing or self._admin_channel is None:
            return False
        try:
            await self._ready_count(self._admin_channel, self._ping_timeout_s)
        except Exception as exc:
            log.info("broker_ping_failed", url=self._safe_url, error=repr(exc))
            return False
        return True

    async def hold_presence(self, name: str) -> Presence:
        connection, _, _ = self._require()
        presence = RabbitPresence(connection, name, op_timeout_s=self._publish_timeout_s)
        try:
            await presence.start()
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"presence {name!r} could not be declared: {exc!r}") from exc
        return presence

    async def presence_of(self, name: str) -> bool | None:
        connection, _, _ = self._require()
        return await presence_of(connection, name, timeout_s=self._publish_timeout_s)
