"""The overlap check of max_instances, on hand-made activity logs: it finds what it must, and only that."""

from __future__ import annotations

from pathlib import Path

from tests.faults.overlap import concurrency_breaches, longest_overlap, read_activity, read_segments


def _log(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_runs_one_after_the_other_do_not_overlap(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log", "r1 7 start 10.0 1", "r1 7 tick 10.5 1", "r1 7 end 11.0 1", "r2 7 start 11.2 2")
    activity = read_activity(log)
    assert (activity["r1"].first, activity["r1"].last, activity["r1"].ended) == (10.0, 11.0, True)
    assert concurrency_breaches(activity, {7: 1}, 0.0) == []
    assert longest_overlap(activity, {7: 1}) == 0.0


def test_a_run_that_ticks_after_the_next_one_started_overlaps_by_that_much(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log", "r1 7 start 10.0 1", "r1 7 tick 12.3 1", "r2 7 start 12.0 2", "r2 7 end 13.0 2")
    [breach] = concurrency_breaches(read_activity(log), {7: 1}, 0.1)
    assert (breach.earlier.execution_id, breach.later.execution_id) == ("r1", "r2")
    assert abs(breach.seconds - 0.3) < 1e-9
    assert concurrency_breaches(read_activity(log), {7: 1}, 0.5) == []  # within the tolerance


def test_max_instances_two_allows_two_at_once_but_not_three(tmp_path: Path) -> None:
    lines = ["a 3 start 0.0 1", "a 3 end 5.0 1", "b 3 start 1.0 2", "b 3 end 5.0 2"]
    assert concurrency_breaches(read_activity(_log(tmp_path / "two.log", *lines)), {3: 2}, 0.0) == []
    [breach] = concurrency_breaches(
        read_activity(_log(tmp_path / "three.log", *lines, "c 3 start 2.0 3", "c 3 end 3.0 3")), {3: 2}, 0.0
    )
    assert breach.later.execution_id == "c"


def test_runs_of_different_jobs_never_count_against_each_other(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log", "a 1 start 0.0 1", "a 1 end 5.0 1", "b 2 start 1.0 2", "b 2 end 4.0 2")
    assert concurrency_breaches(read_activity(log), {1: 1, 2: 1}, 0.0) == []


def test_a_run_frozen_through_the_next_run_overlaps_it_only_by_what_it_logged_after_resuming(tmp_path: Path) -> None:
    # r1 ticks until 11.0, is frozen, logs two ticks from 15.0 on resuming and is ended; r2 ran from 13.0 to 16.0.
    log = _log(
        tmp_path / "a.log",
        "r1 7 start 10.0 1", "r1 7 tick 11.0 1", "r1 7 tick 15.0 1", "r1 7 tick 15.05 1",
        "r2 7 start 13.0 2", "r2 7 tick 14.0 2", "r2 7 tick 15.0 2", "r2 7 end 16.0 2",
    )  # fmt: skip
    [whole] = concurrency_breaches(read_activity(log), {7: 1}, 0.0)
    assert abs(whole.seconds - 2.05) < 1e-9  # the span counts the pause as running
    segments = read_segments(log, silence=1.0)
    assert sorted(segments) == ["r1/0", "r1/1", "r2/0"]
    assert (segments["r1/1"].first, segments["r1/1"].last) == (15.0, 15.05)
    assert segments["r2/0"].ended
    assert not segments["r1/0"].ended
    assert concurrency_breaches(segments, {7: 1}, 0.2) == []
    [tick] = concurrency_breaches(segments, {7: 1}, 0.0)
    assert (tick.earlier.execution_id, tick.later.execution_id) == ("r2", "r1")
    assert abs(tick.seconds - 0.05) < 1e-9
