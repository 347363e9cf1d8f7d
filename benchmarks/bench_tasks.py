"""The benchmark's task module for this product (SCHEDULER_TASK_MODULES=[..., "benchmarks.bench_tasks"],
with the repository root on PYTHONPATH): the same no-op task as every other system runs."""

from __future__ import annotations

from pydantic import BaseModel

from benchmarks.recorder import record_start
from scheduler_core.tasks import TaskContext, TaskRouter

tasks = TaskRouter()

TASK_KEY = "bench_record"


@tasks.task(TASK_KEY, name_en="Benchmark no-op", name_ar="مهمة قياس فارغة")
async def bench_record(ctx: TaskContext, params: BaseModel) -> None:
    record_start(ctx.job_id, ctx.scheduled_at.timestamp())
