"""Broker interface: the run message, deliveries, consumers and the broker itself.

The timekeeper publishes one :class:`RunMessage` per execution row it wrote; executors consume them. Up to
``runs_per_message`` runs of one priority published together share one broker message (one delivery, one ack):
routing, persisting, confirming and acknowledging a message costs the broker and both ends far more CPU than
the few bytes of a run, so at hundreds of runs a second packing them is most of the difference. Two
implementations honour this interface and are held to it by one contract test suite
(``tests/contract/test_broker_contract.py``): :class:`~scheduler_core.broker.rabbitmq.RabbitMQBroker` for
the standalone services and :class:`~scheduler_core.broker.memory.InMemoryBroker` for the embedded
single-process mode.

Delivery is at least once: a message can arrive twice (a lost ack, a consumer that died, a publish retried
after a lost confirm). Consumers therefore deduplicate on ``execution_id`` in the database; the broker never
does.

This module holds the :class:`Broker` interface itself and re-exports the pieces it is made of, so that
``scheduler_core.broker.base`` offers everything an implementation needs: the run message and its wire format
(``message``), deliveries (``delivery``), consumers and their handlers (``consumer``), the errors (``errors``)
and the AMQP limits arguments are checked against (``limits``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from .consumer import Consumer, Handler, HandlerTasks
from .delivery import Delivery
from .errors import BrokerUnavailable, DeliveryAlreadySettled, MessageDecodeError
from .limits import (
    MAX_PREFETCH,
    MAX_RUNS_PER_MESSAGE,
    MAX_SUPPORTED_PRIORITY,
    check_max_priority,
    check_prefetch,
    check_runs_per_message,
    clamp_priority,
)
from .message import RunMessage, decode_runs, encode_runs, pack_runs
from .presence import Presence

__all__ = [
    "MAX_PREFETCH",
    "MAX_RUNS_PER_MESSAGE",
    "MAX_SUPPORTED_PRIORITY",
    "Broker",
    "BrokerUnavailable",
    "Consumer",
    "Delivery",
    "DeliveryAlreadySettled",
    "Handler",
    "HandlerTasks",
    "MessageDecodeError",
    "Presence",
    "RunMessage",
    "check_max_priority",
    "check_prefetch",
    "check_runs_per_message",
    "clamp_priority",
    "decode_runs",
    "encode_runs",
    "pack_runs",
]


class Broker(ABC):
    """A durable priority queue of :class:`RunMessage` with publisher confirms and manual acknowledgement.

    An async context manager: entering connects and declares the queue (or raises :class:`BrokerUnavailable`),
    leaving cancels every consumer still registered and closes the connection. Methods other than ``ping``
    raise ``RuntimeError`` outside the context.

    Priority: a message's broker priority is ``clamp(message.priority, 0, max_priority)``; when messages wait
    in the queue, higher broker priority is delivered first, FIFO within one priority.
    """

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def start(self) -> None:
        """Connect and declare; what ``async with`` does on entry. Raises :class:`BrokerUnavailable`."""

    @abstractmethod
    async def close(self) -> None:
        """Cancel remaining consumers (no grace) and disconnect; idempotent."""

    @abstractmethod
    async def publish(self, messages: Sequence[RunMessage]) -> None:
        """Enqueue these runs durably; return only once the broker has confirmed every one of them.

        Runs are packed into broker messages by :func:`pack_runs` (the broker's ``runs_per_message``). Messages
        are persistent and published concurrently (one batch of confirms, not one round trip each).
        Raises :class:`BrokerUnavailable` if any message is not confirmed within the broker's publish timeout;
        the caller then retries later (duplicates are tolerated downstream). An empty sequence is a no-op.
        """

    @abstractmethod
    async def consume(self, handler: Handler, *, prefetch: int) -> Consumer:
        """Start delivering messages to ``handler``; at most ``prefetch`` (1..65535) unsettled at a time.

        See :class:`Consumer` for what happens when the handler raises or does not settle. The consumer comes
        back by itself after a connection loss. Raises :class:`BrokerUnavailable` if it cannot be registered.
        """

    @abstractmethod
    async def queue_depth(self) -> int:
        """Messages ready in the queue (not counting delivered-but-unsettled ones), for metrics/autoscaling.

        Broker messages, not runs: with ``runs_per_message`` above 1 a message carries up to that many runs.

        Raises :class:`BrokerUnavailable` when the broker does not answer in time.
        """

    @abstractmethod
    async def ping(self) -> bool:
        """True if the broker is reachable and the queue exists right now (for ``/readyz``); never raises."""

    @abstractmethod
    async def hold_presence(self, name: str) -> Presence:
        """Mark this process present under `name` for as long as its broker connection lives (see presence.py).
        Raises BrokerUnavailable if the broker cannot be reached."""

    @abstractmethod
    async def presence_of(self, name: str) -> bool | None:
        """Whether a presence mark `name` (another process's) exists right now; None if the broker could not be
        asked (then nothing can be concluded)."""
