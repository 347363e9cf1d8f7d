"""Consumers: the handler a consumer calls for each delivery, the :class:`Consumer` interface with its handler
contract, and :class:`HandlerTasks`, which both brokers use to keep that contract the same way.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import structlog

from .delivery import Delivery

log = structlog.get_logger(__name__)


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
    async def cancel(self, *, grace_s: float = 0.0, cut_short: asyncio.Event | None = None) -> None:
        """Stop receiving new deliveries and close the consumer; idempotent.

        Handlers still running are given up to ``grace_s`` seconds to finish (less if ``cut_short`` is set
        meanwhile, or already: a second interrupt), then cancelled (handlers must let ``CancelledError``
        through). Deliveries delivered but not settled then go back to the queue, where the next consumer
        receives them with ``redelivered=True``.
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

    async def stop(self, grace_s: float, cut_short: asyncio.Event | None = None) -> None:
        """Wait up to ``grace_s`` seconds for running handlers (until ``cut_short`` is set, if sooner), then
        cancel and await the rest."""
        current = asyncio.current_task()
        # A handler may cancel its own consumer: never wait for (or cancel) the calling task.
        running = {task for task in self._tasks if task is not current}
        if running and grace_s > 0 and not (cut_short is not None and cut_short.is_set()):
            await _all_done_or(running, cut_short, grace_s)
        leftover = {task for task in running if not task.done()}
        if leftover:
            log.warning("handlers_cancelled", **self._log_context, count=len(leftover), grace_s=grace_s)
            for task in leftover:
                task.cancel()
            await asyncio.gather(*leftover, return_exceptions=True)


async def _all_done_or(tasks: set[asyncio.Task[None]], cut_short: asyncio.Event | None, timeout_s: float) -> None:
    """Until every task is done, `cut_short` is set, or `timeout_s` seconds have passed (the tasks are left
    running: asyncio.wait never cancels what it waits for)."""
    waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(asyncio.wait(tasks))}
    if cut_short is not None:
        waiters.add(asyncio.ensure_future(cut_short.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
