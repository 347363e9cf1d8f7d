"""The in-process pipeline harness itself: an executor that would end its own process (a fence breach) fails the
test that caused it, with the breach named, instead of ending pytest (os._exit) and every test after it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import JobType
from tests.support.pipeline import FAST_EXECUTOR, pipeline
from tests.support.rabbit import RabbitAdmin
from tests.support.stores import store_of
from tests.support.tasks import read_log

# Seconds the task blocks the event loop: past the harness's 3-s lease, so no renewal can have kept it.
STALL_S = FAST_EXECUTOR.lock_ttl + 1.0


async def _stall_a_run(postgres_url: str, engine: AsyncEngine, rabbit: RabbitAdmin, tmp_path: Path) -> None:
    """One run of a task that blocks the loop past its lease, through the in-process pipeline; returns once the
    fence found the breach (or after 30 s)."""
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        async with create_sessionmaker(engine).begin() as session:
            store = store_of(session)
            function = await store.lookups.task_function_by_key(session, "stall")
            assert function is not None
            await store.jobs.create(
                session,
                {
                    "task_function_id": function.id,
                    "job_type_id": JobType.INTERVAL,
                    "interval_seconds": 3600,
                    "next_run_at": await store.clock.now(session),
                    "parameters": {
                        "log": str(tmp_path / "starts"),
                        "end_log": str(tmp_path / "ends"),
                        "seconds": STALL_S,
                    },
                },
            )
        await p.start_timekeeper()
        p.wake()
        for _ in range(300):  # 30 s at most
            if p.breaches:
                return
            await asyncio.sleep(0.1)


async def test_a_run_past_its_lease_fails_the_test_instead_of_ending_pytest(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    with pytest.raises(AssertionError, match=r"would have ended its process \(fenced\).*must stop"):
        await _stall_a_run(postgres_url, pg_engine, rabbit, tmp_path)
    assert len(read_log(tmp_path / "starts")) == 1  # the task did start: the breach was its own, not a set-up error
