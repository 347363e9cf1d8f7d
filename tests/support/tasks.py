"""Task functions for the pipeline and fault tests. Each start is appended to a log file (one line, written
with O_APPEND so lines from several processes never interleave): double starts are visible even if the
database hid them."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from scheduler_core.tasks import TaskContext, TaskRouter

tasks = TaskRouter()

# Seconds between checks of a `hold_while` file.
HOLD_POLL_S = 0.05


class RecordParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log: str  # file to append "<execution_id> <job_id> <scheduled_at> <start unix time> <pid>" to
    seconds: float = 0.0  # then sleep this long
    hold_while: str | None = None  # and keep running while this file exists
    end_log: str | None = None  # append the same line plus end time when done


def append_line(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@tasks.task("record", name_en="Record start", name_ar="تسجيل البدء", parameters=RecordParams)
async def record(ctx: TaskContext, params: RecordParams) -> str:
    started = time.time()
    entry = f"{ctx.execution_id} {ctx.job_id} {ctx.scheduled_at.isoformat()} {started:.6f} {os.getpid()}"
    append_line(params.log, entry)
    if params.seconds:
        await asyncio.sleep(params.seconds)
    # A file, not an Event: the test that releases the task may be another process.
    while params.hold_while and Path(params.hold_while).exists():  # noqa: ASYNC240, ASYNC110
        await asyncio.sleep(HOLD_POLL_S)
    if params.end_log:
        append_line(params.end_log, f"{entry} {time.time():.6f}")
    return "recorded"


def read_log(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


class CrashParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log: str  # start log, as `record` writes it
    message: str = "this task always crashes"


@tasks.task("crash", name_en="Always crash", name_ar="فشل دائم", parameters=CrashParams)
async def crash(ctx: TaskContext, params: CrashParams) -> str:
    """Logs its start, then raises RuntimeError(message): the run must be failed with message and traceback,
    and never retried (the job has no retries)."""
    append_line(params.log, _start_entry(ctx))
    raise RuntimeError(params.message)


class HangParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log: str  # start log, as `record` writes it
    end_log: str  # "<start entry> <end unix time> <how>": how it ended (cancelled, or returned for `block`)
    seconds: float = 86_400.0  # how long it hangs; far past any timeout by default


@tasks.task("hang", name_en="Hang", name_ar="تعليق", parameters=HangParams)
async def hang(ctx: TaskContext, params: HangParams) -> str:
    """Logs its start and waits `seconds`; its end_log line says whether the executor's timeout cancelled it."""
    entry = _start_entry(ctx)
    append_line(params.log, entry)
    try:
        await asyncio.sleep(params.seconds)
    except asyncio.CancelledError:
        append_line(params.end_log, f"{entry} {time.time():.6f} cancelled")
        raise
    append_line(params.end_log, f"{entry} {time.time():.6f} returned")
    return "woke up"


@tasks.task("block", name_en="Block a thread", name_ar="حجب خيط", parameters=HangParams)
def block(ctx: TaskContext, params: HangParams) -> str:
    """A synchronous task that blocks its worker thread for `seconds` (a thread cannot be cancelled: it ends on
    its own, after its run was recorded timed out)."""
    entry = _start_entry(ctx)
    append_line(params.log, entry)
    time.sleep(params.seconds)
    append_line(params.end_log, f"{entry} {time.time():.6f} returned")
    return "unblocked"


def _start_entry(ctx: TaskContext) -> str:
    return f"{ctx.execution_id} {ctx.job_id} {ctx.scheduled_at.isoformat()} {time.time():.6f} {os.getpid()}"


class WorkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log: str  # activity log: "<execution_id> <job_id> <start|tick|end> <unix time> <pid>" per event
    seconds: float = 3.0  # how long it works: seconds / tick steps of its own (a paused process does no steps)
    tick: float = 0.05  # seconds between its signs of life
    start_log: str | None = None  # also append its start, as `record` writes it, for the history checker


