"""Self-fencing: the executor stops the work its leases cover before the sweep may hand that work to another
executor (the rules, and why they never overlap, are in scheduler_core.leases).

Two layers act on the same rules, evaluated on the monotonic clock:

- the *gate*: an async task's coroutine is resumed only through `gated`, which asks the fence first, so a
  process that resumes from a pause past a deadline ends before any step of task code runs;
- the *soft fence*, a task on the event loop, cancels a run's task SOFT_STOP_LEAD_S before the run must stop,
  so a cooperative (async) task ends cleanly (a task in a worker thread cannot be cancelled: it is left to the
  watchdog); it also proves the presence mark while heartbeats fail;
- the *watchdog*, a thread of its own that does not need the event loop, ends the process (exit code
  FENCED_EXIT_CODE; an orchestrator restarts it) once a run it still holds must stop: a task in a worker thread
  cannot be cancelled, a loop may be blocked, and a process that was paused (SIGSTOP, a VM pause, a long GC)
  resumes with every deadline behind it. It checks every watchdog interval, so task code runs at most one
  interval past a deadline it resumed after: that is the overlap bound the README states.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
import types
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import structlog

from scheduler_core import leases
from scheduler_core.broker import Presence
from scheduler_core.instance import InstanceHeartbeat

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass
class Hold:
    """A run this process holds, from its claim until its outcome is recorded: who claimed it, until when its lease
    lasts, and the task running it. Its lease is renewed all that time; the fence watches it only while its task
    function may still run (`active`): a run whose task has ended has no side effects left to stop."""

    owner: str  # the instance id that claimed it (the run's executor_id and lock owner)
    lease_deadline: float  # time.monotonic(): the lease ends no earlier than this
    in_thread: bool  # its task function runs in a worker thread, which cannot be cancelled
    task: asyncio.Task[None] | None = None
    active: bool = True
    revoked_at: float | None = None  # time.monotonic() when the sweep was found to have failed it


class Fencing:
    def __init__(
        self,
        instance: InstanceHeartbeat,
        *,
        lock_ttl: float,
        instance_timeout: float,
        watchdog_interval: float,
        on_breach: Callable[[str], None],
    ) -> None:
        """on_breach(reason) ends the process; it is called from the watchdog thread."""
        self._instance = instance
        self._lock_ttl = lock_ttl  # seconds
        self._instance_timeout = instance_timeout  # seconds
        self._interval = watchdog_interval  # seconds
        self._on_breach = on_breach
        self._holds: dict[str, Hold] = {}
        # What lets breaches() answer without visiting every hold (it runs 10 times a second in each layer, and
        # before every step of task code): no active hold's lease ends before `_earliest` (time.monotonic(); a
        # lower bound, made exact whenever the holds are visited), and no hold was revoked since they last were.
        self._earliest = math.inf
        self._revoked = False
        self._guard = threading.Lock()  # the watchdog thread reads what the loop writes
        self.presence: Presence | None = None
        self._proven_sent: float | None = None  # monotonic send time of the last successful presence proof
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._soft: asyncio.Task[None] | None = None

    # --- what the executor tells it -----------------------------------------------------------------------------

    def hold(self, execution_id: str, *, owner: str, claim_sent: float, in_thread: bool) -> None:
        with self._guard:
            deadline = leases.lease_deadline(claim_sent, self._lock_ttl)
            self._holds[execution_id] = Hold(owner, deadline, in_thread)
            self._earliest = min(self._earliest, deadline)

    def running(self, execution_id: str, task: asyncio.Task[None]) -> None:
        hold = self._holds.get(execution_id)
        if hold is not None:
            hold.task = task

    def task_ended(self, execution_id: str) -> None:
        """The run's task function is no longer running (its outcome may still be unrecorded)."""
        hold = self._holds.get(execution_id)
        if hold is not None:
            hold.active = False

    def release(self, execution_id: str) -> None:
        with self._guard:
            self._holds.pop(execution_id, None)

    def owner_of(self, execution_id: str) -> str | None:
        hold = self._holds.get(execution_id)
        return None if hold is None else hold.owner

    def holders(self) -> dict[str, list[str]]:
        """The runs held, by the instance id that holds them (what a lease renewal sends)."""
        by_owner: dict[str, list[str]] = {}
        for execution_id, hold in list(self._holds.items()):
            if hold.revoked_at is None:
                by_owner.setdefault(hold.owner, []).append(execution_id)
        return by_owner

    def renewed(self, requested: list[str], still_held: set[str], sent: float) -> None:
        """A renewal sent at `sent` found these of `requested` still held: their leases move on; the others were
        failed by the sweep and must stop now."""
        deadline = leases.lease_deadline(sent, self._lock_ttl)
        now = time.monotonic()
        with self._guard:
            for execution_id in requested:
                hold = self._holds.get(execution_id)
                if hold is None:
                    continue
                if execution_id in still_held:
                    hold.lease_deadline = max(hold.lease_deadline, deadline)
                elif hold.revoked_at is None:
                    hold.revoked_at = now
                    self._revoked = True
        lost = [eid for eid in requested if eid not in still_held and (h := self._holds.get(eid)) and h.active]
        if lost:
            log.error("leases_lost", execution_ids=lost, reason="the sweep failed these runs: their locks are gone")
            self._stop_runs(lost, "its lease was taken by the sweep")

    def revoke_owner(self, owner: str) -> list[str]:
        """Every run held under `owner` (an instance the sweep declared stopped) must stop: cancel them; returns
        those that run in a thread and cannot be stopped."""
        now = time.monotonic()
        with self._guard:
            doomed = [eid for eid, hold in self._holds.items() if hold.owner == owner and hold.active]
            for execution_id in doomed:
                self._holds[execution_id].revoked_at = now
            self._revoked = self._revoked or bool(doomed)
        self._stop_runs(doomed, "its instance was declared stopped")
        return [eid for eid in doomed if (hold := self._holds.get(eid)) is not None and hold.in_thread]

    # --- the rules ----------------------------------------------------------------------------------------------

    def breaches(self, now: float, margin: float) -> list[tuple[str, str]]:
        """(execution id, reason) of the runs whose task may still run and that must stop by `now + margin`. A
        revoked run must stop at once: a task in a thread now, a cancelled coroutine within `margin` (time to
        unwind)."""
        silence = self._silence_deadline()
        silent = silence is None or now + margin >= silence
        # Proofs keep coming while they succeed: a proof's freshness is judged a watchdog interval ahead at most,
        # not as far ahead as the soft fence looks for leases (that would ask for a proof from the future).
        vouched = not silent or (
            silence is not None
            and leases.presence_vouches(
                now + min(margin, self._interval),
                held_since=self.presence.held_since if self.presence is not None else None,
                proven_sent=self._proven_sent,
                silence_deadline=silence,
            )
        )
        with self._guard:
            if vouched and not self._revoked and now + margin < self._earliest:
                return []
            holds = [(eid, hold) for eid, hold in self._holds.items() if hold.active]
            self._revoked = any(hold.revoked_at is not None for _, hold in holds)
            self._earliest = min((hold.lease_deadline for _, hold in holds), default=math.inf)
        found = []
        for execution_id, hold in holds:
            if hold.revoked_at is not None and (hold.in_thread or now >= hold.revoked_at + margin):
                found.append((execution_id, "the sweep failed it while its task ran"))
            elif now + margin >= hold.lease_deadline:
                found.append((execution_id, "its lease could not be renewed in time"))
            elif not vouched:
                found.append((execution_id, "heartbeats fail and the broker connection cannot vouch for this process"))
        return found

    def _silence_deadline(self) -> float | None:
        sent = self._instance.last_ok_sent
        return None if sent is None else leases.silence_deadline(sent, self._instance_timeout)

    def gate(self, execution_id: str) -> None:
        """Before a step of the run's task code: end the process now if the run must already have stopped (its
        lease or its presence ran out: the process was paused, or its loop blocked, past the deadline). A run
        revoked by the sweep is being cancelled: its coroutine gets that cancellation, to unwind."""
        hold = self._holds.get(execution_id)
        if hold is None or hold.revoked_at is not None:
            return
        breached = [reason for eid, reason in self.breaches(time.monotonic(), 0.0) if eid == execution_id]
        if breached:
            self._on_breach(f"run {execution_id} must stop: {breached[0]}")

    # --- the two layers -----------------------------------------------------------------------------------------

    def start(self, *, watchdog: bool) -> None:
        """Start the soft fence, and the watchdog thread if `watchdog` (a process of its own: embedded mode and
        tests that run an executor inside another program leave it off)."""
        self._soft = asyncio.create_task(self._soft_fence(), name="soft-fence")
        if watchdog:
            self._thread = threading.Thread(target=self._watch, name="lease-watchdog", daemon=True)
            self._thread.start()

    async def close(self) -> None:
        self._stop.set()
        if self._soft is not None:
            self._soft.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._soft

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            breached = self.breaches(time.monotonic(), self._interval)
            if breached:
                execution_id, reason = breached[0]
                self._on_breach(f"run {execution_id} must stop: {reason} ({len(breached)} run(s) held)")
                return

    async def _soft_fence(self) -> None:
        next_proof = 0.0
        # Ends on close() even if a library under prove() swallowed the cancellation (aiormq can, while a channel
        # opens): close() sets _stop before it cancels.
        while not self._stop.is_set():
            await asyncio.sleep(self._interval)
            try:
                next_proof = await self._soft_step(next_proof)
            except Exception:  # a bug here must not silently end the fence; the watchdog still stands behind it
                log.exception("soft_fence_failed")

    async def _soft_step(self, next_proof: float) -> float:
        """One round of the soft fence; returns when the next presence proof is due."""
        now = time.monotonic()
        breached = self.breaches(now, leases.SOFT_STOP_LEAD_S + self._interval)
        if breached:
            self._stop_runs([execution_id for execution_id, _ in breached], breached[0][1])
        silence = self._silence_deadline()
        # Proved while heartbeats fail whether or not a task runs now: a run claimed the moment the database is
        # back (before the next heartbeat) must find a fresh proof, or the fence would stop it at once.
        needs_proof = silence is None or now + leases.SOFT_STOP_LEAD_S + leases.PROOF_WINDOW_S >= silence
        if needs_proof and now >= next_proof and self.presence is not None:
            next_proof = now + leases.PROOF_INTERVAL_S
            sent = time.monotonic()
            if await self.presence.prove():
                self._proven_sent = sent
            else:
                log.warning("presence_unproven", held_since=self.presence.held_since)
        return next_proof

    def _stop_runs(self, execution_ids: list[str], reason: str) -> None:
        """Cancel the tasks of these runs. A run in a thread keeps running: the watchdog ends the process. Its task
        is not cancelled: that would stop only the coroutine awaiting the thread, and end the run's hold (the
        task ended), so that the watchdog would no longer watch a thread that runs on without a lease."""
        for execution_id in execution_ids:
            hold = self._holds.get(execution_id)
            if hold is None or hold.in_thread or hold.task is None or hold.task.done() or hold.task.cancelling():
                continue
            log.warning("run_fenced", execution_id=execution_id, reason=reason, in_thread=hold.in_thread)
            hold.task.cancel(f"{_FENCED}{reason}")


