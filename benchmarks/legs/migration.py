"""Migration: the migration path of an existing database, timed (issue 21: "run it on a copy with 1 M rows and time
it"). A scratch database at FROM_REVISION (full scale: 0009) with ROWS runs of history (1,000,000 over 60 days for
1,000 jobs), then every revision after it up to head, one at a time (one transaction each, as `jobscheduler
migrate` runs them), each timed with the executions table's rows and sizes after it. Whatever revisions exist after
FROM_REVISION are timed: none is named here. The product side runs in the product's venv:
benchmarks/legs/migration_product.py. No target: the figures say how long a deployment's `migrate` holds its locks."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any

from benchmarks.harness import pg
from benchmarks.harness.procs import PRODUCT_PYTHON, REPO_ROOT, clean_env, run_checked
from benchmarks.legs import results

log = logging.getLogger("bench")

TITLE = "Migration: every revision after an existing database's, on a copy with many runs of history"


async def run(work: Path, out: Path, rows: int, days: float, from_revision: str) -> dict[str, Any]:
    meta = await results.stamp({"rows": rows, "days": days, "from_revision": from_revision})
    database = f"bench_migr_{secrets.token_hex(3)}"
    figures_path = work / f"{database}.json"
    env = clean_env(PYTHONPATH=str(REPO_ROOT))
    # Loading takes about 40 s per million rows on 2 shared cores; each revision may rewrite the table or an index.
    timeout = 600 + rows / 1_000_000 * 600
    argv = [str(PRODUCT_PYTHON), "-m", "benchmarks.legs.migration_product", database, str(rows), str(days)]
    try:
        log.info("migration: %s rows at %s into %s", f"{rows:,}", from_revision, database)
        output = await run_checked([*argv, from_revision, str(figures_path)], env, timeout)
        log.info("%s", output[-2000:])
        figures: dict[str, Any] = json.loads(figures_path.read_text())
    finally:
        await pg.drop_database(database)
    before = figures["before"]
    table = [
        f"{before['rows']:,} runs over {days:g} days for {figures['jobs']:,} jobs at revision {from_revision}, "
        f"loaded in {figures['load_s']} s (VACUUM ANALYZE {figures['vacuum_analyze_s']} s): executions table "
        f"{before['table_mb']:,} MB + {before['indexes']} indexes {before['indexes_mb']:,} MB, database "
        f"{before['database_mb']:,} MB. Each revision after it, up to head ({figures['head']}):",
        "",
        "| revision | seconds | rows after | table MB | indexes (MB) | database MB |",
        "|---|---|---|---|---|---|",
    ]
    for step in figures["steps"]:
        table.append(
            f"| {step['revision']} | {step['seconds']} | {step['rows']:,} | {step['table_mb']:,} "
            f"| {step['indexes']} ({step['indexes_mb']:,}) | {step['database_mb']:,} |"
        )
    total = sum(step["seconds"] for step in figures["steps"])
    table += ["", f"Total: {total:.2f} s for {len(figures['steps'])} revision(s)."]
    lost = [s["revision"] for s in figures["steps"] if s["rows"] != before["rows"]]
    verdicts = [
        f"{'✅' if not lost else '❌'} every run kept through the migration ({before['rows']:,} rows)"
        + (f": changed at {', '.join(lost)}" if lost else ""),
        f"ℹ️ {from_revision} → {figures['head']}: {total:.2f} s at {before['rows']:,} rows (no target set)",
    ]
    results.save(out, "migration", TITLE, meta, figures, table, verdicts)
    return figures
