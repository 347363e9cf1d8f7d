"""Recording each run's outcome: batched (outcomes of runs that end a few milliseconds apart share one
transaction), fenced on the instance that claimed the run, and retried while the database is unreachable (the
run's lease keeps being renewed meanwhile, so it is not declared lost unless this whole process is)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import RunOutcome, Store
from scheduler_executor.batching import Batcher

log = structlog.get_logger(__name__)

# Outcomes written in one transaction at most.
MAX_BATCH: Final = 200
# Seconds between attempts to record an outcome while the database is unreachable.
RETRY_DELAY_S: Final = 0.5
# Seconds an outcome waits for others to share its transaction. Runs claimed ahead of their slots start at them,
# so their outcomes arrive one at a time (1 ms apart at 1,000 runs/s) rather than a message's worth at once; this
# is what lets them be written a batch at a time again. It delays when the outcome and the release of the run's
# lock are recorded, not the run.
LINGER_S: Final = 0.02


class OutcomeRecorder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        *,
        owner_of: Callable[[str], str | None],
        current_owner: Callable[[], str],
        on_wake: Callable[[], None] | None = None,
    ) -> None:
        """owner_of(execution_id): the instance id that claimed the run (the fence's holds); current_owner(): the
        process's instance id now, for a run it no longer tracks. When a batch scheduled a retry or released a
        queued run, the timekeepers are woken to publish it on time: other processes' by the store's notification
        in the batch's transaction, an in-process one by on_wake() after it."""
        self._sessionmaker = sessionmaker
        self._store = store
        self._owner_of = owner_of
        self._current_owner = current_owner
        self._on_wake = on_wake
        self._batcher: Batcher[RunOutcome, bool] = Batcher(self._write, max_batch=MAX_BATCH, linger=LINGER_S)

    async def record(self, outcome: RunOutcome) -> bool:
        """Record the outcome, retrying while the database is unreachable; False if the run was no longer this
        process's to finish (the sweep failed it)."""
        while True:
            try:
                return await self._batcher.submit(outcome)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("finish_failed", error=str(exc), error_type=type(exc).__name__)
                await asyncio.sleep(RETRY_DELAY_S)

    async def close(self) -> None:
        await self._batcher.close()

    async def _write(self, outcomes: list[RunOutcome]) -> list[bool]:
        by_owner: dict[str, list[RunOutcome]] = {}
        for outcome in outcomes:
            owner = self._owner_of(outcome.execution_id) or self._current_owner()
            by_owner.setdefault(owner, []).append(outcome)
        recorded: set[str] = set()
        wake = False
        async with self._sessionmaker.begin() as session:
            for owner, owned in by_owner.items():
                result = await self._store.outcomes.finish(session, owned, instance_id=owner)
                recorded |= result.recorded
                wake = wake or result.wake
            if wake:
                await self._store.jobs.notify_changed(session)
        if wake and self._on_wake is not None:
            self._on_wake()
        return [outcome.execution_id in recorded for outcome in outcomes]
