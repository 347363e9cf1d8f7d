"""A task that runs longer than RabbitMQ's consumer timeout would allow an unacked delivery: the executor acks once
the run is claimed, so it simply works. In the same test, a consumer that does hold a message unacked that long
gets its channel closed, which proves the lowered timeout really was in force.

RabbitMQ 3.10 reads consumer_timeout when a channel opens and checks it on the channel's periodic tick
(channel_tick_interval, 60 s by default), so an unacked delivery trips at the first tick after the timeout:
measured here at about a minute for a 5-s timeout. The task is held until its executor's channel has certainly
had such a tick (timeout + tick interval + margin after the delivery)."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.models import ExecutionStatus
from tests.faults.history import history_report
from tests.support.cluster import Cluster, create_job, eventually, execution, executions, log_events, settle
from tests.support.measurements import measured
from tests.support.outages import consumer_timeout_lowered, rabbit_env
from tests.support.pipeline import Pipeline
from tests.support.rabbit import late_acking_consumer
from tests.support.tasks import read_log

pytestmark = pytest.mark.slow

CONSUMER_TIMEOUT_MS = 5000
# Seconds past the first tick that could trip the executor's channel, before the task is released.
MARGIN_S = 5.0


@pytest.mark.timeout(105)
async def test_a_task_longer_than_the_consumer_timeout_runs_to_success_while_an_unacked_consumer_is_closed(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, amqp_url: str, tmp_path: Path
) -> None:
    hold, log = tmp_path / "hold", tmp_path / "starts.log"
    hold.touch()
    tick_s = int((await rabbit_env("channel_tick_interval")).removeprefix("{ok,").removesuffix("}")) / 1000
    async with AsyncExitStack() as stack:
        # Only the channels opened inside this block get the low timeout: the executor's consumer channel and
        # the probe's. Other clients of the broker are not affected.
        async with consumer_timeout_lowered(CONSUMER_TIMEOUT_MS):
            [executor] = await cluster.executors(1)
            probe = await stack.enter_async_context(late_acking_consumer(amqp_url))

        job = await create_job(
            pg_engine, interval_seconds=3600, first_in=0.2, parameters={"log": str(log), "hold_while": str(hold)}
        )
        await local.start_timekeeper()
        [[execution_id, *_]] = await eventually(lambda: _started(log), 20, "the long task to start")
        started = time.time()

        # The probe holds its delivery unacked: the broker closes its channel at its first tick past the timeout.
        await asyncio.wait_for(probe.closed.wait(), CONSUMER_TIMEOUT_MS / 1000 + tick_s + 15)
        held = probe.held_s
        assert held is not None
        print(f"unacked delivery closed after {held:.1f} s (timeout {CONSUMER_TIMEOUT_MS} ms, tick {tick_s:g} s)")
        measured("unacked_consumer_closed_after_s", held)
        assert "PRECONDITION_FAILED" in probe.close_reason
        assert "delivery acknowledgement" in probe.close_reason
        assert CONSUMER_TIMEOUT_MS / 1000 <= held <= CONSUMER_TIMEOUT_MS / 1000 + tick_s + 5

        # Keep the task running until the executor's channel has certainly been checked past the timeout.
        release_at = started + CONSUMER_TIMEOUT_MS / 1000 + tick_s + MARGIN_S
        await asyncio.sleep(max(0.0, release_at - time.time()))
        assert (await execution(pg_engine, execution_id)).status_id == ExecutionStatus.RUNNING
        hold.unlink()
        await local.timekeepers[0].stop()
        await settle(pg_engine)

    run = await execution(pg_engine, execution_id)
    assert run.status_id == ExecutionStatus.SUCCESS, run.error_message
    assert run.duration_ms is not None
    print(f"the task ran {run.duration_ms / 1000:.1f} s and succeeded")
    measured("long_task_ran_s", run.duration_ms / 1000)
    assert run.duration_ms / 1000 > held
    # One delivery, one start; the executor's channel was never closed under it, and it kept its one consumer.
    assert [line[0] for line in read_log(log)] == [execution_id]
    report = await history_report(pg_engine, [job], [log])
    assert not report.lost, report
    assert not report.duplicated, report
    events = log_events(executor)
    assert events.count("consumer_started") == 1, executor.log_tail()
    assert "delivery_settle_lost" not in events  # an ack on a channel the broker had closed
    assert "duplicate_delivery_ignored" not in events  # the redelivery that follows such a close
    assert "broker_connection_lost" not in events
    assert executor.process.returncode is None
    assert len(await executions(pg_engine)) == 1


async def _started(log: Path) -> list[list[str]] | None:
    return read_log(log) or None
