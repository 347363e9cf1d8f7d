"""How long `jobscheduler --help` and `jobscheduler jobs list` take, start to exit, N times each: median and p90.

    uv run python scripts/cli_start_time.py [--runs 20] [--command 'COMMAND LINE' ...] [--api-url URL --token T]

Without --api-url it starts `jobscheduler embedded` (SQLite in a temporary data dir, a free port) and mints a
token for it, so `jobs list` goes over HTTP to a real API with a few jobs. Several --command (each a command line,
e.g. `env PYTHONPATH=/tmp/old-cli/src .venv/bin/python -m scheduler_cli` for an older copy of the CLI package) are
measured in the same run, interleaved, so that a before/after comparison sees the same machine load. A
measurement, not a test: it asserts nothing."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Seconds the embedded API may take to answer its liveness probe after start.
START_DEADLINE_S = 120
# Jobs created before measuring, so that `jobs list` renders a table of rows.
JOBS = 5


def default_command() -> str:
    return str(Path(sys.executable).parent / "jobscheduler")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def embedded_api(command: list[str]) -> Iterator[tuple[str, str]]:
    """(API URL, token) of a `jobscheduler embedded` started for the measurement, with JOBS jobs."""
    with tempfile.TemporaryDirectory(prefix="cli-start-") as data_dir:
        port = free_port()
        env = os.environ | {"SCHEDULER_DATA_DIR": data_dir, "SCHEDULER_LOG_LEVEL": "warning"}
        process = subprocess.Popen(
            [*command, "embedded", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_DEADLINE_S
            while True:
                try:
                    urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise SystemExit("the embedded API did not start") from None
                    time.sleep(0.2)
            token = subprocess.run([*command, "token"], env=env, capture_output=True, text=True, check=True)
            token_text = token.stdout.strip()
            for number in range(JOBS):
                every = f"{number + 1}h"
                subprocess.run(
                    [*command, "jobs", "create", "--task", "noop", "--every", every],
                    env=os.environ | {"SCHEDULER_API_URL": url, "SCHEDULER_API_TOKEN": token_text},
                    capture_output=True,
                    check=False,  # before an executor registered `noop` the API refuses: the list is then empty
                )
            yield url, token_text
        finally:
            process.terminate()
            process.wait(timeout=60)


def seconds(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median_s": round(statistics.median(ordered), 3), "p90_s": round(p90, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="Runs of each command line.")
    parser.add_argument("--command", action="append", help="A jobscheduler executable (repeatable).")
    parser.add_argument("--api-url", help="A running API (default: start an embedded one).")
    parser.add_argument("--token", help="Its token (with --api-url).")
    args = parser.parse_args()
    commands = args.command or [default_command()]

    with (
        embedded_api(shlex.split(commands[0])) if args.api_url is None else nullcontext(args.api_url, args.token) as (
            url,
            token,
        )
    ):
        env = os.environ | {"SCHEDULER_API_URL": url, "SCHEDULER_API_TOKEN": token or "", "COLUMNS": "200"}
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):
            for command in commands:
                for what in ("--help", "jobs list"):
                    argv = [*shlex.split(command), *what.split()]
                    samples.setdefault((command, what), []).append(seconds(argv, env))
    load = os.getloadavg()
    print(f"runs: {args.runs} each, load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for (command, what), values in samples.items():
        print(json.dumps({"command": f"{command} {what}", **summary(values)}))


@contextmanager
def nullcontext(url: str, token: str | None) -> Iterator[tuple[str, str]]:
    yield url, token or ""


if __name__ == "__main__":
    main()
