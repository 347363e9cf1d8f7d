"""Long runs: RUNS runs of HOLD seconds in flight at once across 2 executors (full scale: 5,000 of 60 s).

The jobs' first slots are spread over RAMP seconds; each run records its start and sleeps (no CPU of its own).
While every run is in flight (from the last start + SETTLE_S to the first end − SETTLE_S) the leg measures the CPU
of what keeps them alive — instance heartbeats and lock renewals: the executor processes and the PostgreSQL backends
of the leg's database with the server's auxiliary processes (target ≤ 5 % of one core together), the timekeeper and
RabbitMQ reported beside. Then it waits for every run to end and counts how each ended: none may be failed as
"executor lost"."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import pg
from benchmarks.harness.measure import CpuSnapshot, ResourceSampler
from benchmarks.harness.model import BASE_JOB_ID, JobSpec, RunDir
from benchmarks.harness.records import RecordReader
from benchmarks.harness.runner import run_id_for
from benchmarks.legs import results
from benchmarks.systems import jobscheduler_common as common
from benchmarks.systems.jobscheduler_standalone import JobschedulerStandalone

log = logging.getLogger("bench")

TITLE = "Long runs: many runs in flight for a minute, across 2 executors"
# Seconds trimmed from each end of the in-flight window (the last starts' and the first ends' own work).
SETTLE_S = 3.0
# A period longer than the leg: each job runs once.
PERIOD_S = 86_400
# Target: heartbeats + lock renewals (executors + their database) at most this many cores.
CPU_TARGET_CORES = 0.05
LOST = "executor lost"


class LongRunsStandalone(JobschedulerStandalone):
    """The standalone product with room for every run at once and the holding task."""

    def __init__(self, concurrency: int, hold_s: float) -> None:
        super().__init__(executors=2)
        self.concurrency = concurrency
        self.hold_s = hold_s

    def _env(self, instance: str) -> dict[str, str]:
        env = super()._env(instance)
        env["SCHEDULER_EXECUTOR_CONCURRENCY"] = str(self.concurrency)
        env["BENCH_HOLD_S"] = f"{self.hold_s:g}"
        return env

    async def load(self, jobs: Any) -> None:
        assert self._run is not None
        self._jobs = jobs
        await common.load_jobs(self._helper, self._run, self._url, jobs, task="bench_hold")

    async def outcomes(self) -> dict[str, Any]:
        assert self._run is not None
        return await common.outcomes(self._helper, self._run, self._url, BASE_JOB_ID)


async def run(work: Path, out: Path, runs: int, hold_s: float, ramp_s: float) -> dict[str, Any]:
    meta = await results.stamp({"runs": runs, "hold_s": hold_s, "ramp_s": ramp_s, "executors": 2})
    # Each executor takes what it is given: room for all of them on one, should the other lag.
    system = LongRunsStandalone(concurrency=runs + 64, hold_s=hold_s)
    run_dir = RunDir(work / run_id_for("longruns", str(runs), system.name))
    run_dir.make()
    figures: dict[str, Any] = {}
    try:
        await pg.wait_available(60)
        await system.setup(run_dir, run_dir.root.name)
        await system.start()
        t0 = time.time() + system.load_lead(runs)
        jobs = [JobSpec(BASE_JOB_ID + i, round(t0 + i * ramp_s / runs, 3), PERIOD_S) for i in range(runs)]
        reader = RecordReader(run_dir.records)
        async with ResourceSampler(system.roles, system.database_name(), True) as sampler:
            await system.load(jobs)
            last_start = await _all_started(reader, runs, t0 + ramp_s + 60)
            figures["started"] = len({r.job_id for r in reader.records})
            figures["all_started_s"] = None if last_start is None else round(last_start - t0, 2)
            begin = (last_start or t0 + ramp_s) + SETTLE_S
            end = t0 + hold_s - SETTLE_S  # the first run ends at t0 + hold_s
            if end - begin < 5:
                raise RuntimeError(f"no in-flight window: hold {hold_s:g} s is too short for a {ramp_s:g} s ramp")
            await asyncio.sleep(max(0.0, begin - time.time()))
            before = await sampler.snapshot()
            await asyncio.sleep(max(0.0, end - time.time()))
            after = await sampler.snapshot()
            window = after.at - before.at
            executors = before.delta(after, "system") - before.delta(after, "scheduler")
            figures["window_s"] = round(window, 1)
            figures["cores"] = {
                "executors": round(executors / window, 4),
                "db": round(before.delta(after, "db") / window, 4),
                "timekeeper": round(before.delta(after, "scheduler") / window, 4),
                "broker": round(before.delta(after, "broker") / window, 4),
                "others_on_machine": round(max(0.0, _others(before, after)) / window, 3),
            }
            figures["peak_rss_mb"] = round(sampler.peak_system_rss_mb, 1)
            figures["outcomes"] = await _all_ended(system, runs, t0 + ramp_s + hold_s + 120)
    finally:
        await system.stop()
        await system.teardown()
    cores = figures["cores"]
    keep_alive = cores["executors"] + cores["db"]
    figures["keep_alive_cores"] = round(keep_alive, 4)
    lost = sum(n for reason, n in figures["outcomes"]["failures"].items() if reason.startswith(LOST))
    statuses = figures["outcomes"]["statuses"]
    verdicts = [
        f"{'✅' if keep_alive <= CPU_TARGET_CORES else '❌'} heartbeats + lock renewals (executors + database) ≤ "
        f"{CPU_TARGET_CORES:.0%} of a core with {runs:,} runs in flight: {keep_alive:.1%}",
        f'{"✅" if lost == 0 else "❌"} no run ended as "executor lost": {lost:,}',
        f"{'✅' if statuses.get('success', 0) == runs else '❌'} every run succeeded: "
        + ", ".join(f"{k} {v:,}" for k, v in statuses.items()),
    ]
    table = [
        "| runs in flight | in-flight window (s) | executors (cores) | database (cores) | timekeeper (cores) "
        "| RabbitMQ (cores) | others' load (cores) | peak RSS MB | all started after (s) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {figures['started']:,} | {figures['window_s']} | {cores['executors']:.4f} | {cores['db']:.4f} "
        f"| {cores['timekeeper']:.4f} | {cores['broker']:.4f} | {cores['others_on_machine']:.2f} "
        f"| {figures['peak_rss_mb']} | {figures['all_started_s']} |",
    ]
    results.save(out, "long-runs", TITLE, meta, figures, table, verdicts)
    return figures


def _others(before: CpuSnapshot, after: CpuSnapshot) -> float:
    """CPU seconds the machine spent on anything but the system, its database, the broker and the harness."""
    ours = sum(before.delta(after, group) for group in ("system", "db", "broker", "harness"))
    return before.delta(after, "machine") - ours


async def _all_started(reader: RecordReader, runs: int, deadline: float) -> float | None:
    """The last start once every run started, or None at the deadline."""
    while time.time() < deadline:
        reader.poll()
        if len({r.job_id for r in reader.records}) >= runs:
            return max(r.start for r in reader.records)
        await asyncio.sleep(0.5)
    return None


async def _all_ended(system: LongRunsStandalone, runs: int, deadline: float) -> dict[str, Any]:
    """How the runs ended, once none is pending or running any more (or at the deadline)."""
    while True:
        found = await system.outcomes()
        statuses = found["statuses"]
        open_runs = sum(statuses.get(s, 0) for s in ("pending", "running", "waiting"))
        if (sum(statuses.values()) >= runs and open_runs == 0) or time.time() >= deadline:
            return found
        await asyncio.sleep(2.0)
