"""History at scale (issue 21): the API's history pages and /status over millions of runs, any version of the product.

    python -m benchmarks.history_scale seed --database NAME --rows 2000000     # scratch database at revision 0005
    python -m benchmarks.history_scale measure --database NAME --label main    # the installed product's API
    python -m benchmarks.history_scale copy --database NAME --to COPY          # a copy, to migrate
    python -m benchmarks.history_scale migrate --database COPY                 # to head, timed
    python -m benchmarks.history_scale report --results FILE                   # a markdown table of FILE

`seed` creates (or replaces) a scratch database on the local PostgreSQL, migrated to revision 0005 (the schema before
the history indexes), and writes `--rows` runs of 1,000 jobs in one INSERT ... SELECT generate_series
(tests/support/history.py), then VACUUM ANALYZE (production runs autovacuum; this server does not). `measure`
serves the API of whichever product version the running interpreter has installed (run it with main's venv for
"before", with this branch's for "after") on loopback, as a Super Admin, and times each request REPEAT times
(median and max, milliseconds, client-side): page 1, a deep page (page-number paging near the end; with a cursor
where the API has them), filters, and /status after status-filtered history reads (the reads that turned the
status page's cached plan into a full scan). `migrate` times `jobscheduler migrate`'s upgrade to head, during
which the executions table accepts no writes."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx

SERVER: Final = "postgresql://postgres@127.0.0.1:5432"
REPEAT: Final = 15
PER_PAGE: Final = 20
SECRET: Final = "history-scale-benchmark-secret-0123456789abcdef"
API: Final = "/api/v1/scheduler"


def _url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"


async def seed(database: str, rows: int) -> None:
    from scheduler_core.store.engine import create_engine
    from scheduler_core.store.migration import upgrade
    from tests.support.history import generate_history

    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    engine = create_engine(_url(database), pool_size=1)
    try:
        await upgrade(engine, "0005")
        began = time.perf_counter()
        async with engine.begin() as connection:
            await generate_history(connection, rows=rows, jobs=1000)
        print(f"seeded {rows:,} runs in {time.perf_counter() - began:.1f} s")
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def copy(database: str, to: str) -> None:
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{to}" WITH (FORCE)')
        began = time.perf_counter()
        await admin.execute(f'CREATE DATABASE "{to}" TEMPLATE "{database}"')
        print(f"copied {database} to {to} in {time.perf_counter() - began:.1f} s")
    finally:
        await admin.close()


async def migrate(database: str) -> None:
    from scheduler_core.store.engine import create_engine
    from scheduler_core.store.migration import current_revision, upgrade

    engine = create_engine(_url(database), pool_size=1)
    try:
        before = await current_revision(engine)
        began = time.perf_counter()
        await upgrade(engine)
        took = time.perf_counter() - began
        print(f"migrated {before} -> {await current_revision(engine)} in {took:.2f} s (executions locked for writes)")
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        await connection.execute("ANALYZE scheduled_job_execution")
    finally:
        await connection.close()


async def _timed(call: Callable[[], Awaitable[httpx.Response]], repeat: int = REPEAT) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = await call()
        samples.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


async def _deep_cursor(database: str, depth: int) -> str | None:
    """A cursor at `depth` runs from the newest (the API's own format; None where the installed API has none)."""
    # The cursor's class by the name the measured commit gives it (PageCursor since history and audit share one).
    try:
        from scheduler_core.schemas.cursors import PageCursor as Cursor
    except ImportError:
        try:
            from scheduler_core.schemas.cursors import HistoryCursor as Cursor  # type: ignore[no-redef]
        except ImportError:
            return None
    connection = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        row = await connection.fetchrow(
            "SELECT scheduled_at, id FROM scheduled_job_execution "
            "ORDER BY scheduled_at DESC, id DESC OFFSET $1 LIMIT 1",
            depth - 1,
        )
    finally:
        await connection.close()
    assert row is not None
    return Cursor(row["scheduled_at"], row["id"], depth // PER_PAGE + 1).encode()


async def measure(database: str, label: str, out: Path | None) -> None:
    from scheduler_api.app import create_app
    from scheduler_core.auth.tokens import mint_super_admin_token
    from scheduler_core.bootstrap import open_database
    from scheduler_core.observability.http_server import HttpServer
    from scheduler_core.observability.logging import configure_logging
    from scheduler_core.settings import Settings

    configure_logging("WARNING", "console")  # warnings only: no line per request
    settings = Settings(database_url=_url(database), jwt_secret=SECRET, dashboard_dir=Path(__file__).parent)
    token = mint_super_admin_token(settings, SECRET, ttl=timedelta(hours=1))
    port = 18_000 + uuid.uuid4().int % 1000
    results: dict[str, Any] = {"label": label}
    async with open_database(settings, migrate=False) as opened:
        app = create_app(settings, opened, instance_id=str(uuid.uuid4()))
        async with (
            HttpServer(app, "127.0.0.1", port, lifespan="on"),
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}{API}", headers={"Authorization": f"Bearer {token}"}, timeout=120
            ) as client,
        ):

            def get(path: str, **params: Any) -> Callable[[], Awaitable[httpx.Response]]:
                return lambda: client.get(path, params={"per_page": PER_PAGE, **params})

            first = (await client.get("/history", params={"per_page": PER_PAGE})).json()
            results["rows"] = first["total"]
            results["total_is_estimate"] = first.get("totalIsEstimate", False)
            job = first["items"][0]["jobId"]
            results["history page 1"] = await _timed(get("/history"))
            # The last page but one: page-number paging reads and skips every run before it.
            deep = results["rows"] // PER_PAGE - 1
            results["deep page"] = deep
            results["history deep page (page number)"] = await _timed(get("/history", page=deep), 5)
            cursor = await _deep_cursor(database, (deep - 1) * PER_PAGE)
            if cursor is not None:
                results["history deep page (cursor)"] = await _timed(get("/history", cursor=cursor))
            results["history status_id=4 page 1"] = await _timed(get("/history", status_id=4))
            results["history status_id=3 page 1"] = await _timed(get("/history", status_id=3))
            results["job history page 1"] = await _timed(get(f"/jobs/{job}/history"))
            results["job history status_id=4 page 1"] = await _timed(get(f"/jobs/{job}/history", status_id=4))
            if cursor is not None:
                results["history trigger=manual page 1"] = await _timed(get("/history", trigger="manual"))
                window = {"from": first["items"][0]["scheduledAt"], "to": first["items"][0]["scheduledAt"]}
                window["from"] = _hours_before(window["to"], 24 * 7)
                results["history last week, status_id=4"] = await _timed(get("/history", status_id=4, **window))
            results["/status"] = await _timed(lambda: client.get("/status"))
            # The plan flip of issue 21: status-filtered history reads, then the status page.
            samples = []
            for _ in range(REPEAT):
                for status in (3, 4):
                    (
                        await client.get("/history", params={"status_id": status, "per_page": PER_PAGE})
                    ).raise_for_status()
                began = time.perf_counter()
                (await client.get("/status")).raise_for_status()
                samples.append((time.perf_counter() - began) * 1000)
            results["/status, each after 2 status-filtered history reads"] = {
                "median_ms": round(statistics.median(samples), 1),
                "max_ms": round(max(samples), 1),
            }
    print(json.dumps(results, indent=1))
    if out is not None:
        with out.open("a") as file:
            file.write(json.dumps(results) + "\n")


