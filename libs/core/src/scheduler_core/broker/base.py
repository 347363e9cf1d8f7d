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
"""

from __future__ import annotations

import asyncio
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import structlog

log = structlog.get_logger(__name__)

# AMQP 0-9-1 carries priority in one octet and RabbitMQ caps x-max-priority at 255.
MAX_SUPPORTED_PRIORITY = 255
# basic.qos prefetch_count is an AMQP short (16 bits); 0 would mean "unlimited", which we never want.
MAX_PREFETCH = 65535
# Upper bound of runs_per_message: keeps one message's body (about 150 bytes a run) and one claim batch small.
MAX_RUNS_PER_MESSAGE = 1000


class MessageDecodeError(ValueError):
    """The body of a message is not a valid encoded :class:`RunMessage`."""


class BrokerUnavailable(Exception):
    """The broker could not be reached or could not confirm an operation in time.

    Raised by ``publish`` when a message was not confirmed (broker down, timeout, nack, unroutable), by
    entering a broker whose server cannot be reached, and by ``consume``/``queue_depth`` when the server does
    not answer. The caller retries later; a publish that raised may still have enqueued some of its messages,
    which is fine because duplicates are tolerated downstream.
    """


class DeliveryAlreadySettled(RuntimeError):
    """``ack`` or ``reject`` was called on a delivery that was already settled (a programming error)."""


def clamp_priority(priority: int, max_priority: int) -> int:
    """Map a job priority (any int) onto the AMQP priority range ``0..max_priority``."""
    return max(0, min(priority, max_priority))


def _check_count(name: str, value: int, maximum: int) -> int:
    if isinstance(value, bool) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an int in 1..{maximum}, got {value!r}")
    return value


def check_max_priority(max_priority: int) -> int:
    """Validate a ``max_priority`` constructor argument and return it."""
    return _check_count("max_priority", max_priority, MAX_SUPPORTED_PRIORITY)


def check_prefetch(prefetch: int) -> int:
    """Validate the ``prefetch`` argument of ``consume`` and return it."""
    return _check_count("prefetch", prefetch, MAX_PREFETCH)


def check_runs_per_message(runs_per_message: int) -> int:
    """Validate a ``runs_per_message`` constructor argument and return it."""
    return _check_count("runs_per_message", runs_per_message, MAX_RUNS_PER_MESSAGE)


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is never a sensible job id or priority.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class RunMessage:
    """Asks an executor to run one execution of a job.

    ``scheduled_at`` is normalised to UTC on construction; a naive datetime is rejected because the slot it
    names would be ambiguous. ``execution_id`` must parse as a UUID and is kept exactly as given.
    """

    execution_id: str
    """UUID of the ``scheduled_job_execution`` row (the deduplication key of consumers)."""
    job_id: int
    scheduled_at: datetime
    """The slot this run stands for, timezone-aware UTC."""
    priority: int
    """The job's priority: any int, higher runs first (brokers clamp it to ``0..max_priority``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.execution_id, str):
            raise TypeError(f"execution_id must be a str, got {type(self.execution_id).__name__}")
        try:
            uuid.UUID(self.execution_id)
        except ValueError:
            raise ValueError(f"execution_id must be a UUID, got {self.execution_id!r}") from None
        if not _is_int(self.job_id):
            raise TypeError(f"job_id must be an int, got {type(self.job_id).__name__}")
        if not _is_int(self.priority):
            raise TypeError(f"priority must be an int, got {type(self.priority).__name__}")
        if not isinstance(self.scheduled_at, datetime):
            raise TypeError(f"scheduled_at must be a datetime, got {type(self.scheduled_at).__name__}")
        if self.scheduled_at.utcoffset() is None:
            raise ValueError(f"scheduled_at must be timezone-aware, got naive {self.scheduled_at.isoformat()}")
        if self.scheduled_at.tzinfo is not UTC:
            # frozen dataclass: the only way to normalise in place.
            object.__setattr__(self, "scheduled_at", self.scheduled_at.astimezone(UTC))

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one run (microsecond precision, explicit ``+00:00`` offset)."""
        return {
            "execution_id": self.execution_id,
            "job_id": self.job_id,
            "scheduled_at": self.scheduled_at.isoformat(),
            "priority": self.priority,
        }

    def encode(self) -> bytes:
        """Serialise this run alone to compact UTF-8 JSON (the body of a one-run message)."""
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> RunMessage:
        """Parse a body produced by :meth:`encode`.

        Unknown keys are ignored, so fields can be added without breaking consumers that are not upgraded yet.
        Raises :class:`MessageDecodeError` on anything else: not JSON, not an object, a missing or mistyped
        field, a naive or unparsable timestamp, an execution id that is not a UUID.
        """
        return cls.from_json(_load_json(body))

    @classmethod
    def from_json(cls, raw: Any) -> RunMessage:
        """Validate one run's JSON object (see :meth:`decode`)."""
        if not isinstance(raw, dict):
            raise MessageDecodeError(f"a run must be a JSON object, got {type(raw).__name__}")
        missing = sorted({"execution_id", "job_id", "scheduled_at", "priority"} - raw.keys())
        if missing:
            raise MessageDecodeError(f"missing field(s): {', '.join(missing)}")
        execution_id, job_id, scheduled_at, priority = (
            raw["execution_id"],
            raw["job_id"],
            raw["scheduled_at"],
            raw["priority"],
        )
        if not isinstance(execution_id, str):
            raise MessageDecodeError("execution_id must be a string")
        if not _is_int(job_id):
            raise MessageDecodeError("job_id must be an integer")
        if not _is_int(priority):
            raise MessageDecodeError("priority must be an integer")
        if not isinstance(scheduled_at, str):
            raise MessageDecodeError("scheduled_at must be an ISO 8601 string")
        try:
            when = datetime.fromisoformat(scheduled_at)
        except ValueError as exc:
            raise MessageDecodeError(f"scheduled_at is not ISO 8601: {scheduled_at!r}") from exc
        try:
            return cls(execution_id=execution_id, job_id=job_id, scheduled_at=when, priority=priority)
        except (TypeError, ValueError) as exc:
            raise MessageDecodeError(str(exc)) from exc


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MessageDecodeError(f"body is not JSON: {exc}") from exc


