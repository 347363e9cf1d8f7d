"""Burst: N jobs (10,000) whose first slot is the same instant. Time until all have started, and lateness.

The jobs have a 1 h interval, so each runs exactly once inside the measurement."""

from __future__ import annotations

from benchmarks.harness.model import BASE_JOB_ID, JobSpec, Leg, Plan, Scenario

PERIOD_S = 3600


class Burst(Scenario):
    name = "burst"
    title = "Burst: all jobs due at the same instant"
    columns = (
        "leg",
        "all_started_s",
        "runs_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "cpu_per_1000",
        "cpu_split",
        "peak_rss_mb",
        "duplicates",
        "missing",
        "bg_load",
    )

    def __init__(self, jobs: int = 10_000, timeout_s: float = 30.0) -> None:
        self.jobs = jobs
        self.timeout_s = timeout_s

    def legs(self, system: str) -> list[Leg]:
        return [Leg(f"{self.jobs}", f"{self.jobs:,} at once", params={"jobs": self.jobs})]

    def job_count(self, leg: Leg) -> int:
        return int(leg.params["jobs"])

    def plan(self, leg: Leg, t0: float) -> Plan:
        jobs = [JobSpec(BASE_JOB_ID + i, t0, PERIOD_S) for i in range(int(leg.params["jobs"]))]
        return Plan(jobs, window_start=-0.5, window_end=self.timeout_s, drain=0.0, until_all_started=True)

    def estimate_s(self, leg: Leg, system: str) -> float:
        return self.timeout_s + 20.0 if system != "limit" else 25.0

    def notes(self) -> list[str]:
        return [
            f"Burst: {self.jobs:,} jobs due at one instant; a system gets {self.timeout_s:g} s, after which the runs "
            "not started yet are counted missing (the peers' earlier measurements: Celery 142.6 s, APScheduler 4 "
            "80.7 s). CPU and peak RSS cover the burst until the last start."
        ]
