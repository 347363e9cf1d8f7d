"""Soak: the standalone product at RATE runs/s for MINUTES (full scale: 200 runs/s for 30 minutes), once with
autovacuum as the server runs it and once with it off for the leg's tables; every SAMPLE seconds the start lateness
p99 of the slots of the interval, every process's RSS, and the dead rows of the database's tables. Reports each
series' least-squares slope; targets: flat (p99 up by at most P99_RISE_MS and every process's RSS by at most
RSS_RISE_MB over the soak, from the slope).

Autovacuum is a server setting (sighup). The "on" run switches it on server-wide where the server has it off
(ALTER SYSTEM + pg_reload_conf(), checked with SHOW autovacuum in a new connection before the run starts) and always
puts the previous state back afterwards (legs/autovacuum.py); a per-table setting cannot turn it on where the server
has it off. The "off" run turns it off per table (ALTER TABLE ... SET (autovacuum_enabled = off) on every table of
the leg's fresh database) as well, so it is off whatever the server says. Each run records what a new connection's
SHOW autovacuum said at its start and end, and the machine's load average per sample (the machine is shared)."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from benchmarks.harness import pg
from benchmarks.harness.model import BASE_JOB_ID, JobSpec, RunDir
from benchmarks.harness.records import RecordReader, judge, percentile
from benchmarks.harness.runner import run_id_for
from benchmarks.legs import autovacuum as server_autovacuum
from benchmarks.legs import results
from benchmarks.systems.jobscheduler_standalone import JobschedulerStandalone

log = logging.getLogger("bench")

TITLE = "Soak: a steady rate for many minutes, autovacuum on and off"
# Seconds after an interval's last slot before its lateness is read (its runs have started by then).
SETTLE_S = 3.0
# What "flat" allows over the whole soak (slope x duration).
P99_RISE_MS = 10.0
RSS_RISE_MB = 10.0
DEAD_ROWS_SQL = "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables"


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in points) / var


async def _autovacuum_off(database: str) -> int:
    connection = await asyncpg.connect(pg.dsn(database))
    try:
        tables = await connection.fetch("SELECT relname FROM pg_stat_user_tables")
        for row in tables:
            await connection.execute(f'ALTER TABLE "{row["relname"]}" SET (autovacuum_enabled = off)')
        return len(tables)
    finally:
        await connection.close()


def _rss_mb(system: JobschedulerStandalone) -> dict[str, float]:
    """RSS of each of the system's processes by role (the scheduling role is the timekeeper)."""
    roles = system.roles()
    found = {}
    executors = 0
    for pid in roles.all:
        if pid in roles.scheduler:
            name = "timekeeper"
        else:
            executors += 1
            name = f"executor-{executors}"
        try:
            found[name] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
        except psutil.Error:
            continue
    return found


