"""Drives one system through one leg of a scenario and judges what was recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from benchmarks.harness import amqp, pg, storage
from benchmarks.harness.measure import CpuSnapshot, ResourceSampler
from benchmarks.harness.model import Accounted, Leg, Plan, RunDir, RunResult, Scenario, System
from benchmarks.harness.procs import ManagedProcess
from benchmarks.harness.records import RecordReader, judge, percentile

log = logging.getLogger("bench")

# Seconds a system gets for setup + start, and for stop + collect + teardown, on top of the plan itself.
START_BUDGET_S = 120.0
STOP_BUDGET_S = 90.0
POLL_S = 0.2
# Seconds to wait for the shared PostgreSQL and RabbitMQ to accept connections before a leg (other people's
# fault tests restart them).
BROKER_WAIT_S = 60.0


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000.0


async def _sleep_until(at: float) -> None:
    delay = at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


def run_id_for(scenario: str, leg: str, system: str) -> str:
    raw = f"{scenario}_{leg}_{system}_{secrets.token_hex(2)}"
    return re.sub(r"[^a-z0-9_]", "_", raw.lower())


async def run_leg(
    system: System, scenario: Scenario, leg: Leg, work: Path, profile_dir: Path | None = None, quiet_wait: float = 0
) -> RunResult:
    """Never raises: a failure is a RunResult with status 'failed' and the reason in `note`. With profile_dir,
    every process of the system is sampled by py-spy during the measured window (raw collapsed stacks)."""
    result = RunResult(scenario.name, leg.label, system.name, system.label, offered_per_s=leg.offered_per_s)
    run_id = run_id_for(scenario.name, leg.id, system.name)
    run = RunDir(work / run_id)
    run.make()
    log.info("== %s / %s / %s (%s)", scenario.name, leg.label, system.name, run.root)
    try:
        if quiet_wait > 0:
            result.extra["load_before_cores"] = round(await pg.wait_quiet(quiet_wait), 2)
        await pg.wait_available(BROKER_WAIT_S)
        if system.uses_rabbitmq:
            await amqp.wait_available(BROKER_WAIT_S)
        await asyncio.wait_for(system.setup(run, run_id), START_BUDGET_S)
        await asyncio.wait_for(system.start(), START_BUDGET_S)
        await _measure(system, scenario, leg, run, result, profile_dir)
    except Exception as exc:
        log.exception("%s / %s / %s failed", scenario.name, leg.label, system.name)
        result.status = "failed"
        result.note = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
    finally:
        try:
            await asyncio.wait_for(system.teardown(), STOP_BUDGET_S)
        except Exception:
            log.exception("teardown of %s failed", system.name)
    log.info(
        "   -> %s runs/s=%s p99=%s ms max=%s ms cpu/1000=%s dup=%d missing=%d others=%s cores %s",
        result.status,
        _fmt(result.runs_per_s),
        _fmt(result.p99_ms),
        _fmt(result.max_ms),
        _fmt(result.cpu_per_1000),
        result.duplicates,
        result.missing,
        result.extra.get("other_load_cores"),
        result.note,
    )
    return result


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


async def _measure(
    system: System, scenario: Scenario, leg: Leg, run: RunDir, result: RunResult, profile_dir: Path | None
) -> None:
    jobs = scenario.job_count(leg)
    lead = system.load_lead(jobs)
    t0 = round(time.time() + lead, 3)
    plan = scenario.plan(leg, t0)
    reader = RecordReader(run.records)
    database = system.database_name() if system.uses_postgres else None
    meter = storage.StorageMeter(database) if database else None
    if meter:
        await meter.start()
    try:
        await _measure_leg(system, scenario, leg, run, result, profile_dir, reader, plan, t0, lead, jobs, meter)
    finally:
        if meter:
            await meter.close()


async def _measure_leg(
    system: System,
    scenario: Scenario,
    leg: Leg,
    run: RunDir,
    result: RunResult,
    profile_dir: Path | None,
    reader: RecordReader,
    plan: Plan,
    t0: float,
    lead: float,
    jobs: int,
    meter: storage.StorageMeter | None,
) -> None:
    database = system.database_name() if system.uses_postgres else None
    db_before = await pg.database_stats(database) if database else {}
    async with ResourceSampler(system.roles, database, system.uses_rabbitmq) as sampler:
        loading = time.time()
        await asyncio.wait_for(system.load(plan.jobs), lead + START_BUDGET_S)
        loaded = time.time()
        if loaded > t0 + min(0.0, plan.window_start):
            result.note = f"loading {jobs:,} jobs took {loaded - loading:.1f} s, past the first slot; "
        result.extra["load_s"] = round(loaded - loading, 2)
        window_start = t0 + plan.window_start
        await _sleep_until(window_start)
        sampler.reset_peaks()
        before, wall_before = await sampler.snapshot(), time.time()
        window_end = t0 + plan.window_end
        profilers = await _start_profilers(system, profile_dir, run.root.name, window_end - time.time())
        if plan.until_all_started:
            await _until_all_started(plan, reader, window_start, window_end)
        else:
            await _sleep_until(window_end)
        after, wall_after = await sampler.snapshot(), time.time()
        peak_rss, peak_scheduler_rss = sampler.peak_system_rss_mb, sampler.peak_scheduler_rss_mb
        for profiler in profilers:
            await profiler.stop(timeout=30, sig=signal.SIGINT)
        await _drain(plan, reader, window_start, window_end)
    dead = [pid for pid in system.roles().all if not psutil.pid_exists(pid) or _zombie(pid)]
    await asyncio.wait_for(system.stop(), STOP_BUDGET_S)
    reader.poll()
    if database:
        await asyncio.sleep(1.0)  # backends that just disconnected flush their counters
        db_after = await pg.database_stats(database)
        runs = max(1, len(reader.records))
        # Per recorded run over the whole leg (start-up and idle time included, a small share).
        result.extra["db_per_run"] = {k: round((db_after[k] - db_before.get(k, 0)) / runs, 2) for k in db_after}
        if meter:
            result.extra["stored_per_run"] = await meter.per_run(runs)
    accounted = await asyncio.wait_for(system.collect(), STOP_BUDGET_S)
    _judge(plan, reader, accounted, t0, wall_before, wall_after, result)
    if dead:
        result.status = "failed"
        result.note += f"process(es) {dead} exited during the leg (a shared server restarted?)"
    elif result.expected and not result.started and not result.pending:
        result.status = "failed"
        result.note += "no run started at all (a shared server restarted?)"
    _resources(before, after, wall_after - wall_before, result)
    result.peak_rss_mb = round(peak_rss, 1)
    result.scheduler_rss_mb = round(peak_scheduler_rss, 1)
    statuses = getattr(system, "statuses", None)
    if statuses:
        result.extra["statuses"] = statuses


def _zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return True


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def _write(path: Path, text: str) -> None:
    path.write_text(text)


async def _start_profilers(
    system: System, profile_dir: Path | None, name: str, duration: float
) -> list[ManagedProcess]:
    if profile_dir is None:
        return []
    _mkdir(profile_dir)
    py_spy = Path(sys.executable).parent / "py-spy"
    profilers = []
    names = {}
    for pid in system.roles().all:
        with contextlib.suppress(psutil.Error):
            names[pid] = " ".join(psutil.Process(pid).cmdline()[-4:])
        argv = [str(py_spy), "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--nonblocking"]
        argv += ["--duration", str(max(1, int(duration))), "-o", str(profile_dir / f"{name}-{pid}.txt")]
        profilers.append(await ManagedProcess.spawn(f"py-spy-{pid}", argv, os.environ, profile_dir))
    _write(profile_dir / f"{name}-pids.json", json.dumps(names, indent=1))
    return profilers


async def _until_all_started(plan: Plan, reader: RecordReader, start: float, end: float) -> None:
    while time.time() < end:
        reader.poll()
        verdict = judge(plan.jobs, reader.records, (), start, end)
        if verdict.started >= verdict.expected:
            return
        await asyncio.sleep(POLL_S)


async def _drain(plan: Plan, reader: RecordReader, start: float, end: float) -> None:
    """Give measured slots that have not started yet up to plan.drain seconds more."""
    deadline = time.time() + plan.drain
    while time.time() < deadline:
        reader.poll()
        verdict = judge(plan.jobs, reader.records, (), start, end)
        if verdict.started >= verdict.expected:
            return
        await asyncio.sleep(POLL_S * 2)


def _judge(
    plan: Plan,
    reader: RecordReader,
    accounted: Sequence[Accounted],
    t0: float,
    wall_before: float,
    wall_after: float,
    result: RunResult,
) -> None:
    start, end = t0 + plan.window_start, t0 + plan.window_end
    everything = judge(plan.jobs, reader.records, accounted, start, end)
    result.expected, result.started = everything.expected, everything.started
    result.duplicates, result.missing = everything.duplicates, everything.missing
    result.accounted, result.pending = everything.accounted, everything.pending
    if everything.off_grid or everything.unknown_job:
        result.extra["off_grid"] = everything.off_grid
        result.extra["unknown_job"] = everything.unknown_job
    measured = everything
    if plan.measured_ids is not None:
        jobs = [j for j in plan.jobs if j.job_id in plan.measured_ids]
        measured = judge(jobs, reader.records, accounted, start, end)
    lateness = measured.lateness_s
    result.p50_ms = _ms(percentile(lateness, 50))
    result.p95_ms = _ms(percentile(lateness, 95))
    result.p99_ms = _ms(percentile(lateness, 99))
    result.max_ms = _ms(max(lateness) if lateness else None)
    window = wall_after - wall_before
    result.window_s = round(window, 2)
    if plan.until_all_started:
        if everything.started >= everything.expected and everything.last_start is not None:
            result.all_started_s = everything.last_start - t0
            result.runs_per_s = everything.started / max(result.all_started_s, 1e-3)
        else:
            result.note += (
                f"only {everything.started:,} of {everything.expected:,} started within {plan.window_end:g} s"
            )
            result.runs_per_s = everything.started / max(window, 1e-3)
        result.extra["runs_in_window"] = everything.started
    else:
        in_window = sum(1 for r in reader.records if wall_before <= r.start < wall_after)
        result.runs_per_s = in_window / window
        result.extra["runs_in_window"] = in_window


def _resources(before: CpuSnapshot, after: CpuSnapshot, window: float, result: RunResult) -> None:
    result.cpu_system_s = before.delta(after, "system")
    result.cpu_broker_s = before.delta(after, "broker")
    result.cpu_db_s = before.delta(after, "db")
    runs = int(result.extra.get("runs_in_window", 0))
    total = result.cpu_system_s + result.cpu_broker_s + result.cpu_db_s
    result.cpu_per_1000 = total / (runs / 1000) if runs else None
    result.scheduler_cpu_per_s = before.delta(after, "scheduler") / window if window > 0 else None
    others = before.delta(after, "machine") - total - before.delta(after, "harness")
    result.extra["other_load_cores"] = round(max(0.0, others) / window, 2) if window > 0 else None
