"""results/legs.json: the last result of each longer leg, with the commit and machine it measured; legs.md renders
it. A leg run again replaces its own entry only (the others keep theirs, with their own commit)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import provenance

FILE = "legs.json"


async def stamp(options: dict[str, Any]) -> dict[str, Any]:
    """What a leg's result is tied to: the commit (sha, dirty flag), the machine, when, and the leg's options."""
    rev, facts = provenance.revision(), await provenance.machine_facts()
    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": rev,
        "revision": provenance.describe_revision(rev),
        "machine_facts": facts,
        "machine": provenance.describe_machine(facts),
        "options": options,
    }


def save(
    out: Path,
    leg: str,
    title: str,
    meta: dict[str, Any],
    figures: dict[str, Any],
    table: list[str],
    verdicts: list[str],
) -> Path:
    """Record a leg's run: figures (every number), table (its markdown lines), verdicts (its targets met or not)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    meta = {**meta, "finished": datetime.now(UTC).isoformat(timespec="seconds")}
    data[leg] = {"title": title, "meta": meta, "figures": figures, "table": table, "verdicts": verdicts}
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False))
    (out / "legs.md").write_text(markdown(data))
    return path


def markdown(data: dict[str, Any]) -> str:
    lines = ["# The bench's longer legs", "", "Written by `python -m benchmarks.legs`: each leg's last run.", ""]
    for leg in sorted(data):
        entry = data[leg]
        meta = entry["meta"]
        lines += [f"## {entry.get('title', leg)}", ""]
        options = ", ".join(f"{k} {v}" for k, v in meta.get("options", {}).items())
        lines += [f"Run {meta.get('started')} at {meta.get('revision')} on {meta.get('machine')}; {options}.", ""]
        lines += [*entry.get("table", []), ""]
        lines += [*(f"- {v}" for v in entry.get("verdicts", [])), ""]
    return "\n".join(lines)
