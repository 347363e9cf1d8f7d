"""A task function's invocation for one run: its parameters parsed, the function run (a coroutine on the loop, a
plain function on a worker thread) under the run's timeout, and what happened turned into an outcome."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core import verdicts
from scheduler_core.outbound import OutboundGuard
from scheduler_core.store import ClaimedRun, RunOutcome, Store
from scheduler_core.store.models import ExecutionStatus
from scheduler_core.tasks import TaskContext, TaskRegistry, UnknownTask
from scheduler_executor.fencing import gated

# Characters of a task's return value kept as result_summary.
SUMMARY_MAX_CHARS = 2000


class TaskInvocation:
    def __init__(
        self,
        registry: TaskRegistry,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        *,
        concurrency: int,
        task_timeout: float,
        outbound: OutboundGuard,
        audit_retention_days: int,
    ) -> None:
        self._registry = registry
        self._outbound = outbound  # what tasks reach the network through
        self._sessionmaker = sessionmaker
        self._store = store
        self._task_timeout = task_timeout  # seconds, for jobs without a timeout of their own
        self._audit_retention_days = audit_retention_days  # for the history cleanup task
        # Threads are started on demand, so an executor of async tasks never starts one.
        self._threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="task")

    def close(self) -> None:
        # Threads of timed-out or abandoned sync tasks cannot be stopped: do not wait for them.
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def invoke(
        self, claim: ClaimedRun, gate: Callable[[], None], cancel_requested: threading.Event
    ) -> RunOutcome:
        """Run the claim's task function with its timeout; never raises except on cancellation. An async one is
        resumed only through `gate`, which ends the process if the run may no longer run (fencing.py): checked
        before every step of the task's code. `cancel_requested` is the context's (cancellation.py)."""
        started = time.monotonic()

        execution_id, slot = claim.execution_id, claim.scheduled_at

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            definition = self._registry.get(claim.task_key)
            params = definition.parse_parameters(claim.parameters)
        except UnknownTask as exc:
            return RunOutcome(
                execution_id, slot, ExecutionStatus.FAILED, elapsed_ms(), error_message=f"{exc} on this executor"
            )
        except ValidationError as exc:
            return RunOutcome(
                execution_id,
                slot,
                ExecutionStatus.FAILED,
                elapsed_ms(),
                error_message=f"invalid task parameters: {exc}",
            )

        context = TaskContext(
            claim.execution_id,
            claim.job_id,
            claim.scheduled_at,
            self._sessionmaker,
            self._store,
            self._outbound,
            claim.fencing_token,
            cancel_requested,
            claim.attempt,
            self._audit_retention_days,
        )
        timeout = float(claim.timeout_seconds or self._task_timeout)
        result: object
        try:
            async with asyncio.timeout(timeout) as deadline:
                if definition.is_async:
                    result = await gated(definition.function(context, params), gate)  # type: ignore[arg-type]
                else:
                    # Sync tasks run in a worker thread of our own pool, one per slot (asyncio's default pool
                    # has min(32, cores + 4) threads, fewer than the slots); a timed-out thread cannot be
                    # killed and finishes in the background, but its result is discarded.
                    call = functools.partial(contextvars.copy_context().run, definition.function, context, params)
                    result = await asyncio.get_running_loop().run_in_executor(self._threads, call)
        except TimeoutError:
            if not deadline.expired():
                return self._failure(execution_id, slot, elapsed_ms())
            message = verdicts.timed_out(timeout)
            return RunOutcome(execution_id, slot, ExecutionStatus.FAILED, elapsed_ms(), error_message=message)
        except asyncio.CancelledError:
            raise
        except Exception:
            return self._failure(execution_id, slot, elapsed_ms())
        summary = None if result is None else str(result)[:SUMMARY_MAX_CHARS]
        return RunOutcome(execution_id, slot, ExecutionStatus.SUCCESS, elapsed_ms(), result_summary=summary)

    @staticmethod
    def _failure(execution_id: str, slot: datetime, duration_ms: int) -> RunOutcome:
        exc = sys.exception()  # called from an except block: the task's exception
        message = f"{type(exc).__name__}: {exc}" if exc is not None else "task failed"
        error = traceback.format_exc()
        return RunOutcome(
            execution_id, slot, ExecutionStatus.FAILED, duration_ms, error_message=message, error_traceback=error
        )
