"""`python -m benchmarks.run` (what `make bench` runs, from the bench venv): every system through every
scenario, one after the other, within a time budget; writes results/latest.{json,md,png} as it goes."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import logging
import os
import shutil
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import amqp, pg, provenance, report
from benchmarks.harness.model import RunResult, Scenario
from benchmarks.harness.procs import BENCH_ROOT
from benchmarks.harness.runner import run_leg
from benchmarks.scenarios.burst import Burst
from benchmarks.scenarios.scale import Scale
from benchmarks.scenarios.steady import SWEEP_SYSTEMS, Steady
from benchmarks.systems import DEFAULT_SYSTEMS, SYSTEMS
from benchmarks.systems.jobscheduler_common import drop_template

log = logging.getLogger("bench")

# The peers run after the product and the limit, so that a tight budget cuts them first.
PEERS = ("celery-beat", "apscheduler")
# Seconds before a failed leg is tried again (a restarting server gets time to come back).
RETRY_PAUSE_S = 10.0


def int_list(text: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers (runs/s, job counts), e.g. "1000,500"."""
    return tuple(int(r) for r in text.split(",") if r.strip())


def build_scenarios(args: argparse.Namespace) -> dict[str, Scenario]:
    if args.quick:
        return {
            "burst": Burst(jobs=1000, timeout_s=30),
            "steady": Steady(rates=(200,), sweep={}, warmup_s=2, window_s=5),
            "scale": Scale(idle_counts=(1000,), warmup_s=2, window_s=5),
        }
    return {
        "burst": Burst(jobs=args.burst_jobs, timeout_s=args.burst_timeout),
        "steady": Steady(
            rates=int_list(args.steady_rates),
            sweep={s: int_list(args.sweep_rates) for s in SWEEP_SYSTEMS} if args.sweep else {},
            warmup_s=args.warmup,
            window_s=args.steady_window,
        ),
        "scale": Scale(
            idle_counts=int_list(args.scale_idle),
            # The 1,000-idle baseline only where a target compares with it.
            per_system_idle={"jobscheduler-standalone": (1_000, *int_list(args.scale_idle))},
            warmup_s=args.warmup,
            window_s=args.scale_window,
        ),
    }


def versions() -> str:
    found = []
    for package in ("celery", "kombu", "apscheduler", "aiormq", "asyncpg", "psutil"):
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def merged_meta(kept: dict[str, Any], new: dict[str, Any], rerun: list[RunResult]) -> dict[str, Any]:
    """The earlier run's description, plus what this --update run added (and a note of which legs it re-ran)."""
    merged = dict(kept)
    for field in ("scenarios", "systems", "notes"):
        old = list(kept.get(field, []))
        seen = {json.dumps(item) for item in old}
        merged[field] = old + [item for item in new[field] if json.dumps(item) not in seen]
    legs = ", ".join(f"{r.scenario} {r.leg} {r.system}" for r in rerun)
    if legs:
        merged["notes"] = [
            *merged["notes"],
            f"Re-run with --update at {new['started']} (product at {new['revision']}): {legs}.",
        ]
    return merged


async def cleanup() -> None:
    """Drop the template database and whatever a failed teardown left behind (bounded)."""
    try:
        await asyncio.wait_for(drop_template(), 60)
        left = await asyncio.wait_for(pg.drop_remaining(), 90) + await asyncio.wait_for(amqp.delete_remaining(), 90)
    except Exception as exc:
        log.warning("cleanup failed: %s", exc)
        return
    if left:
        log.warning("could not remove: %s", ", ".join(left))


def make_dirs(out: Path) -> tuple[Path, Path]:
    """The results directory and this run's scratch directory (logs, records; removed at the end)."""
    work = BENCH_ROOT / ".work" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for path in (out, work):
        path.mkdir(parents=True, exist_ok=True)
    return out, work


def render_only(args: argparse.Namespace) -> int:
    """Re-render latest.md and latest.png from latest.json with the current report code and table columns."""
    out = Path(args.out)
    results, meta = report.load_results(out / "latest.json")
    scenarios = build_scenarios(args)
    meta["scenarios"] = [
        (n, scenarios[n].title, scenarios[n].columns) if n in scenarios else (n, t, c)
        for n, t, c in meta.get("scenarios", [])
    ]
    (out / "latest.md").write_text(report.markdown(results, meta))
    report.plot(results, meta, out / "latest.png")
    return 0


