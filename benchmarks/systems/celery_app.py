"""The Celery app of the benchmark (bench venv): `celery -A benchmarks.systems.celery_app worker|beat`.

Beat's schedule holds one entry per job, read from $BENCH_CELERY_JOBS. Each entry fires at fixed-rate slots
first + k * period (Celery's own `schedule` drifts: it is relative to the last send), and the slot a send is
for is passed to the task, which records it. Like Celery's own schedules, a beat that is late sends an entry
once for the latest slot that is due: the slots it skipped are what the harness counts as missing."""

from __future__ import annotations

import json
import math
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.beat import ScheduleEntry, Scheduler
from celery.schedules import schedstate, schedule
from celery.utils.log import get_logger

from benchmarks.recorder import record_start

QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench.celery")
logger = get_logger(__name__)

app = Celery("bench", broker=os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"))
app.conf.update(
    task_default_queue=QUEUE,
    task_default_exchange=QUEUE,
    task_default_routing_key=QUEUE,
    task_ignore_result=True,
    timezone="UTC",
    enable_utc=True,
    # Keeps the shared broker free of pidbox queues; not used by the benchmark.
    worker_enable_remote_control=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.record")  # type: ignore[untyped-decorator]
def record(job_id: int, slot: float) -> None:
    record_start(job_id, slot)


class FixedRate(schedule):  # type: ignore[misc]
    """Slots first + k * period; `claim` hands out the slot a send is for."""

    def __init__(self, first: float, period: int) -> None:
        super().__init__(run_every=timedelta(seconds=period))
        self.first = first
        self.period = period
        self.last_sent = first - period

    def _floor(self, at: float) -> float:
        return self.first + math.floor((at - self.first) / self.period) * self.period

    def is_due(self, last_run_at: Any) -> schedstate:
        now = time.time()
        following = self.last_sent + self.period
        if now >= following:
            return schedstate(True, max(0.0, self._floor(now) + self.period - now))
        return schedstate(False, following - now)

    def claim(self) -> float:
        slot = max(self._floor(time.time()), self.last_sent + self.period)
        self.last_sent = slot
        return slot

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.first, self.period))


class BenchScheduler(Scheduler):  # type: ignore[misc]
    """Celery's in-memory beat scheduler, with the benchmark's entries."""

    def setup_schedule(self) -> None:
        jobs = json.loads(Path(os.environ["BENCH_CELERY_JOBS"]).read_text())
        for job_id, first, period in jobs:
            name = f"j{job_id}"
            self.schedule[name] = ScheduleEntry(
                name=name,
                task="bench.record",
                schedule=FixedRate(float(first), int(period)),
                kwargs={"job_id": int(job_id)},
                app=self.app,
            )
        logger.warning("bench schedule loaded: %d entries", len(jobs))

    def apply_async(self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
        entry.kwargs["slot"] = entry.schedule.claim()
        return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
