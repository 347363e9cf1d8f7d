"""The bench's targets relative to the batched limit (issue 21) read pass or fail off one run's results."""

from __future__ import annotations

from benchmarks.harness.model import RunResult
from benchmarks.harness.report import relative_targets

SA, LIMIT = "jobscheduler-standalone", "limit-batched"


def steady(system: str, rate: int, p99_ms: float, cpu_per_1000: float = 1.0) -> RunResult:
    return RunResult(
        "steady",
        f"{rate:,}/s",
        system,
        system,
        offered_per_s=float(rate),
        runs_per_s=float(rate),
        p99_ms=p99_ms,
        cpu_per_1000=cpu_per_1000,
    )


def test_each_target_is_a_ratio_to_the_batched_limit_of_the_same_run() -> None:
    results = [
        steady(LIMIT, 1000, 5.0, 0.4),
        steady(LIMIT, 2000, 8.0),
        steady(LIMIT, 3000, 60.0),  # over 50 ms: the limit's highest is 2,000/s
        steady(SA, 1000, 9.0, 0.7),  # 1.75x CPU (fails 1.5x), 1.8x p99 (meets 2x)
        steady(SA, 2000, 30.0),  # 1.0x the limit's highest rate (meets 0.7x)
    ]
    lines = relative_targets(results)
    assert lines[0].startswith("- ❌")
    assert "1.75×" in lines[0]
    assert lines[1].startswith("- ✅")
    assert "1.80×" in lines[1]
    assert lines[2].startswith("- ✅")
    assert "1.00× (2,000 vs 2,000 runs/s" in lines[2]
    assert "upper bound" not in lines[2]


def test_without_the_batched_limit_nothing_is_judged() -> None:
    assert all(line.startswith("- ⚪") for line in relative_targets([steady(SA, 1000, 9.0)]))


def test_a_limit_that_sustained_every_rate_tried_makes_the_ratio_an_upper_bound() -> None:
    lines = relative_targets([steady(LIMIT, 1000, 5.0), steady(SA, 1000, 9.0)])
    assert "upper bound" in lines[2]
