"""Where a benchmark database's PostgreSQL time goes, without pg_stat_statements (it needs a server restart to load,
and the server is shared): `python -m benchmarks.harness.pg_activity --like 'bench_steady_1000_jobscheduler%'
--seconds 20 --out FILE.json`.

Waits for a database whose name matches LIKE (and, with --after, for a process such as the harness's py-spy, which
starts with the measured window), then for SECONDS: every INTERVAL seconds, which of its backends are
active and on which statement (`pg_stat_activity`; a sample's share is the share of that statement in the active
time, waits included and labelled); at the start and end, every backend's CPU (psutil, user + system), each mapped
to the client process that holds it (by its TCP port, named by the client's command line). Prints a summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from benchmarks.harness import pg

ACTIVE_SQL = """
SELECT pid, client_port, state, coalesce(wait_event_type || ':' || wait_event, 'cpu') AS wait, query
FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
"""


def _client_names() -> dict[int, str]:
    """Local TCP port -> the client process's role (the scheduler's CLI role: timekeeper, executor, ...)."""
    names: dict[int, str] = {}
    for connection in psutil.net_connections(kind="tcp"):
        if (
            connection.pid is None
            or not connection.laddr
            or not connection.raddr
            or connection.raddr.port != pg.PG_PORT
        ):
            continue
        try:
            argv = psutil.Process(connection.pid).cmdline()
        except psutil.Error:
            continue
        role = next((a for a in argv if a in ("timekeeper", "executor", "embedded", "api")), Path(argv[-1]).name)
        names[connection.laddr.port] = f"{role}-{connection.pid}"
    return names


def _cpu(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        found[pid] = times.user + times.system
    return found


async def sample(like: str, seconds: float, interval: float, wait_s: float) -> dict[str, Any]:
    connection = await asyncpg.connect(pg.ADMIN_DSN)
    try:
        deadline = time.monotonic() + wait_s
        database = None
        while database is None and time.monotonic() < deadline:
            database = await connection.fetchval("SELECT datname FROM pg_database WHERE datname LIKE $1", like)
            await asyncio.sleep(0.5)
        if database is None:
            raise SystemExit(f"no database LIKE {like!r} within {wait_s} s")
        rows = await connection.fetch(ACTIVE_SQL, database)
        owners = _client_names()
        backends = {r["pid"]: owners.get(r["client_port"], f"port-{r['client_port']}") for r in rows}
        cpu_before, began = _cpu(list(backends)), time.monotonic()
        statements: Counter[tuple[str, str, str]] = Counter()
        samples = 0
        cpu_after = dict(cpu_before)
        while time.monotonic() - began < seconds:
            samples += 1
            if samples % 50 == 0:  # the last reading per backend counts: the system may stop before the end
                cpu_after.update(_cpu(list(backends)))
            for row in await connection.fetch(ACTIVE_SQL, database):
                if row["state"] == "active":
                    owner = backends.get(row["pid"], "other")
                    role = owner.rsplit("-", 1)[0]
                    statements[(role, row["wait"], " ".join(str(row["query"]).split())[:160])] += 1
            await asyncio.sleep(interval)
        elapsed = time.monotonic() - began
        cpu_after.update(_cpu(list(backends)))
    finally:
        await connection.close()
    by_client: Counter[str] = Counter()
    for pid, owner in backends.items():
        if pid in cpu_before and pid in cpu_after:
            by_client[owner] += cpu_after[pid] - cpu_before[pid]
    active = sum(statements.values())
    return {
        "database": database,
        "seconds": round(elapsed, 1),
        "samples": samples,
        "active_samples": active,
        "backend_cpu_s_by_client": {k: round(v, 2) for k, v in by_client.most_common()},
        "statements": [
            {"role": role, "wait": wait, "query": query, "samples": n, "share": round(n / active, 4)}
            for (role, wait, query), n in statements.most_common(40)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--like", required=True, help="the database's name, a LIKE pattern")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the database to appear")
    parser.add_argument(
        "--after", default="", help="then wait for a process whose command line has this (e.g. 'py-spy record')"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    async def run() -> dict[str, Any]:
        await sample(args.like, 0.0, args.interval, args.wait)  # waits for the database
        # --profile starts py-spy at the measured window's start: sampling from then on measures the same window
        for _ in range(int(args.wait * 10)):  # polled: another process's start has nothing to await
            if not args.after or any(
                args.after in " ".join(p.info["cmdline"] or ()) and p.pid != os.getpid()  # not this one's --after
                for p in psutil.process_iter(["cmdline"])
            ):
                break
            await asyncio.sleep(0.1)
        return await sample(args.like, args.seconds, args.interval, 5.0)

    found = asyncio.run(run())
    text = json.dumps(found, indent=1)
    if args.out:
        args.out.write_text(text)
    print(f"{found['database']}: {found['active_samples']} active of {found['samples']} samples")
    print("backend CPU s by client:", found["backend_cpu_s_by_client"])
    for s in found["statements"][:20]:
        print(f"{s['share'] * 100:5.1f}% {s['role']:<12} {s['wait']:<24} {s['query'][:110]}")


if __name__ == "__main__":
    main()
