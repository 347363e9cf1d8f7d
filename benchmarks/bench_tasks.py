"""The benchmark's task module for this product (SCHEDULER_TASK_MODULES=[..., "benchmarks.bench_tasks"],
with the repository root on PYTHONPATH): the same no-op task as every other system runs."""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel

from benchmarks.recorder import record_start
from scheduler_core.tasks import TaskContext, TaskRouter

tasks = TaskRouter()

TASK_KEY = "bench_record"
#: the long-runs leg's task: records its start, then holds its run for BENCH_HOLD_S seconds (asleep: no CPU)
HOLD_TASK_KEY = "bench_hold"


@tasks.task(TASK_KEY, name_en="Benchmark no-op", name_ar="مهمة قياس فارغة")
async def bench_record(ctx: TaskContext, params: BaseModel) -> None:
    record_start(ctx.job_id, ctx.scheduled_at.timestamp())


@tasks.task(HOLD_TASK_KEY, name_en="Benchmark long run", name_ar="مهمة قياس طويلة")
async def bench_hold(ctx: TaskContext, params: BaseModel) -> None:
    record_start(ctx.job_id, ctx.scheduled_at.timestamp())
    await asyncio.sleep(float(os.environ.get("BENCH_HOLD_S", "60")))
