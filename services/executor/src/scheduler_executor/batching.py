"""Opportunistic batching: callers submit one item each and await its result; items submitted while a batch
is being written go together into the next one.

By default there is no timer: an item submitted to an idle batcher is flushed on the next turn of the event
loop (with whatever else arrived in that turn), so a quiet executor adds no latency, and a busy one turns a
thousand claims a second into a few dozen transactions. Items that trickle in one at a time (outcomes of runs
started at their own slots, a millisecond apart) share nothing that way: a `linger` holds the first item of a
batch that long for the ones that follow (and so at most one batch is written per linger)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

Flush = Callable[[list[Item]], Awaitable[Sequence[Result]]]


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        flush: Flush[Item, Result],
        *,
        max_batch: int,
        linger: float = 0.0,
        on_orphan: Callable[[Item, Result], None] | None = None,
    ) -> None:
        """flush(items) must return one result per item, in order; if it raises, every caller of that batch
        gets the exception. on_orphan(item, result) receives results whose caller stopped waiting (it was
        cancelled while its batch was being written), so that nothing the flush did goes unaccounted. linger:
        seconds from the first item submitted to an idle batcher, or from the end of a write, to the next."""
        self._flush = flush
        self._max_batch = max_batch
        self._linger = linger
        self._on_orphan = on_orphan
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        (future,) = self._enqueue([item])
        return await future

    async def submit_many(self, items: Sequence[Item]) -> list[Result | Exception]:
        """Submit several items at once; one result per item, in order, where an item whose batch failed gets
        that batch's exception instead (items may be split across batches, so some can succeed while others
        fail: every result is returned, none is dropped)."""
        futures = self._enqueue(items)
        try:
            await asyncio.wait(futures)
        except asyncio.CancelledError:
            for item, future in zip(items, futures, strict=True):
                if not future.done():
                    future.cancel()
                elif not future.cancelled() and future.exception() is None and self._on_orphan is not None:
                    # Written before we were cancelled, but nobody will read it now.
                    self._on_orphan(item, future.result())
            raise
        results: list[Result | Exception] = []
        for future in futures:
            exc = future.exception()
            if exc is None:
                results.append(future.result())
            elif isinstance(exc, Exception):
                results.append(exc)
            else:
                raise exc
        return results

    def _enqueue(self, items: Sequence[Item]) -> list[asyncio.Future[Result]]:
        """Queue the items for the next batch (starting the drainer if idle); one future per item."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = [loop.create_future() for _ in items]
        self._waiting.extend(zip(items, futures, strict=True))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="batcher-drain")
        return futures

    async def _drain(self) -> None:
        while self._waiting:
            if self._linger > 0:
                # Before every batch, not only the first: what arrived during a write is not a batch yet.
                await asyncio.sleep(self._linger)
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            live = [(item, future) for item, future in batch if not future.cancelled()]
            if not live:
                continue
            try:
                # Shielded: callers being cancelled (shutdown) must not abort a write half-way through.
                results = await asyncio.shield(self._flush([item for item, _ in live]))
            except asyncio.CancelledError:
                for _, future in live:
                    future.cancel()
                raise
            except Exception as exc:
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (item, future), result in zip(live, results, strict=True):
                if not future.done():
                    future.set_result(result)
                elif self._on_orphan is not None:
                    self._on_orphan(item, result)

    async def close(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
