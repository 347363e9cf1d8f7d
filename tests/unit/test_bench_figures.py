"""The README's benchmark figures are exactly the rendering of the committed results file (no figure typed in by
hand), and that file says which commit it measured."""

from __future__ import annotations

import json

from benchmarks.harness.report import load_results
from benchmarks.readme_figures import BEGIN, END, LEGS, README, RESULTS, render, render_legs


def test_the_readme_figures_are_the_rendering_of_the_committed_results() -> None:
    section = README.read_text().split(BEGIN, 1)[1].split(END, 1)[0].strip()
    expected = render(*load_results(RESULTS))
    if LEGS.exists():
        expected += "\n" + render_legs(json.loads(LEGS.read_text()))
    assert section == expected, "run `python -m benchmarks.readme_figures` (make bench does)"


def test_the_results_name_the_commit_they_measured() -> None:
    _, meta = load_results(RESULTS)
    commit = meta.get("commit")
    if isinstance(commit, dict):  # results written since they carry the full sha and the dirty flag
        assert len(str(commit["commit"])) == 40
        assert isinstance(commit["dirty"], bool)
        assert meta.get("machine_facts")
    else:
        assert meta.get("revision")
