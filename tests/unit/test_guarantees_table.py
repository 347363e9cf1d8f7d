"""The README's guarantees table is exactly the rendering of the committed measurements (no figure typed in by
hand), every row names scenarios that exist, and the rendering fails on a figure nobody measured."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from scripts.guarantees_table import BEGIN, COMMITTED, END, README
from tests.faults.guarantees import ROWS, Missing, Range, read_measurements, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_table_is_the_rendering_of_the_committed_measurements() -> None:
    table = README.read_text().split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == render(read_measurements(COMMITTED)), "run `make guarantees` (or collect measurements first)"


def test_every_row_names_tests_that_exist() -> None:
    for row in ROWS:
        for test in row.tests:
            path, function = test.split("::")
            tree = ast.parse((ROOT / path).read_text())
            names = {node.name for node in ast.walk(tree) if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)}
            assert function in names, test


def test_a_range_shows_one_value_or_the_lowest_and_highest() -> None:
    assert f"{Range([1.234]):.2f}" == "1.23"
    assert f"{Range([2.0, 1.5, 3.25]):.1f}" == "1.5–3.2"
    assert f"{Range([1.001, 1.004]):.2f}" == "1.00"


def test_a_figure_no_run_recorded_fails_the_rendering() -> None:
    with pytest.raises(Missing, match="no measurement"):
        render([])
