"""`python -m tests.chaos [--seconds S] [--seed N] [--out FILE]` (what `make chaos` runs): exits 0 when the run found
no anomaly, 1 when it found one, 2 when it could not run (a usage error, or the harness itself failed)."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import traceback
from pathlib import Path
from typing import Final

from tests.chaos.run import Options, replay_command, run

DEFAULT_SECONDS: Final = 180.0
MIN_SECONDS: Final = 30.0  # below this, hardly a fault ends within the window
# Where every fault variant is planned (tests/chaos/test_plan.py checks it for many seeds).
FULL_COVERAGE_SECONDS: Final = 90.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos",
        description="A seeded chaos run against a real cluster (api, 2 timekeepers, 3 executors) over the local "
        "PostgreSQL and RabbitMQ. Exit status: 0 no anomaly, 1 anomalies, 2 the run could not be made.",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help=f"length of the fault window (default: CHAOS_SECONDS, else {DEFAULT_SECONDS:g})",
    )
    parser.add_argument("--seed", type=int, default=None, help="the seed (default: CHAOS_SEED, else a random one)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report (default: test-output/chaos/<seed>.json)")
    return parser


def _from_env(parser: argparse.ArgumentParser, name: str, kind: type[float] | type[int]) -> float | int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        parser.error(f"{name}={value!r} is not a number")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else _from_env(parser, "CHAOS_SECONDS", float)
    seconds = DEFAULT_SECONDS if seconds is None else float(seconds)
    if seconds < MIN_SECONDS:
        parser.error(f"--seconds / CHAOS_SECONDS: {seconds:g} is too short (at least {MIN_SECONDS:g})")
    seed = args.seed if args.seed is not None else _from_env(parser, "CHAOS_SEED", int)
    seed = secrets.randbelow(1_000_000) if seed is None else int(seed)
    options = Options.of(seed, seconds, args.out)
    print(f"chaos seed {seed} (replay: {replay_command(options)})", flush=True)
    if seconds < FULL_COVERAGE_SECONDS:
        print(f"note: a window under {FULL_COVERAGE_SECONDS:g} s may leave some fault variants out", flush=True)
    try:
        verdict, text = asyncio.run(run(options))
    except (Exception, asyncio.CancelledError):
        traceback.print_exc()
        print(f"chaos seed {seed}: the run could not be completed (see above)", flush=True)
        return 2
    print(text, flush=True)
    print(f"chaos seed {seed}: {'OK' if verdict.ok else 'FAILED'} (replay: {replay_command(options)})", flush=True)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
