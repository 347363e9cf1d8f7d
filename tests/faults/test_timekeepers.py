"""Timekeepers: several racing on the same 1-second jobs write each slot once (guarantee 1), and one that was
down catches up following misfire_grace_time and coalesce (guarantee 2), all as real processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.models import ExecutionStatus
from tests.faults.history import history_report
from tests.support.cluster import Cluster, create_job, db_now, next_run_times, scrape_metrics, settle
from tests.support.measurements import measured
from tests.support.pipeline import Pipeline

# Jobs racing, and for how many seconds of slots they race.
RACING_JOBS = 6
RACE_S = 6.0
# A run starts within this many seconds of its slot while nothing fails (measured: see GUARANTEES.md).
LATE_BOUND_S = 3.0
# After the stop, each job's next_run_at is within this many seconds of it: the timekeepers kept up.
KEPT_UP_S = 1.5


@pytest.mark.timeout(55)
async def test_three_timekeepers_racing_on_one_second_schedules_write_and_start_each_slot_once(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    for _ in range(2):
        await local.start_executor()
    timekeepers = await cluster.timekeepers(3)
    # Staggered anchors: six separate due instants per second for the three to race on.
    jobs = [
        await create_job(pg_engine, first_in=2.0 + i / RACING_JOBS, max_instances=2, parameters={"log": str(log)})
        for i in range(RACING_JOBS)
    ]
    await asyncio.sleep(2 + RACE_S)  # RACE_S seconds of slots after the first ones
    scheduled_by = [
        (await scrape_metrics(timekeeper)).get("scheduler_runs_scheduled_total", 0.0) for timekeeper in timekeepers
    ]
    stopped_at = await db_now(pg_engine)
    await cluster.stop(timekeepers)
    rows = await settle(pg_engine)
    report = await history_report(pg_engine, jobs, [log], late_bound_s=LATE_BOUND_S)
    print(report)
    measured("racing_slots", report.expected)
    measured("racing_max_lateness_s", report.max_lateness_s or 0.0)
    measured("racing_duplicated", len(report.duplicated))
    measured("racing_timekeepers_writing", sum(1 for count in scheduled_by if count > 0))

    assert not report.lost, f"{report}\n{cluster.tails()}"
    assert not report.duplicated, report
    assert not report.unexpected, report
    assert not report.late, report
    assert report.expected >= RACING_JOBS * (RACE_S - 2), report
    assert report.outcomes["success"] == report.expected, report
    # Every slot due before the stop was handled: the race did not stall any job.
    for job_id, next_run in (await next_run_times(pg_engine)).items():
        assert next_run is not None
        assert next_run >= stopped_at - timedelta(seconds=KEPT_UP_S), (job_id, next_run, stopped_at)
    # The race was real: more than one timekeeper wrote rows (counted before the stop, so at most all rows).
    assert sum(1 for count in scheduled_by if count > 0) >= 2, scheduled_by
    assert sum(scheduled_by) <= len(rows), (scheduled_by, len(rows))


# Catch-up scenario: the period, how long the timekeeper stays down at least (then its replacement starts, which
# takes seconds more), and the grace times on either side of the outage (seconds).
PERIOD_S = 1
DOWN_S = 3 * PERIOD_S
SMALL_GRACE_S = 1
LARGE_GRACE_S = 60
# How the restarted timekeeper's scheduling pass words a slot it found past its grace time.
TIMEKEEPER_MISSED = ("missed: the timekeeper reached", "slots from")
# How the executor's claim words it, and the sweep when it comes first (a run still pending past its grace time).
CLAIM_MISSED = ("missed: picked up", "missed: not claimed by any executor")


@pytest.mark.timeout(45)
async def test_a_timekeeper_down_for_three_periods_catches_up_by_misfire_grace_time_and_coalesce(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    await local.start_executor()
    [timekeeper] = await cluster.timekeepers(1)
    variants = {
        (coalesce, grace): await create_job(
            pg_engine,
            interval_seconds=PERIOD_S,
            first_in=0.5,
            coalesce=coalesce,
            misfire_grace_time=grace,
            max_instances=100,  # the catch-up of a long outage runs many slots at once
            parameters={"log": str(log)},
        )
        for coalesce in (True, False)
        for grace in (SMALL_GRACE_S, LARGE_GRACE_S)
    }
    jobs = list(variants.values())
    await asyncio.sleep(PERIOD_S + 1)  # a slot of each job on time

    timekeeper.kill()  # SIGKILL: a crash, not a shutdown
    await timekeeper.process.wait()
    killed_at = await db_now(pg_engine)
    await asyncio.sleep(DOWN_S)
    [timekeeper] = await cluster.timekeepers(1)
    back_at = await db_now(pg_engine)
    await asyncio.sleep(PERIOD_S + 1)  # a slot on time after the catch-up
    stopped_at = await db_now(pg_engine)
    await cluster.stop([timekeeper])
    rows = await settle(pg_engine)
    report = await history_report(pg_engine, jobs, [log])
    print(f"timekeeper down {(back_at - killed_at).total_seconds():.1f} s (period {PERIOD_S} s)\n{report}")
    measured("timekeeper_down_s", (back_at - killed_at).total_seconds())

    assert not report.lost, report
    assert not report.duplicated, report
    assert not report.unexpected, report
    for job_id, next_run in (await next_run_times(pg_engine)).items():
        assert next_run is not None
        assert next_run >= stopped_at - timedelta(seconds=KEPT_UP_S), (job_id, next_run, stopped_at)

    # The catch-up pass: the first rows the restarted timekeeper wrote (one transaction: one created_at).
    catch_up_at = min(r.created_at for r in rows if r.created_at > killed_at)
    catch_up_s = (catch_up_at - back_at).total_seconds()
    print(f"catch-up written {catch_up_s:.2f} s after the restarted timekeeper was ready")
    measured("catch_up_after_ready_s", catch_up_s)
    assert catch_up_s < 2.0
    for (coalesce, grace), job in variants.items():
        caught = [r for r in rows if r.job_id == job.job_id and r.created_at == catch_up_at]
        summary = [(r.scheduled_at.isoformat(), r.coalesced_count, r.status_id, r.error_message) for r in caught]
        slots = sum(r.coalesced_count for r in caught)
        assert slots >= DOWN_S // PERIOD_S, (coalesce, grace, summary)
        missed = [r for r in caught if any(words in (r.error_message or "") for words in TIMEKEEPER_MISSED)]
        to_run = [r for r in caught if r not in missed]
        # misfire_grace_time: a slot later than its grace time when the timekeeper reached it is recorded missed
        # with that reason (completed_at is when it was reached); the others were written to run.
        for row in missed:
            assert row.status_id == ExecutionStatus.MISSED, summary
            assert row.completed_at is not None
            assert (row.completed_at - row.scheduled_at).total_seconds() >= grace + 1, summary
            assert f"past the misfire grace time of {grace} s" in (row.error_message or ""), summary
        for row in to_run:
            # Small margin: created_at is its transaction's start, the pass read the clock just after.
            assert (catch_up_at - row.scheduled_at).total_seconds() < grace + 1.5, summary
            # Run, unless the executor's claim (or, before it, the sweep) came past the grace time too (recorded
            # missed, saying so).
            assert row.status_id == ExecutionStatus.SUCCESS or any(
                words in (row.error_message or "") for words in CLAIM_MISSED
            ), summary
        if grace == LARGE_GRACE_S:
            assert not missed, summary
        else:
            assert sum(r.coalesced_count for r in missed) >= 2, summary
        # coalesce: the slots of each kind fold into one row for the latest of them that counts them.
        if coalesce:
            assert len(missed) <= 1, summary
            assert len(to_run) <= 1, summary
            folded = max(caught, key=lambda r: r.coalesced_count)
            assert folded.coalesced_count >= 2, summary
            assert folded.coalesced_from is not None, summary
        else:
            assert all(r.coalesced_count == 1 and r.coalesced_from is None for r in caught), summary
            assert len(caught) == slots, summary
