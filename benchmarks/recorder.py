"""The one no-op task of every benchmarked system: record that run (job, slot) started, and when.

Each process appends `<job_id> <slot unix s> <start unix s> <pid>` lines to its own file under
$BENCH_RECORD_DIR with O_APPEND, one write(2) per run: no database round trip, so the task costs the same
(a few microseconds) in every system and the database and broker CPU measured is the system's own.
Standard library only: it is imported by the product's executors, Celery workers, APScheduler and the
limit pipeline's consumers alike."""

from __future__ import annotations

import os
import time

RECORD_DIR_ENV = "BENCH_RECORD_DIR"

_fd: int | None = None
_pid: int | None = None


def record_start(job_id: int, slot: float) -> None:
    """Record that the run of `job_id` for the slot at `slot` (unix seconds) starts now."""
    global _fd, _pid
    started = time.time()
    pid = os.getpid()
    if _fd is None or _pid != pid:  # first call, or we are a forked child: a file of our own
        directory = os.environ[RECORD_DIR_ENV]
        _fd = os.open(os.path.join(directory, f"{pid}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _pid = pid
    os.write(_fd, f"{job_id} {slot:.6f} {started:.6f} {pid}\n".encode())
