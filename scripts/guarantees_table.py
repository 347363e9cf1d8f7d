"""Render the README's guarantees table from what the fault scenarios measured.

    python scripts/guarantees_table.py                 # rewrite the table in README.md
    python scripts/guarantees_table.py --collect FILE  # first append FILE's measurements to the committed ones
    python scripts/guarantees_table.py --check         # exit 1 if README.md's table is not the rendering

`make test` and `make faults` record measurements to test-output/measurements.jsonl (SCHEDULER_TEST_MEASUREMENTS);
`make guarantees` collects them into tests/faults/measurements.jsonl and renders the table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.guarantees import read_measurements, render  # noqa: E402

README = ROOT / "README.md"
COMMITTED = ROOT / "tests/faults/measurements.jsonl"
BEGIN, END = "<!-- guarantees-table:begin -->", "<!-- guarantees-table:end -->"


def rendered_readme(text: str, table: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collect", type=Path, help="measurements to append to the committed file first")
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = parser.parse_args()
    if args.collect is not None and args.collect.exists():
        with COMMITTED.open("a", encoding="utf-8") as committed:
            committed.write(args.collect.read_text())
    table = render(read_measurements(COMMITTED))
    text = README.read_text()
    updated = rendered_readme(text, table)
    if args.check:
        if updated != text:
            print("README.md's guarantees table is not the rendering of the measurements: make guarantees")
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
