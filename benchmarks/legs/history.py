"""History: the API's history pages, /status and cleanup over ROWS runs of history (full scale: 10,000,000), in a
fresh database loaded by one INSERT ... SELECT generate_series. The product side (loading, serving the API, timing
the requests) runs in the product's venv: benchmarks/legs/history_product.py. Targets (issue 21): history pages
≤ 20 ms at any depth and /status ≤ 20 ms at 10 M rows; retention of a day's rows at 1,000 runs/s (86.4 M) in ≤ 1 %
of a day (864 s), extrapolated from the measured cleanup rate."""

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

TITLE = "History: the API's history pages, /status and cleanup over many runs of history"
PAGE_TARGET_MS = 20.0
# A day of runs at 1,000 runs/s, and the share of the day its cleanup may take.
DAY_ROWS = 86_400_000
CLEANUP_SHARE_OF_DAY = 0.01
# The requests judged against PAGE_TARGET_MS (median of the repeats): the pages a user pages through, and /status.
JUDGED = (
    "history page 1",
    "history deep page (cursor)",
    "/status",
    "/status, each after 2 status-filtered history reads",
)


async def run(work: Path, out: Path, rows: int) -> dict[str, Any]:
    meta = await results.stamp({"rows": rows})
    database = f"bench_hist_{secrets.token_hex(3)}"
    figures_path = work / f"{database}.json"
    env = clean_env(PYTHONPATH=str(REPO_ROOT))
    # Loading takes about 10 s per million rows on 2 cores; the cleanup a multiple of that.
    timeout = 600 + rows / 1_000_000 * 120
    try:
        log.info("history: %s rows into %s (product side logs to %s)", f"{rows:,}", database, figures_path)
        output = await run_checked(
            [str(PRODUCT_PYTHON), "-m", "benchmarks.legs.history_product", database, str(rows), str(figures_path)],
            env,
            timeout,
        )
        log.info("%s", output[-2000:])
        figures: dict[str, Any] = json.loads(figures_path.read_text())
    finally:
        await pg.drop_database(database)
    requests = figures["requests"]
    verdicts = []
    for name in JUDGED:
        found = requests.get(name)
        if found is None:
            verdicts.append(f"⚪ {name} ≤ {PAGE_TARGET_MS:g} ms: the installed API has no such request")
            continue
        met = found["median_ms"] <= PAGE_TARGET_MS
        verdicts.append(
            f"{'✅' if met else '❌'} {name} ≤ {PAGE_TARGET_MS:g} ms at {rows:,} rows: median {found['median_ms']} ms "
            f"(max {found['max_ms']} ms)"
        )
    clean = figures["cleanup"]
    seed = figures["seed"]
    if clean.get("returned_mb", 0) > 0:
        # Dropping days costs by their bytes, not their rows (store/partitions.py): a day at 1,000 runs/s is
        # DAY_ROWS rows of this history's bytes per row.
        day_mb = seed["database_mb"] / rows * DAY_ROWS
        day_s = clean["seconds"] / clean["returned_mb"] * day_mb
        budget = 86_400 * CLEANUP_SHARE_OF_DAY
        verdicts.append(
            f"{'✅' if day_s <= budget else '❌'} a day's rows at 1,000 runs/s ({DAY_ROWS:,}, ≈ {day_mb:,.0f} MB) "
            f"cleaned up in ≤ {budget:g} s: {day_s:,.0f} s extrapolated by bytes from {clean['deleted']:,} rows "
            f"({clean['returned_mb']:,} MB returned) in {clean['seconds']} s"
        )
    elif clean.get("rows_per_s"):
        day_s = DAY_ROWS / clean["rows_per_s"]
        budget = 86_400 * CLEANUP_SHARE_OF_DAY
        verdicts.append(
            f"{'✅' if day_s <= budget else '❌'} a day's rows at 1,000 runs/s ({DAY_ROWS:,}) deleted in ≤ "
            f"{budget:g} s: {day_s:,.0f} s extrapolated from {clean['deleted']:,} rows in {clean['seconds']} s "
            "(a cost that grows with the table would make this optimistic)"
        )
    else:
        verdicts.append(f"⚪ cleanup rate: nothing deleted ({clean.get('message')})")
    table = [
        f"Loaded {rows:,} runs in {seed['load_s']} s (VACUUM ANALYZE {seed['vacuum_analyze_s']} s, database "
        f"{seed['database_mb']:,} MB). Cleanup: POST /cleanup keeping {clean['retention_days']} of "
        f"{clean['history_days']} days deleted {clean['deleted']:,} runs in {clean['seconds']} s "
        f"({clean.get('returned_mb', 0):,} MB of disk returned).",
        "",
        "| request | median ms | max ms |",
        "|---|---|---|",
    ]
    for name, value in requests.items():
        if isinstance(value, dict):
            table.append(f"| {name} | {value['median_ms']} | {value['max_ms']} |")
    results.save(out, "history", TITLE, meta, figures, table, verdicts)
    return figures