async def soak_once(work: Path, autovacuum: bool, rate: int, seconds: float, sample_s: float) -> dict[str, Any]:
    system = JobschedulerStandalone()
    run_dir = RunDir(work / run_id_for("soak", f"{rate}_{'av' if autovacuum else 'noav'}", system.name))
    run_dir.make()
    samples: list[dict[str, Any]] = []
    shown_at_start = await server_autovacuum.shown()
    try:
        await pg.wait_available(60)
        await system.setup(run_dir, run_dir.root.name)
        database = system.database_name()
        tables_off = 0 if autovacuum else await _autovacuum_off(database)
        await system.start()
        t0 = round(time.time() + system.load_lead(rate), 3)
        jobs = [JobSpec(BASE_JOB_ID + i, t0 + i / rate, 1) for i in range(rate)]
        reader = RecordReader(run_dir.records)
        await system.load(jobs)
        stats = await asyncpg.connect(pg.dsn(database))
        try:
            intervals = max(1, math.floor(seconds / sample_s))
            for k in range(intervals):
                start, end = t0 + k * sample_s, t0 + (k + 1) * sample_s
                await asyncio.sleep(max(0.0, end + SETTLE_S - time.time()))
                reader.poll()
                lateness = sorted(r.start - r.slot for r in reader.records if start <= r.slot < end)
                p99 = percentile(lateness, 99)
                samples.append(
                    {
                        "at_s": round(end - t0, 1),
                        "runs": len(lateness),
                        "p99_ms": None if p99 is None else round(p99 * 1000, 1),
                        "rss_mb": _rss_mb(system),
                        "dead_rows": int(await stats.fetchval(DEAD_ROWS_SQL)),
                        # 1-minute load average: the machine is shared with other workers
                        "load_1m": round(os.getloadavg()[0], 2),
                    }
                )
                log.info("soak %s: %s", "autovacuum" if autovacuum else "no autovacuum", samples[-1])
        finally:
            await stats.close()
        verdict = judge(jobs, reader.records, (), t0, t0 + len(samples) * sample_s)
        shown_at_end = await server_autovacuum.shown()
    finally:
        await system.stop()
        await system.teardown()
    p99_points = [(s["at_s"], s["p99_ms"]) for s in samples[1:] if s["p99_ms"] is not None]  # 1st: warm-up
    names = sorted({name for s in samples for name in s["rss_mb"]})
    rss_slopes = {
        name: slope_per_minute([(s["at_s"], s["rss_mb"][name]) for s in samples[1:] if name in s["rss_mb"]])
        for name in names
    }
    loads = [s["load_1m"] for s in samples]
    return {
        "autovacuum": autovacuum,
        "server_autovacuum_at_start": shown_at_start,
        "server_autovacuum_at_end": shown_at_end,
        "tables_with_autovacuum_off": tables_off,
        "load_1m_mean": round(sum(loads) / len(loads), 2) if loads else None,
        "load_1m_max": max(loads, default=None),
        "samples": samples,
        "p99_slope_ms_per_min": _round(slope_per_minute(p99_points)),
        "rss_slope_mb_per_min": {name: _round(value) for name, value in rss_slopes.items()},
        "dead_rows_slope_per_min": _round(slope_per_minute([(s["at_s"], s["dead_rows"]) for s in samples])),
        "expected": verdict.expected,
        "started": verdict.started,
        "duplicates": verdict.duplicates,
        "missing": verdict.missing,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def run(work: Path, out: Path, minutes: float, rate: int, sample_s: float) -> dict[str, Any]:
    meta = await results.stamp({"minutes": minutes, "rate": rate, "sample_s": sample_s})
    server = await server_autovacuum.shown()
    figures: dict[str, Any] = {"server_autovacuum": server}
    switch: dict[str, Any] = {}
    async with server_autovacuum.server_on(switch):
        figures["autovacuum_on"] = await soak_once(work, True, rate, minutes * 60, sample_s)
    figures["autovacuum_on"]["server_switch"] = switch
    figures["autovacuum_off"] = await soak_once(work, False, rate, minutes * 60, sample_s)
    table = [
        "| run | server said (start/end) | p99 slope (ms/min) | RSS slope (MB/min, per process) "
        "| dead rows slope (/min) | first → last p99 ms | dup | missing | load 1 min (mean/max) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    duration_min = minutes
    for key in ("autovacuum_on", "autovacuum_off"):
        label = key.replace("_", " ")
        found = figures[key]
        p99s = [s["p99_ms"] for s in found["samples"] if s["p99_ms"] is not None]
        rss = ", ".join(f"{k} {v}" for k, v in found["rss_slope_mb_per_min"].items())
        said = f"{found['server_autovacuum_at_start']}/{found['server_autovacuum_at_end']}"
        if not found["autovacuum"]:
            said += f", {found['tables_with_autovacuum_off']} tables off"
        table.append(
            f"| {label} | {said} | {found['p99_slope_ms_per_min']} | {rss} | {found['dead_rows_slope_per_min']} "
            f"| {p99s[0] if p99s else '–'} → {p99s[-1] if p99s else '–'} | {found['duplicates']} | {found['missing']} "
            f"| {found['load_1m_mean']}/{found['load_1m_max']} |"
        )
        p99_rise = (found["p99_slope_ms_per_min"] or 0.0) * duration_min
        rss_rise = max((v or 0.0 for v in found["rss_slope_mb_per_min"].values()), default=0.0) * duration_min
        verdicts.append(
            f"{'✅' if p99_rise <= P99_RISE_MS else '❌'} {key.replace('_', ' ')}: lateness p99 flat (≤ "
            f"{P99_RISE_MS:g} ms rise over {duration_min:g} min): {p99_rise:+.1f} ms"
        )
        verdicts.append(
            f"{'✅' if rss_rise <= RSS_RISE_MB else '❌'} {key.replace('_', ' ')}: every process's RSS flat (≤ "
            f"{RSS_RISE_MB:g} MB rise): largest {rss_rise:+.1f} MB"
        )
    table += [
        "",
        f"The server had autovacuum = {server}; the on run switched it on server-wide "
        f"(ALTER SYSTEM, restored after: {switch.get('server_restored', 'unchanged')}). Samples (every process's "
        "RSS, dead rows, load average) are in results/legs.json.",
    ]
    results.save(out, "soak", TITLE, meta, figures, table, verdicts)
    return figures