async def main(args: argparse.Namespace) -> int:
    started = time.time()
    deadline = started + args.budget
    out, work = make_dirs(Path(args.out))
    scenarios = build_scenarios(args)
    chosen_scenarios = [s for s in args.scenarios.split(",") if s]
    chosen_systems = [s for s in args.systems.split(",") if s]
    unknown = [s for s in chosen_systems if s not in SYSTEMS] + [s for s in chosen_scenarios if s not in scenarios]
    if unknown:
        raise SystemExit(f"unknown system or scenario: {unknown}; systems: {list(SYSTEMS)}")
    groups = [[s for s in chosen_systems if s not in PEERS], [s for s in chosen_systems if s in PEERS]]
    systems = {name: SYSTEMS[name]() for name in chosen_systems}
    results: list[RunResult] = []
    kept: list[RunResult] = []
    kept_meta: dict[str, Any] = {}
    if args.update and (out / "latest.json").exists():
        kept, kept_meta = report.load_results(out / "latest.json")
    notes = [n for name in chosen_scenarios for n in scenarios[name].notes()]
    notes += [
        "Each system runs alone, one after the other, on the same local PostgreSQL 15 and RabbitMQ; every leg "
        "starts the system afresh on a new database and queue. Other work on the machine during the run (the "
        "servers are shared) shows up as noise, mostly in the broker/db CPU.",
        f"Bench environment: {versions()}.",
        "Where this product misses a target, results/PROFILE.md says what the profile shows and what would close it.",
    ]
    rev, facts = provenance.revision(), await provenance.machine_facts()
    if rev["dirty"]:
        log.warning("measuring uncommitted changes (%s): the results say so", ", ".join(rev["dirty_files"][:5]))
    meta: dict[str, Any] = {
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "machine": provenance.describe_machine(facts),
        "machine_facts": facts,
        "revision": provenance.describe_revision(rev),
        "commit": rev,
        "scenarios": [(n, scenarios[n].title, scenarios[n].columns) for n in chosen_scenarios],
        "systems": [systems[n].describe() for n in chosen_systems],
        "notes": notes,
    }

    def write() -> None:
        meta["duration_s"] = time.time() - started
        shown = merged_meta(kept_meta, meta, results) if kept_meta else meta
        merged = list(kept)
        for result in results:  # a leg run again replaces its row in place
            keys = [(r.scenario, r.leg, r.system) for r in merged]
            key = (result.scenario, result.leg, result.system)
            if key in keys:
                merged[keys.index(key)] = result
            else:
                merged.append(result)
        report.save_results(out / "latest.json", merged, shown)
        try:
            (out / "latest.md").write_text(report.markdown(merged, shown))
            report.plot(merged, shown, out / "latest.png")
        except Exception:  # the numbers are saved: a report bug must not end the run
            log.exception("writing the report failed")

    try:
        for group in groups:
            for scenario_name in chosen_scenarios:
                scenario = scenarios[scenario_name]
                for system_name in group:
                    system = systems[system_name]
                    for leg in scenario.legs(system_name):
                        estimate = scenario.estimate_s(leg, system_name)
                        if time.time() + estimate > deadline:
                            log.warning("skipping %s/%s/%s: time budget", scenario_name, leg.label, system_name)
                            skipped = RunResult(scenario_name, leg.label, system_name, system.label, status="skipped")
                            skipped.note = f"not run: the {args.budget:g} s budget had no {estimate:.0f} s left"
                            results.append(skipped)
                            continue
                        profile = None
                        if args.profile and system_name.startswith("jobscheduler"):
                            profile = out / "profiles"
                        result = await run_leg(system, scenario, leg, work, profile, args.quiet_wait)
                        if result.status == "failed" and time.time() + estimate <= deadline:
                            # Once more: the shared servers may have been restarted by someone else's tests.
                            first_failure = result.note
                            await asyncio.sleep(RETRY_PAUSE_S)
                            result = await run_leg(system, scenario, leg, work, profile, args.quiet_wait)
                            result.note = f"(retried after: {first_failure}) {result.note}"
                        results.append(result)
                        write()
    finally:
        await cleanup()
        write()
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    log.info("wrote %s/latest.md and latest.png in %.0f s", out, time.time() - started)
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    env = os.environ.get
    parser.add_argument("--systems", default=env("BENCH_SYSTEMS", ",".join(DEFAULT_SYSTEMS)))
    parser.add_argument("--scenarios", default=env("BENCH_SCENARIOS", "burst,steady,scale"))
    parser.add_argument("--budget", type=float, default=float(env("BENCH_BUDGET_S", "1500")), help="seconds")
    parser.add_argument("--out", default=str(BENCH_ROOT / "results"))
    parser.add_argument("--burst-jobs", type=int, default=10_000)
    parser.add_argument("--burst-timeout", type=float, default=30.0, help="seconds a system gets for a burst")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before a steady/scale window")
    parser.add_argument("--steady-window", type=float, default=10.0, help="measured seconds per steady rate")
    parser.add_argument(
        "--steady-rates", default=env("BENCH_STEADY_RATES", "1000,500"), help="runs/s of the steady legs, every system"
    )
    parser.add_argument(
        "--sweep-rates",
        default=env("BENCH_SWEEP_RATES", "1300,2000,3000"),
        help="runs/s of the higher steady legs: this product and the two limits only",
    )
    parser.add_argument("--no-sweep", dest="sweep", action="store_false", help="skip the higher steady rates")
    parser.add_argument("--scale-window", type=float, default=10.0, help="measured seconds per scale leg")
    parser.add_argument(
        "--scale-idle",
        default=env("BENCH_SCALE_IDLE", "100000"),
        help="idle jobs of the large scale legs, comma-separated (e.g. 100000,1000000)",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=0.0, help="seconds to wait at most for other load to calm down per leg"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the harness")
    parser.add_argument("--profile", action="store_true", help="py-spy every process of this product")
    parser.add_argument(
        "--update", action="store_true", help="replace only the legs run now in the existing latest.json"
    )
    parser.add_argument("--render-only", action="store_true", help="only re-render latest.md/png from latest.json")
    parser.add_argument("--keep-work", action="store_true", help="keep logs and records under benchmarks/.work")
    return parser.parse_args(argv)


async def guarded(args: argparse.Namespace) -> int:
    """main(), cancelled by SIGTERM/SIGINT (e.g. `timeout`) so that every started process is stopped and the
    results so far are written: the systems' processes live in sessions of their own and would survive us."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await main(args)
    except asyncio.CancelledError:
        log.warning("interrupted: results so far are in %s", args.out)
        return 124


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("apscheduler", "asyncpg", "aiormq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    arguments = parse()
    raise SystemExit(render_only(arguments) if arguments.render_only else asyncio.run(guarded(arguments)))
