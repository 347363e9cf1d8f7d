"""Scale: many enabled jobs that are mostly not due (intervals of 15 minutes to a week) plus 100 jobs due every
second. Reports the scheduling role's CPU per second and memory (timekeeper, beat, publisher...) and the
lateness of the 100; correctness is judged over every job, idle ones included (some do fire in the window).

Legs: 1,000 and 100,000 idle jobs, so the product's target (timekeeper CPU/s at 100,000 within 2x of that at
1,000) reads off the table."""

from __future__ import annotations

import random

from benchmarks.harness.model import BASE_JOB_ID, JobSpec, Leg, Plan, Scenario

HOT_JOBS = 100
# Idle periods in seconds, 15 min to 7 days: 100,000 such jobs fire about 20 times per second in total.
IDLE_PERIODS_S = (900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
DRAIN_S = 5.0


class Scale(Scenario):
    name = "scale"
    title = "Scale: idle jobs + 100 due every second"
    columns = (
        "leg",
        "scheduler_cpu_per_s",
        "scheduler_rss_mb",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "runs_per_s",
        "cpu_per_1000",
        "peak_rss_mb",
        "duplicates",
        "missing",
        "bg_load",
    )

    def __init__(
        self,
        idle_counts: tuple[int, ...] = (1_000, 100_000),
        per_system_idle: dict[str, tuple[int, ...]] | None = None,
        warmup_s: float = 3.0,
        window_s: float = 10.0,
    ) -> None:
        self.idle_counts = idle_counts
        self.per_system_idle = per_system_idle or {}
        self.warmup_s = warmup_s
        self.window_s = window_s

    def legs(self, system: str) -> list[Leg]:
        counts = self.per_system_idle.get(system, self.idle_counts)
        return [
            Leg(f"idle{n}", f"{n:,} idle + {HOT_JOBS}/s", offered_per_s=float(HOT_JOBS), params={"idle": n})
            for n in counts
        ]

    def job_count(self, leg: Leg) -> int:
        return int(leg.params["idle"]) + HOT_JOBS

    def plan(self, leg: Leg, t0: float) -> Plan:
        hot = [JobSpec(BASE_JOB_ID + i, t0 + i / HOT_JOBS, 1) for i in range(HOT_JOBS)]
        rng = random.Random(8)
        idle: list[JobSpec] = []
        for i in range(int(leg.params["idle"])):
            period = rng.choice(IDLE_PERIODS_S)
            # Whole milliseconds keep every system's clock arithmetic exact.
            idle.append(JobSpec(BASE_JOB_ID + HOT_JOBS + i, t0 + round(rng.uniform(0, period), 3), period))
        return Plan(
            hot + idle,
            window_start=self.warmup_s,
            window_end=self.warmup_s + self.window_s,
            drain=DRAIN_S,
            measured_ids=frozenset(j.job_id for j in hot),
        )

    def estimate_s(self, leg: Leg, system: str) -> float:
        # The load lead (jobs / 5,000 s for this product, the slowest loader that runs it) and the load within it.
        return self.warmup_s + self.window_s + 30.0 + int(leg.params["idle"]) / 4_000

    def notes(self) -> list[str]:
        return [
            f"Scale: {self.warmup_s:g} s warm-up, {self.window_s:g} s window. Idle jobs have intervals of 15 min to "
            "7 days with their first slot at a random point of their first interval (about 20 runs/s in total at "
            "100,000); lateness is that of the 100 one-second jobs; 'sched CPU/s' is the scheduling role only "
            "(timekeeper / beat / APScheduler processes / limit publisher; the whole process in embedded mode)."
        ]