def encode_runs(runs: Sequence[RunMessage]) -> bytes:
    """The body of a broker message: one run as :meth:`RunMessage.encode`, several as ``{"runs": [...]}``.

    A single run keeps the one-run format, so executors of the previous version read it, and ones of this
    version read both."""
    if len(runs) == 1:
        return runs[0].encode()
    if not runs:
        raise ValueError("a message carries at least one run")
    return json.dumps({"runs": [run.to_json() for run in runs]}, separators=(",", ":")).encode()


def decode_runs(body: bytes) -> tuple[RunMessage, ...]:
    """Parse a body produced by :func:`encode_runs`; raises :class:`MessageDecodeError` (see
    :meth:`RunMessage.decode`). A body of several runs is rejected whole if any of them is invalid."""
    raw = _load_json(body)
    if isinstance(raw, dict) and "runs" in raw:
        runs = raw["runs"]
        if not isinstance(runs, list) or not runs:
            raise MessageDecodeError("runs must be a non-empty JSON array")
        return tuple(RunMessage.from_json(run) for run in runs)
    if not isinstance(raw, dict):
        raise MessageDecodeError(f"body must be a JSON object, got {type(raw).__name__}")
    return (RunMessage.from_json(raw),)


def pack_runs(
    runs: Sequence[RunMessage], *, runs_per_message: int, max_priority: int
) -> list[tuple[int, tuple[RunMessage, ...]]]:
    """Group runs into broker messages: (broker priority, runs), each with at most ``runs_per_message`` runs
    of one clamped priority, in publish order within a priority (priority, not order, decides across them)."""
    by_priority: dict[int, list[RunMessage]] = {}
    for run in runs:
        by_priority.setdefault(clamp_priority(run.priority, max_priority), []).append(run)
    return [
        (priority, tuple(group[start : start + runs_per_message]))
        for priority, group in by_priority.items()
        for start in range(0, len(group), runs_per_message)
    ]


