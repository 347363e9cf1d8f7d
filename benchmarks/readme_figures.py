"""The README's benchmark figures, rendered from the committed results file (never typed in).

    python -m benchmarks.readme_figures            # rewrite the section between the markers in README.md
    python -m benchmarks.readme_figures --check    # exit 1 if README.md's section is not the rendering

`make bench` runs it after writing benchmarks/results/latest.json; tests/unit/test_bench_figures.py checks that the
committed README is the rendering of the committed results. Standard library only (plus the harness' own
dataclasses), so that it runs from the product's venv as well as the bench's."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness.model import RunResult
from benchmarks.harness.report import highest_sustained, load_results, relative_targets, targets

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
#: the longer legs' results (benchmarks/legs), rendered after the main table where present
LEGS = ROOT / "benchmarks" / "results" / "legs.json"
BEGIN, END = "<!-- bench-figures:begin -->", "<!-- bench-figures:end -->"


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def _leg(results: Sequence[RunResult], scenario: str, system: str, leg: str) -> RunResult | None:
    for r in results:
        if (r.scenario, r.system, r.leg, r.status) == (scenario, system, leg, "ok"):
            return r
    return None


def _revision(meta: dict[str, Any]) -> str:
    commit = meta.get("commit")
    if isinstance(commit, dict):
        state = "with uncommitted changes" if commit.get("dirty") else "clean"
        return f"`{str(commit.get('commit', '?'))[:12]}` ({state})"
    return f"`{meta.get('revision', '?')}` (recorded before results carried the full sha and dirty flag)"


def render(results: Sequence[RunResult], meta: dict[str, Any]) -> str:
    started = str(meta.get("started", "?"))[:10]
    lines = [
        f"Measured by `make bench` on {started} at commit {_revision(meta)} on {meta.get('machine', '?')}. "
        "Rendered from `benchmarks/results/latest.json` by `python -m benchmarks.readme_figures`; every table is in "
        "`benchmarks/results/latest.md`, how it measures in `benchmarks/README.md`.",
        "",
        "| system | burst of 10,000: all started (s) | 1,000 runs/s: p99 ms | CPU s per 1,000 runs at 1,000/s "
        "| highest rate sustained at p99 ≤ 50 ms (of the rates tried) |",
        "|---|---|---|---|---|",
    ]
    systems: list[tuple[str, str]] = []
    for r in results:
        if (r.system, r.label) not in systems:
            systems.append((r.system, r.label))
    for system, label in systems:
        burst = _leg(results, "burst", system, "10,000 at once")
        steady = _leg(results, "steady", system, "1,000/s")
        best = highest_sustained(results, system)
        cells = [
            label,
            "–" if burst is None else "not all" if burst.all_started_s is None else _num(burst.all_started_s, 2),
            _num(steady.p99_ms) if steady else "–",
            _num(steady.cpu_per_1000, 2) if steady else "–",
            f"{best.offered_per_s:,.0f}/s" if best and best.offered_per_s else "–",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *targets(results), *relative_targets(results)]
    return "\n".join(lines)


def render_legs(legs: dict[str, Any]) -> str:
    """Each longer leg's verdicts, with the commit and date it measured."""
    lines: list[str] = []
    for name in sorted(legs):
        entry = legs[name]
        meta = entry.get("meta", {})
        options = ", ".join(f"{k} {v}" for k, v in meta.get("options", {}).items())
        lines += ["", f"{entry.get('title', name)} (`python -m benchmarks.legs {name}`: {options}; "]
        lines[-1] += f"{str(meta.get('started', '?'))[:10]} at {meta.get('revision', '?')}):"
        lines += ["", *(f"- {v}" for v in entry.get("verdicts", []))]
    return "\n".join(lines)


def rendered_readme(text: str, section: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{section}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readme_figures", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--legs", type=Path, default=LEGS)
    args = parser.parse_args(argv)
    section = render(*load_results(args.results))
    if args.legs.exists():
        section += "\n" + render_legs(json.loads(args.legs.read_text()))
    text = README.read_text()
    updated = rendered_readme(text, section)
    if args.check:
        if updated != text:
            print("README.md: benchmark figures out of date: python -m benchmarks.readme_figures")
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
