"""Figures the fault scenarios measure, collected for the README's guarantees table: each `measured(name, value)`
is appended, as a JSON line with the test that measured it, to the file SCHEDULER_TEST_MEASUREMENTS names (unset:
nothing is written). `scripts/guarantees_table.py` turns a run's file into the table's measured column."""

from __future__ import annotations

import json
import os
import time
from typing import Final

ENVIRONMENT: Final = "SCHEDULER_TEST_MEASUREMENTS"


def measured(name: str, value: float) -> None:
    path = os.environ.get(ENVIRONMENT)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    line = json.dumps({"test": test, "name": name, "value": round(value, 3), "at": time.time()})
    with open(path, "a", encoding="utf-8") as file:
        file.write(line + "\n")
