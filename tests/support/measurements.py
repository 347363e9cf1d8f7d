"""Figures the fault scenarios measure, collected for the README's guarantees table: `measured(name, value)`
keeps a figure of the running test, and when the test passes its figures are appended, one JSON line each with
the test that measured it, to the file SCHEDULER_TEST_MEASUREMENTS names (unset: nothing is written). A test
that fails writes nothing: a figure counts only if every assertion of its scenario held.
`scripts/guarantees_table.py` turns the collected lines into the table's measured column."""

from __future__ import annotations

import json
import os
import time
from typing import Final

ENVIRONMENT: Final = "SCHEDULER_TEST_MEASUREMENTS"

_pending: list[dict[str, object]] = []


def measured(name: str, value: float) -> None:
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    _pending.append({"test": test, "name": name, "value": round(value, 3), "at": time.time()})


def keep(passed: bool) -> None:
    """At the end of a test: write its figures if it passed, drop them otherwise."""
    entries = list(_pending)
    _pending.clear()
    path = os.environ.get(ENVIRONMENT)
    if not passed or not path or not entries:
        return
    with open(path, "a", encoding="utf-8") as file:
        file.writelines(json.dumps(entry) + "\n" for entry in entries)