def _activity(ctx: TaskContext, params: WorkParams, event: str) -> None:
    if event == "start" and params.start_log:
        append_line(params.start_log, _start_entry(ctx))
    append_line(params.log, f"{ctx.execution_id} {ctx.job_id} {event} {time.time():.6f} {os.getpid()}")


@tasks.task("work", name_en="Work a while", name_ar="عمل لفترة", parameters=WorkParams)
async def work(ctx: TaskContext, params: WorkParams) -> str:
    """Works `seconds` in steps of `tick`, logging its start, each step and its end: the lines show when task
    code of a run was really running, for the overlap checks of max_instances (tests/faults/overlap.py)."""
    _activity(ctx, params, "start")
    for _ in range(max(1, round(params.seconds / params.tick))):
        await asyncio.sleep(params.tick)
        _activity(ctx, params, "tick")
    _activity(ctx, params, "end")
    return "worked"


@tasks.task("work_in_thread", name_en="Work a while (thread)", name_ar="عمل لفترة (خيط)", parameters=WorkParams)
def work_in_thread(ctx: TaskContext, params: WorkParams) -> str:
    """`work` as a plain function, in a worker thread, which cannot be cancelled."""
    _activity(ctx, params, "start")
    for _ in range(max(1, round(params.seconds / params.tick))):
        time.sleep(params.tick)
        _activity(ctx, params, "tick")
    _activity(ctx, params, "end")
    return "worked"


class FlakyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log: str  # start log, as `record` writes it, plus the attempt: "<start entry> <attempt>"
    fail_attempts: int = 1  # the first this many attempts of a slot fail


@tasks.task("flaky", name_en="Fail, then succeed", name_ar="فشل ثم نجاح", parameters=FlakyParams)
async def flaky(ctx: TaskContext, params: FlakyParams) -> str:
    """Fails its slot's first `fail_attempts` attempts (RuntimeError), then succeeds: for retries."""
    append_line(params.log, f"{_start_entry(ctx)} {ctx.attempt}")
    if ctx.attempt <= params.fail_attempts:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    return f"succeeded at attempt {ctx.attempt}"


@tasks.task(
    "cooperate", name_en="Work until cancelled (thread)", name_ar="عمل حتى الإلغاء (خيط)", parameters=HangParams
)
def cooperate(ctx: TaskContext, params: HangParams) -> str:
    """A synchronous task that works in steps for `seconds`, checking ctx.cancel_requested between them: a
    thread cannot be cancelled, so a cooperative one returns early when asked."""
    entry = _start_entry(ctx)
    append_line(params.log, entry)
    if ctx.cancel_requested.wait(params.seconds):
        append_line(params.end_log, f"{entry} {time.time():.6f} cancel-requested")
        return "stopped on request"
    append_line(params.end_log, f"{entry} {time.time():.6f} returned")
    return "finished"


class SwitchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log: str  # start log, as `record` writes it
    fail_while: str  # the run fails while this file exists


@tasks.task("fail_while", name_en="Fail while switched", name_ar="فشل عند التفعيل", parameters=SwitchParams)
async def fail_while(ctx: TaskContext, params: SwitchParams) -> str:
    """Fails (RuntimeError) while the `fail_while` file exists, succeeds once it is gone: a job that fails, then
    recovers, when the test says so."""
    append_line(params.log, _start_entry(ctx))
    if Path(params.fail_while).exists():  # noqa: ASYNC240 (a stat, as `record`'s hold file)
        raise RuntimeError("failing on purpose while the switch file exists")
    return "succeeded"


@tasks.task("stall", name_en="Stall the event loop", name_ar="إيقاف حلقة الأحداث", parameters=HangParams)
async def stall(ctx: TaskContext, params: HangParams) -> str:
    """An async task that blocks its process's event loop for `seconds` (a bug in task code: no await), then
    yields once: the step after the stall is where the fence finds the run past its lease."""
    append_line(params.log, _start_entry(ctx))
    time.sleep(params.seconds)  # noqa: ASYNC251 - blocking the loop is this task's point
    await asyncio.sleep(0)
    return "stalled"