@types.coroutine
def _drive(coroutine: Coroutine[Any, Any, T], gate: Callable[[], None]) -> Generator[Any, Any, T]:
    """Drive `coroutine` as its awaiting task would, calling gate() before each resumption of it."""
    value: Any = None
    error: BaseException | None = None
    while True:
        gate()
        try:
            step = coroutine.throw(error) if error is not None else coroutine.send(value)
        except StopIteration as done:
            return cast(T, done.value)
        try:
            value, error = (yield step), None
        except BaseException as exc:  # a cancellation or timeout thrown into the task: passed on to its code
            value, error = None, exc


async def gated(coroutine: Coroutine[Any, Any, T], gate: Callable[[], None]) -> T:
    """Await `coroutine`, asking `gate` before every step of it (a step is the code between two awaits that
    suspend)."""
    try:
        return await _drive(coroutine, gate)
    finally:
        coroutine.close()


# Prefix of the cancellation message of a run the fence stopped (a shutdown's cancellations carry none).
_FENCED = "fenced: "


def fenced_reason(cancelled: asyncio.CancelledError) -> str | None:
    """Why the fence stopped the run whose task was cancelled with `cancelled`; None if it was not the fence."""
    message = cancelled.args[0] if cancelled.args else None
    return message.removeprefix(_FENCED) if isinstance(message, str) and message.startswith(_FENCED) else None


def exit_fenced(reason: str) -> None:
    """End the process now, from the watchdog thread: no cleanup runs, no task code either."""
    os.write(2, f'{{"event": "process_fenced", "level": "critical", "reason": "{_json_text(reason)}"}}\n'.encode())
    os._exit(leases.FENCED_EXIT_CODE)


def _json_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
