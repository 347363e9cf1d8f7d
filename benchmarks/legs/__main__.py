"""`python -m benchmarks.legs LEG [options]` (bench venv): the bench's longer legs, one at a time, each at full scale
by default and scaled down by its options for a quick run. Results: results/legs.json (+ legs.md), each leg's entry
with the commit and machine it measured.

    long-runs  --runs 5000 --hold 60 --ramp 10     runs in flight across 2 executors: keep-alive CPU, none lost
    history    --rows 10000000                     API history pages, /status and cleanup over N runs of history
    soak       --minutes 30 --rate 200             lateness p99 and every process's RSS over time, autovacuum on/off
    migration  --rows 1000000 --days 60 --from 0009  every revision after 0009 up to head, timed on a loaded copy
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import amqp, pg
from benchmarks.harness.procs import BENCH_ROOT
from benchmarks.systems.jobscheduler_common import drop_template


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.legs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=BENCH_ROOT / "results")
    parser.add_argument("--keep-work", action="store_true", help="keep logs and records under benchmarks/.work")
    legs = parser.add_subparsers(dest="leg", required=True)
    long_runs = legs.add_parser("long-runs", help="runs in flight for a minute across 2 executors")
    long_runs.add_argument("--runs", type=int, default=5000, help="runs in flight at once")
    long_runs.add_argument("--hold", type=float, default=60.0, help="seconds each run lasts")
    long_runs.add_argument("--ramp", type=float, default=10.0, help="seconds over which the runs start")
    history = legs.add_parser("history", help="history pages, /status and cleanup over many runs of history")
    history.add_argument("--rows", type=int, default=10_000_000, help="runs of history loaded")
    soak = legs.add_parser("soak", help="a steady rate for many minutes, autovacuum on and off")
    soak.add_argument("--minutes", type=float, default=30.0, help="minutes of each of the two runs")
    soak.add_argument("--rate", type=int, default=200, help="runs/s")
    soak.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    migration = legs.add_parser("migration", help="every revision up to head, timed on a database with history")
    migration.add_argument("--rows", type=int, default=1_000_000, help="runs of history loaded")
    migration.add_argument("--days", type=float, default=60.0, help="days the history spans")
    migration.add_argument("--from", dest="from_revision", default="0009", help="the existing database's revision")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> int:
    work = BENCH_ROOT / ".work" / datetime.now(UTC).strftime("legs-%Y%m%dT%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    # SIGTERM cancels the leg like Ctrl-C does (asyncio.run's SIGINT handling), so its finally blocks run: the soak
    # puts the shared server's autovacuum back, every leg drops its databases.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        if args.leg == "long-runs":
            from benchmarks.legs import long_runs

            await long_runs.run(work, args.out, args.runs, args.hold, args.ramp)
        elif args.leg == "history":
            from benchmarks.legs import history

            await history.run(work, args.out, args.rows)
        elif args.leg == "soak":
            from benchmarks.legs import soak

            await soak.run(work, args.out, args.minutes, args.rate, args.sample)
        elif args.leg == "migration":
            from benchmarks.legs import migration

            await migration.run(work, args.out, args.rows, args.days, args.from_revision)
    finally:
        await drop_template()
        left = await pg.drop_remaining() + await amqp.delete_remaining()
        if left:
            logging.getLogger("bench").warning("could not remove: %s", ", ".join(left))
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    print((args.out / "legs.md").read_text())
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("asyncpg", "aiormq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    raise SystemExit(asyncio.run(main(parse())))
