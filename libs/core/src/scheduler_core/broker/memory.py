"""In-process broker for the embedded single-process mode (no RabbitMQ needed).

Behaves like the RabbitMQ broker as seen through :class:`~scheduler_core.broker.base.Broker` (the contract
test suite runs against both), with these differences that follow from living in one process:

* ``publish`` is confirmed immediately; nothing survives the process. Runs that were published but not yet
  executed when the process stops are still ``pending`` in the database and must be re-published from there.
* Priority ordering is exact: a heap ordered by (-clamped priority, publish sequence). A requeued message
  keeps its original sequence number, so it goes back ahead of later messages of the same priority, as in
  RabbitMQ.
* Dispatch is synchronous and "whoever is free": consumers with spare prefetch are served round-robin.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from .base import Broker
from .consumer import Consumer, Handler, HandlerTasks
from .delivery import Delivery
from .limits import check_max_priority, check_prefetch, check_runs_per_message
from .message import RunMessage, pack_runs
from .presence import Presence

log = structlog.get_logger(__name__)


@dataclass(order=True, slots=True)
class _Entry:
    """A queued message; ordered by (-priority, sequence), the remaining fields do not take part."""

    neg_priority: int
    sequence: int
    messages: tuple[RunMessage, ...] = field(compare=False)
    redelivered: bool = field(default=False, compare=False)


class _MemoryDelivery(Delivery):
    __slots__ = ("_consumer", "_entry", "_returned")

    def __init__(self, consumer: _MemoryConsumer, entry: _Entry) -> None:
        super().__init__(entry.messages, redelivered=entry.redelivered)
        self._consumer = consumer
        self._entry = entry
        # Set when the consumer closed and handed the message back to the queue.
        self._returned = False

    async def _settle(self, *, ack: bool, requeue: bool) -> None:
        if self._returned:
            log.warning("delivery_settle_lost", reason="consumer_closed", **self._log_context())
            return
        self._consumer._settled(self, ack=ack, requeue=requeue)


class _MemoryConsumer(Consumer):
    def __init__(self, broker: InMemoryBroker, handler: Handler, prefetch: int, tag: int) -> None:
        self._broker = broker
        self._prefetch = prefetch
        self._tag = tag
        self._handlers = HandlerTasks(handler, consumer=tag)
        self._unsettled: set[_MemoryDelivery] = set()
        self._cancelled = False

    @property
    def in_flight(self) -> int:
        return len(self._handlers)

    @property
    def has_capacity(self) -> bool:
        return not self._cancelled and len(self._unsettled) < self._prefetch

    def deliver(self, entry: _Entry) -> None:
        delivery = _MemoryDelivery(self, entry)
        self._unsettled.add(delivery)
        self._handlers.spawn(delivery)

    def _settled(self, delivery: _MemoryDelivery, *, ack: bool, requeue: bool) -> None:
        self._unsettled.discard(delivery)
        if not ack and requeue:
            self._broker._push(delivery._entry, redelivered=True)
        self._broker._dispatch()

    async def cancel(self, *, grace_s: float = 0.0, cut_short: asyncio.Event | None = None) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._broker._detach(self)
        await self._handlers.stop(grace_s, cut_short)
        returned = len(self._unsettled)
        for delivery in self._unsettled:
            delivery._returned = True
            self._broker._push(delivery._entry, redelivered=True)
        self._unsettled.clear()
        log.info("consumer_cancelled", consumer=self._tag, returned=returned)
        self._broker._dispatch()


class InMemoryBroker(Broker):
    """In-process implementation of :class:`~scheduler_core.broker.base.Broker` (see the module docstring).

    ``max_priority`` (1..255, default 10) is the top of the priority range, as ``x-max-priority`` is for
    RabbitMQ: job priorities are clamped into ``0..max_priority`` before ordering. ``runs_per_message``
    (1..1000, default 1): runs of one priority that ``publish`` packs into one delivery.
    """

    def __init__(self, max_priority: int = 10, runs_per_message: int = 1) -> None:
        self._max_priority = check_max_priority(max_priority)
        self._runs_per_message = check_runs_per_message(runs_per_message)
        self._heap: list[_Entry] = []
        self._sequence = itertools.count()
        self._consumers: list[_MemoryConsumer] = []
        self._consumer_tags = itertools.count(1)
        # Index into _consumers where the next dispatch round starts (round-robin fairness).
        self._next_consumer = 0
        self._started = False
        self._closed = False
        self._present: set[str] = set()  # presence marks held (hold_presence)

    async def start(self) -> None:
        if self._closed:
            raise RuntimeError("InMemoryBroker cannot be restarted after close()")
        self._started = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._present.clear()
        for consumer in list(self._consumers):
            await consumer.cancel()
        dropped = len(self._heap)
        self._heap.clear()
        if dropped:
            # Expected at shutdown: the executions are still pending in the database.
            log.info("broker_closed_with_backlog", dropped=dropped)

    def _check_open(self) -> None:
        if not self._started or self._closed:
            raise RuntimeError("InMemoryBroker is not started (use `async with`)")

    async def publish(self, messages: Sequence[RunMessage]) -> None:
        self._check_open()
        for priority, runs in pack_runs(
            messages, runs_per_message=self._runs_per_message, max_priority=self._max_priority
        ):
            self._push(_Entry(-priority, next(self._sequence), runs), redelivered=False)
        self._dispatch()

    async def consume(self, handler: Handler, *, prefetch: int) -> Consumer:
        self._check_open()
        consumer = _MemoryConsumer(self, handler, check_prefetch(prefetch), next(self._consumer_tags))
        self._consumers.append(consumer)
        log.info("consumer_started", consumer=consumer._tag, prefetch=prefetch)
        self._dispatch()
        return consumer

    async def queue_depth(self) -> int:
        self._check_open()
        return len(self._heap)

    async def ping(self) -> bool:
        return self._started and not self._closed

    def _push(self, entry: _Entry, *, redelivered: bool) -> None:
        if self._closed:
            return
        entry.redelivered = entry.redelivered or redelivered
        heapq.heappush(self._heap, entry)

    def _detach(self, consumer: _MemoryConsumer) -> None:
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    def _dispatch(self) -> None:
        """Hand ready messages to consumers with spare prefetch, highest priority first, round-robin."""
        while self._heap:
            ready = [c for c in self._consumers if c.has_capacity]
            if not ready:
                return
            start = self._next_consumer % len(self._consumers)
            # Rotate so that the first free consumer at or after `start` is served first.
            order = self._consumers[start:] + self._consumers[:start]
            for consumer in order:
                if not self._heap:
                    break
                if consumer.has_capacity:
                    consumer.deliver(heapq.heappop(self._heap))
            self._next_consumer = start + 1

    async def hold_presence(self, name: str) -> Presence:
        self._check_open()
        self._present.add(name)
        return _MemoryPresence(self, name)

    async def presence_of(self, name: str) -> bool | None:
        self._check_open()
        return name in self._present


class _MemoryPresence(Presence):
    """In one process the mark lives as long as the broker: the process holding it is this one."""

    def __init__(self, broker: InMemoryBroker, name: str) -> None:
        self._broker = broker
        self._name = name
        self._held_since: float | None = time.monotonic()

    @property
    def held_since(self) -> float | None:
        return self._held_since if self._name in self._broker._present else None

    async def prove(self) -> bool:
        return self.held_since is not None and not self._broker._closed

    async def release(self) -> None:
        self._broker._present.discard(self._name)
        self._held_since = None