def report(results: Path) -> str:
    """The measurements of `results` (JSON lines, one per measure run) as a markdown table: per label, the median
    of the runs' medians (ms) and the largest of their maxima."""
    runs = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    labels = list(dict.fromkeys(run["label"] for run in runs))
    measures = list(dict.fromkeys(key for run in runs for key, value in run.items() if isinstance(value, dict)))
    by_label = {label: [run for run in runs if run["label"] == label] for label in labels}
    counts = ", ".join(f"{label} {len(by_label[label])}" for label in labels)
    lines = [
        f"| request ({counts} runs; median / max ms) | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for measure in measures:
        cells = []
        for label in labels:
            found = [run[measure] for run in by_label[label] if measure in run]
            cells.append(
                f"{statistics.median(f['median_ms'] for f in found):.1f} / {max(f['max_ms'] for f in found):.0f}"
                if found
                else "-"
            )
        lines.append(f"| {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _hours_before(instant: str, hours: int) -> str:
    from datetime import datetime

    return (datetime.fromisoformat(instant) - timedelta(hours=hours)).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed")
    seeding.add_argument("--database", required=True)
    seeding.add_argument("--rows", type=int, default=2_000_000)
    measuring = commands.add_parser("measure")
    measuring.add_argument("--database", required=True)
    measuring.add_argument("--label", required=True)
    measuring.add_argument("--out", type=Path)
    copying = commands.add_parser("copy")
    copying.add_argument("--database", required=True)
    copying.add_argument("--to", required=True)
    migrating = commands.add_parser("migrate")
    migrating.add_argument("--database", required=True)
    reporting = commands.add_parser("report")
    reporting.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "seed":
        asyncio.run(seed(args.database, args.rows))
    elif args.command == "measure":
        asyncio.run(measure(args.database, args.label, args.out))
    elif args.command == "copy":
        asyncio.run(copy(args.database, args.to))
    elif args.command == "report":
        print(report(args.results))
    else:
        asyncio.run(migrate(args.database))


if __name__ == "__main__":
    main()
