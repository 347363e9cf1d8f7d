"""Requests to cancel runs this executor is running: an operator's (POST …/executions/{id}/action cancel, `jobs
cancel`) or a newer run's (overlap_policy replace). They reach the executor with its lease renewals (every
heartbeat): the database answers each renewal with the runs asked to cancel.

A run's async task is cancelled, with the request as the cancellation's message, so its code can unwind (and
clean up) at its next await. A task in a worker thread cannot be cancelled: its TaskContext.cancel_requested
event is set, for a cooperative task to see and return early; one that does not runs on under its timeout. A run
whose task ends, by whatever path, after a cancellation was requested is recorded cancelled (status 7) with who
asked: what it did may be incomplete."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

_REQUESTED = "cancel requested: "


@dataclass
class _Running:
    task: asyncio.Task[None]
    in_thread: bool
    event: threading.Event
    requested_by: str | None = None


class Cancellations:
    def __init__(self) -> None:
        self._runs: dict[str, _Running] = {}

    def track(self, execution_id: str, task: asyncio.Task[None], *, in_thread: bool) -> threading.Event:
        """A run whose task starts now; returns the event its TaskContext carries."""
        event = threading.Event()
        self._runs[execution_id] = _Running(task, in_thread, event)
        return event

    def forget(self, execution_id: str) -> None:
        self._runs.pop(execution_id, None)

    def request(self, cancelling: dict[str, str]) -> None:
        """Apply the requests a lease renewal returned (execution id -> who asked); each once."""
        for execution_id, by in cancelling.items():
            run = self._runs.get(execution_id)
            if run is None or run.requested_by is not None:
                continue
            run.requested_by = by
            run.event.set()
            log.info("run_cancel_requested", execution_id=execution_id, by=by, in_thread=run.in_thread)
            if not run.in_thread and not run.task.done():
                run.task.cancel(f"{_REQUESTED}{by}")

    def requested_by(self, execution_id: str) -> str | None:
        """Who asked to cancel this run, if anyone did."""
        run = self._runs.get(execution_id)
        return None if run is None else run.requested_by


def requested_by(cancelled: asyncio.CancelledError) -> str | None:
    """Who asked for the cancellation `cancelled` carries; None if it was not a cancel request (a shutdown, the
    fence)."""
    message = cancelled.args[0] if cancelled.args else None
    return message.removeprefix(_REQUESTED) if isinstance(message, str) and message.startswith(_REQUESTED) else None