class Delivery(ABC):
    """One delivery of a message, carrying one or more runs, to a consumer; the handler settles it exactly once.

    The runs of one delivery are settled together: acknowledge only once every one of them is accounted for.

    ``ack`` removes the message from the queue. ``reject(requeue=True)`` hands it back for another (or the
    same) consumer, which then sees ``redelivered=True``; ``reject(requeue=False)`` drops it.

    Settling a delivery whose consumer has already handed it back (the consumer was cancelled, or the
    connection that carried it dropped) is a logged no-op: the broker has already requeued the message, so it
    will be delivered again with ``redelivered=True``. Settling twice raises :class:`DeliveryAlreadySettled`.
    """

    __slots__ = ("_settled", "messages", "redelivered")

    def __init__(self, messages: tuple[RunMessage, ...], *, redelivered: bool) -> None:
        if not messages:
            raise ValueError("a delivery carries at least one run")
        self.messages = messages
        self.redelivered = redelivered
        self._settled = False

    @property
    def message(self) -> RunMessage:
        """The run of a one-run delivery; ValueError if it carries several (use ``messages``)."""
        if len(self.messages) != 1:
            raise ValueError(f"the delivery carries {len(self.messages)} runs; use .messages")
        return self.messages[0]

    @property
    def settled(self) -> bool:
        """True once ``ack`` or ``reject`` has been called."""
        return self._settled

    async def ack(self) -> None:
        """Acknowledge: the message is done with and leaves the queue."""
        self._mark_settled("ack")
        await self._settle(ack=True, requeue=False)

    async def reject(self, *, requeue: bool) -> None:
        """Reject: ``requeue=True`` puts the message back in the queue, ``requeue=False`` drops it."""
        self._mark_settled("reject")
        await self._settle(ack=False, requeue=requeue)

    def _mark_settled(self, action: str) -> None:
        # Marked before the I/O so that two concurrent calls cannot both go through.
        if self._settled:
            raise DeliveryAlreadySettled(
                f"cannot {action} execution {self.messages[0].execution_id}"
                f"{f' and {len(self.messages) - 1} more' if len(self.messages) > 1 else ''}: delivery already settled"
            )
        self._settled = True

    @abstractmethod
    async def _settle(self, *, ack: bool, requeue: bool) -> None:
        """Send the settlement; never raises for a lost channel (see the class docstring)."""

    def _log_context(self) -> dict[str, Any]:
        first = self.messages[0]
        context: dict[str, Any] = {"execution_id": first.execution_id, "job_id": first.job_id}
        if len(self.messages) > 1:
            context["runs"] = len(self.messages)
        context["redelivered"] = self.redelivered
        return context


Handler = Callable[[Delivery], Awaitable[None]]
"""Called once per delivery, each call in its own task, concurrently up to the consumer's prefetch."""


class Consumer(ABC):
    """A registered handler receiving deliveries from the queue; obtained from :meth:`Broker.consume`.

    Handler contract (both implementations):

    * Each delivery runs ``handler(delivery)`` in its own asyncio task owned by the consumer, so a dropped
      connection does not interrupt a running handler (its later ``ack`` becomes a no-op, see
      :class:`Delivery`).
    * ``prefetch`` bounds *unsettled* deliveries, not running handlers: once a handler acks, the broker may
      deliver the next message while that handler is still running. Bound task concurrency separately.
    * If the handler raises, the exception is logged (``handler_failed``) and an unsettled delivery is
      rejected with ``requeue=True``, so the run is never lost; the consumer keeps consuming. A handler that
      always raises therefore sees the message again and again: handlers are expected to catch their own
      errors and use this only as a last resort.
    * If the handler returns without settling, the delivery is rejected with ``requeue=True`` and
      ``delivery_not_settled`` is logged: every delivery is settled when its handler finishes.

    Usable as an async context manager that cancels on exit.
    """

    @abstractmethod
    async def cancel(self, *, grace_s: float = 0.0) -> None:
        """Stop receiving new deliveries and close the consumer; idempotent.

        Handlers still running are given up to ``grace_s`` seconds to finish, then cancelled (handlers must
        let ``CancelledError`` through). Deliveries delivered but not settled then go back to the queue, where
        the next consumer receives them with ``redelivered=True``.
        """

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Number of handler calls running now."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cancel()


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


class HandlerTasks:
    """Runs handler calls as tasks owned by a consumer and enforces the :class:`Consumer` handler contract.

    Shared by both implementations so that they treat failing and non-settling handlers identically.
    """

    __slots__ = ("_handler", "_log_context", "_tasks")

    def __init__(self, handler: Handler, **log_context: Any) -> None:
        self._handler = handler
        self._log_context = log_context
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, delivery: Delivery) -> None:
        task = asyncio.create_task(self._run(delivery), name=f"broker-handler-{delivery.messages[0].execution_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, delivery: Delivery) -> None:
        try:
            await self._handler(delivery)
        except Exception:
            log.exception("handler_failed", **self._log_context, **delivery._log_context())
            if not delivery.settled:
                await delivery.reject(requeue=True)
            return
        if not delivery.settled:
            log.warning("delivery_not_settled", **self._log_context, **delivery._log_context())
            await delivery.reject(requeue=True)

    async def stop(self, grace_s: float) -> None:
        """Wait up to ``grace_s`` seconds for running handlers, then cancel and await the rest."""
        current = asyncio.current_task()
        # A handler may cancel its own consumer: never wait for (or cancel) the calling task.
        running = {task for task in self._tasks if task is not current}
        if running and grace_s > 0:
            await asyncio.wait(running, timeout=grace_s)
        leftover = {task for task in running if not task.done()}
        if leftover:
            log.warning("handlers_cancelled", **self._log_context, count=len(leftover), grace_s=grace_s)
            for task in leftover:
                task.cancel()
            await asyncio.gather(*leftover, return_exceptions=True)
