"""What systems and scenarios exchange with the runner.

A *system* (benchmarks/systems/*.py) is one scheduler set up the way its users would run it; a *scenario*
(benchmarks/scenarios/*.py) says which jobs exist, when they are due and what is measured. The runner
(harness/runner.py) drives one system through one leg of a scenario and turns what was recorded into a
`RunResult`. Times are unix seconds (float) throughout; durations are seconds unless the name says ms."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Job ids of every system start here (the product stores them as scheduled_job.id, clear of its own jobs).
BASE_JOB_ID = 1_000_001


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A fixed-rate interval job: its slots are first + k * period (k >= 0)."""

    job_id: int  # 1..N, the same id in every system's records
    first: float  # first slot, unix seconds
    period: int  # seconds (whole: every system supports that)


@dataclass(frozen=True, slots=True)
class Accounted:
    """A slot the system recorded as deliberately not run (missed past grace, skipped, coalesced away)."""

    job_id: int
    slot: float
    reason: str


@dataclass(slots=True)
class RunDir:
    """Per-run scratch space: logs, the record files of the task, system state files."""

    root: Path

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def make(self) -> None:
        for path in (self.root, self.records, self.logs):
            path.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True, slots=True)
class Roles:
    """The system's process ids by role, for CPU/RSS accounting. `scheduler` is the role that decides what is
    due (timekeeper, beat, APScheduler's processes, the limit's publisher): the scale scenario reports it."""

    all: tuple[int, ...]
    scheduler: tuple[int, ...]


class System(abc.ABC):
    """One benchmarked scheduler. The runner calls, in order: setup, start, load, (measures), stop, collect,
    teardown; teardown also runs after a failure. Implementations start their processes as subprocesses of
    the runner and must leave nothing running or declared behind (databases, queues) after teardown."""

    #: short id used on the command line and in results
    name: str = ""
    #: what the tables show
    label: str = ""
    #: whether the database and broker run in their own processes (their CPU is counted then)
    uses_postgres: bool = True
    uses_rabbitmq: bool = True

    @abc.abstractmethod
    async def setup(self, run: RunDir, run_id: str) -> None:
        """Create this run's database/queues/state files; nothing is running yet."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the processes that do not need the jobs and wait until they are ready."""

    @abc.abstractmethod
    def load_lead(self, jobs: int) -> float:
        """Seconds `load` of that many jobs may take, with margin: the first slots are put this far ahead."""

    @abc.abstractmethod
    async def load(self, jobs: Sequence[JobSpec]) -> None:
        """Give the jobs to the running system (and start what needs them, e.g. Celery beat)."""

    @abc.abstractmethod
    def roles(self) -> Roles:
        """Process ids, as of now."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop every process gracefully (bounded), killing what does not stop."""

    async def collect(self) -> list[Accounted]:
        """Slots the system recorded as not run on purpose (after stop). Default: none."""
        return []

    async def teardown(self) -> None:  # noqa: B027 - optional hook
        """Drop databases and queues; called even after a failure."""

    def database_name(self) -> str | None:
        """The PostgreSQL database whose backends are this system's (their CPU is counted)."""
        return None

    def describe(self) -> str:
        """One line on how it is configured, for the report."""
        return self.label


@dataclass(slots=True)
class Plan:
    """One leg of a scenario as the runner executes it. Offsets are seconds relative to t0, the first slot."""

    jobs: list[JobSpec]
    #: slots in [t0 + window_start, t0 + window_end) are the measured runs; CPU is measured over the same span
    window_start: float
    window_end: float
    #: after window_end: how long to wait at most for measured slots still not started
    drain: float
    #: end the window early once every measured slot started (burst); window_end is then the time-out
    until_all_started: bool = False
    #: the jobs whose lateness is reported (None: all); correctness is always judged over every job
    measured_ids: frozenset[int] | None = None


@dataclass(slots=True)
class RunResult:
    scenario: str
    leg: str  # e.g. "1000/s"
    system: str
    label: str
    status: str = "ok"  # ok | failed | skipped
    note: str = ""
    offered_per_s: float | None = None
    expected: int = 0  # measured slots
    started: int = 0  # measured slots that started (once or more)
    runs_per_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    all_started_s: float | None = None  # burst: last start - slot
    window_s: float | None = None
    cpu_system_s: float | None = None
    cpu_broker_s: float | None = None
    cpu_db_s: float | None = None
    cpu_per_1000: float | None = None
    peak_rss_mb: float | None = None
    scheduler_cpu_per_s: float | None = None
    scheduler_rss_mb: float | None = None
    duplicates: int = 0
    missing: int = 0
    accounted: int = 0  # slots recorded as missed/skipped/coalesced by the system itself
    pending: int = 0  # slots the system had written down but not started when stopped (late, not lost)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Leg:
    """One measured configuration of a scenario (e.g. steady at 500 runs/s)."""

    id: str  # file-name safe
    label: str  # shown in tables
    offered_per_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)


class Scenario(abc.ABC):
    """One workload. `legs` says which configurations a system runs; `plan` lays out jobs and the window."""

    name: str = ""
    title: str = ""
    #: RunResult fields shown in this scenario's table, in order
    columns: tuple[str, ...] = ()

    @abc.abstractmethod
    def legs(self, system: str) -> list[Leg]:
        """The legs `system` runs (may be none)."""

    @abc.abstractmethod
    def job_count(self, leg: Leg) -> int: ...

    @abc.abstractmethod
    def plan(self, leg: Leg, t0: float) -> Plan:
        """Jobs and measured window for a leg whose first slot is t0."""

    def estimate_s(self, leg: Leg, system: str) -> float:
        """Rough wall time of one leg including start and stop (to skip legs the time budget cannot fit)."""
        return 40.0

    def notes(self) -> list[str]:
        """Lines for the report: what was shortened and why."""
        return []
