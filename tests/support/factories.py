"""Rows for tests, written through the store like production code does."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store import TaskFunctionSpec
from scheduler_core.store.models import JobType, ScheduledJob
from tests.support.stores import store_of


async def task_function(session: AsyncSession, key: str = "noop") -> int:
    lookups = store_of(session).lookups
    await lookups.upsert_task_functions(session, [TaskFunctionSpec(key=key, name_en=key.title(), name_ar="مهمة")])
    found = await lookups.task_function_by_key(session, key)
    assert found is not None
    return found.id


async def interval_job(
    session: AsyncSession, *, next_run_at: datetime | None, seconds: int = 1, **fields: Any
) -> ScheduledJob:
    task_id = fields.pop("task_function_id", None) or await task_function(session)
    data = {
        "task_function_id": task_id,
        "job_type_id": JobType.INTERVAL,
        "interval_seconds": seconds,
        "next_run_at": next_run_at,
        "name_en": f"job {uuid.uuid4().hex[:6]}",
        **fields,
    }
    return await store_of(session).jobs.create(session, data)


def new_id() -> str:
    return str(uuid.uuid4())
