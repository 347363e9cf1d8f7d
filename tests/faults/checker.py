"""A history checker for the run pipeline, in the spirit of Jepsen's queue checker.

Three sources, none trusted more than the others:

* the schedule: every job's fire instants (``scheduler_core.schedule``) from its first slot to the end of the
  window give the set of expected ``(job_id, scheduled_at)`` slots;
* the database: the execution rows, i.e. what the scheduler says happened. A coalesced row stands for
  ``coalesced_count`` slots, from ``coalesced_from`` to its ``scheduled_at``; rows that did not run (missed,
  skipped) and failed runs must say why in ``error_message``. A slot's retries are rows of its later attempts:
  the slot's rows must form one chain (attempts 1..n, each failed one linked by ``retried_by`` to the next), and
  the final attempt's outcome is the slot's;
* the start log the task itself appends to (``tests/support/tasks.py``): what really started, so that a double
  start is seen even where the database shows one row.

It reports:

* lost: an expected slot that was neither run nor recorded with a reason (no row, a row still pending or
  running at the end, a missed/skipped/failed row without a reason, or a success whose task never started);
* duplicated: a slot with more than one first attempt (coalesced rows included), or an attempt whose task
  started more than once;
* unexpected: rows or task starts for slots that are not in the schedule (manual triggers excepted), rows
  for unknown jobs, coalesced rows whose count does not match the schedule, starts without a row, tasks
  started for a run the database says never started (missed or skipped), and a slot's attempts that do not
  form one chain (a gap, a second attempt of a number, a link to the wrong row, a retried attempt that did not
  fail);
* late: first attempts that started more than ``late_bound_s`` seconds after their slot (a retry is late by
  design).

Pure: no clock, no I/O except :func:`read_starts`. Rows beyond a job's window that are on its schedule are
neither expected nor unexpected (the timekeeper may have handled the next slot just before it stopped).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from scheduler_core.schedule import Schedule, fire_times_between
from scheduler_core.store.models import ExecutionStatus, Trigger

# Upper bound on the slots of one job in one check (a 1-s schedule over a 10-minute suite is 600).
MAX_SLOTS = 100_000
# Findings printed per category by Report.__str__.
SHOWN_PER_CATEGORY = 10

_OPEN = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
_NEED_REASON = (ExecutionStatus.MISSED, ExecutionStatus.SKIPPED, ExecutionStatus.FAILED)
_NOT_STARTED = (ExecutionStatus.MISSED, ExecutionStatus.SKIPPED)


@dataclass(frozen=True, slots=True)
class ExpectedJob:
    """One job of the history: its schedule and the window of slots it must account for."""

    job_id: int
    schedule: Schedule
    first_slot: datetime  # its first next_run_at: the interval anchor and the start of the window
    until: datetime  # end of the window, inclusive: every slot up to here must be accounted for
    tracks_starts: bool = True  # its task appends to the start log, so a success must show a start


class ExecutionLike(Protocol):
    """What the checker reads of a scheduled_job_execution row (the ORM model satisfies it)."""

    @property
    def execution_id(self) -> str: ...
    @property
    def job_id(self) -> int: ...
    @property
    def scheduled_at(self) -> datetime: ...
    @property
    def status_id(self) -> int: ...
    @property
    def trigger(self) -> str: ...
    @property
    def coalesced_count(self) -> int: ...
    @property
    def coalesced_from(self) -> datetime | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def attempt(self) -> int: ...
    @property
    def retried_by(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One execution row as the checker sees it."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    status: ExecutionStatus
    trigger: str = Trigger.SCHEDULE
    coalesced_count: int = 1
    coalesced_from: datetime | None = None
    error_message: str | None = None
    started_at: datetime | None = None  # the database's start instant (the task's, recorded with its outcome)
    attempt: int = 1
    retried_by: str | None = None  # the next attempt's execution id, on a retried one

    @classmethod
    def of(cls, row: ExecutionLike) -> RunRecord:
        return cls(
            execution_id=row.execution_id,
            job_id=row.job_id,
            scheduled_at=row.scheduled_at,
            status=ExecutionStatus(row.status_id),
            trigger=row.trigger,
            coalesced_count=row.coalesced_count,
            coalesced_from=row.coalesced_from,
            error_message=row.error_message,
            started_at=row.started_at,
            attempt=row.attempt,
            retried_by=row.retried_by,
        )


@dataclass(frozen=True, slots=True)
class TaskStart:
    """One line of the start log: ``<execution_id> <job_id> <scheduled_at> <start unix time> <pid>``."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    started: datetime
    pid: int

    @classmethod
    def parse(cls, line: str) -> TaskStart:
        execution_id, job_id, scheduled_at, started, pid = line.split()[:5]
        return cls(
            execution_id=execution_id,
            job_id=int(job_id),
            scheduled_at=datetime.fromisoformat(scheduled_at).astimezone(UTC),
            started=datetime.fromtimestamp(float(started), UTC),
            pid=int(pid),
        )


def read_starts(*paths: Path) -> list[TaskStart]:
    """Every start recorded in the given log files (missing files have none)."""
    return [
        TaskStart.parse(line)
        for path in paths
        if path.exists()
        for line in path.read_text().splitlines()
        if line.strip()
    ]


@dataclass(frozen=True, slots=True)
class Finding:
    job_id: int
    scheduled_at: datetime
    detail: str

    def __str__(self) -> str:
        return f"job {self.job_id} slot {self.scheduled_at.isoformat()}: {self.detail}"


@dataclass
class Report:
    expected: int = 0  # slots in the windows
    outcomes: Counter[str] = field(default_factory=Counter)  # expected slots by the status that accounts for them
    lost: list[Finding] = field(default_factory=list)
    duplicated: list[Finding] = field(default_factory=list)
    unexpected: list[Finding] = field(default_factory=list)
    late: list[Finding] = field(default_factory=list)
    max_lateness_s: float | None = None  # of every run with a start, whatever the bound
    starts: int = 0

    @property
    def valid(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.late)

    def __str__(self) -> str:
        lateness = "n/a" if self.max_lateness_s is None else f"{self.max_lateness_s:.3f} s"
        lines = [
            f"{self.expected} expected slots, outcomes {dict(sorted(self.outcomes.items()))}, {self.starts} task "
            f"starts, max lateness {lateness}; lost {len(self.lost)}, duplicated {len(self.duplicated)}, "
            f"unexpected {len(self.unexpected)}, late {len(self.late)}"
        ]
        for name in ("lost", "duplicated", "unexpected", "late"):
            findings: list[Finding] = getattr(self, name)
            lines += [f"  {name}: {finding}" for finding in findings[:SHOWN_PER_CATEGORY]]
            if len(findings) > SHOWN_PER_CATEGORY:
                lines.append(f"  {name}: ... and {len(findings) - SHOWN_PER_CATEGORY} more")
        return "\n".join(lines)


def _slots(job: ExpectedJob, until: datetime) -> list[datetime]:
    return fire_times_between(job.schedule, job.first_slot, until, limit=MAX_SLOTS, anchor=job.first_slot)


def check(
    jobs: Iterable[ExpectedJob],
    records: Iterable[RunRecord],
    starts: Iterable[TaskStart] = (),
    *,
    late_bound_s: float | None = None,
) -> Report:
    """Check a history; see the module docstring for what each category means."""
    report = Report()
    by_job = {job.job_id: job for job in jobs}
    records = list(records)
    starts = list(starts)
    report.starts = len(starts)
    by_execution = {record.execution_id: record for record in records}

    # Every slot of each job's schedule up to its window end or its latest row, whichever is later.
    latest: dict[int, datetime] = {}
    for record in records:
        latest[record.job_id] = max(latest.get(record.job_id, record.scheduled_at), record.scheduled_at)
    on_schedule: dict[int, list[datetime]] = {
        job.job_id: _slots(job, max(job.until, latest.get(job.job_id, job.until))) for job in by_job.values()
    }
    on_schedule_sets = {job_id: set(slots) for job_id, slots in on_schedule.items()}

    # A slot's attempts, by (job, slot of the row): a retry keeps its first attempt's scheduled_at.
    attempts: dict[tuple[int, datetime], list[RunRecord]] = defaultdict(list)
    for record in records:
        if record.trigger != Trigger.MANUAL:
            attempts[(record.job_id, record.scheduled_at)].append(record)

    # Which first attempts stand for which slots.
    coverage: dict[tuple[int, datetime], list[RunRecord]] = defaultdict(list)
    for record in records:
        if record.trigger == Trigger.MANUAL or record.attempt != 1:
            # A manual run is not a slot of the schedule (only its starts are checked); a retry is in its chain.
            continue
        job = by_job.get(record.job_id)
        if job is None:
            report.unexpected.append(Finding(record.job_id, record.scheduled_at, "row for a job not in the history"))
            continue
        if record.scheduled_at not in on_schedule_sets[job.job_id]:
            report.unexpected.append(
                Finding(record.job_id, record.scheduled_at, f"row {record.execution_id} is not on the job's schedule")
            )
            continue
        covered = [record.scheduled_at]
        if record.coalesced_count != 1 or record.coalesced_from is not None:
            earliest = record.coalesced_from or record.scheduled_at
            covered = [slot for slot in on_schedule[job.job_id] if earliest <= slot <= record.scheduled_at]
            if earliest not in on_schedule_sets[job.job_id] or len(covered) != record.coalesced_count:
                report.unexpected.append(
                    Finding(
                        record.job_id,
                        record.scheduled_at,
                        f"row {record.execution_id} says it stands for {record.coalesced_count} slots from "
                        f"{earliest.isoformat()}, the schedule has {len(covered)} there",
                    )
                )
                continue
        for slot in covered:
            coverage[(record.job_id, slot)].append(record)

    for (job_id, slot), covering in sorted(coverage.items()):
        if len(covering) > 1:
            rows = ", ".join(f"{r.execution_id} ({r.status.name.lower()})" for r in covering)
            report.duplicated.append(Finding(job_id, slot, f"{len(covering)} execution rows: {rows}"))
    finals: dict[str, RunRecord] = {}  # first attempt's execution id -> the chain's final attempt
    for (job_id, slot), chain in sorted(attempts.items()):
        problem = _chain_problem(chain)
        if problem is not None:
            report.unexpected.append(Finding(job_id, slot, problem))
        first = next((r for r in chain if r.attempt == 1), None)
        if first is not None:
            finals[first.execution_id] = max(chain, key=lambda r: r.attempt)

    # Task starts: each must belong to a row of its slot, and a slot starts once.
    starts_by_execution: dict[str, list[TaskStart]] = defaultdict(list)
    starts_by_slot: dict[tuple[int, datetime], list[TaskStart]] = defaultdict(list)
    for start in starts:
        starts_by_slot[(start.job_id, start.scheduled_at)].append(start)
        starts_by_execution[start.execution_id].append(start)
        owner = by_execution.get(start.execution_id)
        if owner is None:
            report.unexpected.append(
                Finding(start.job_id, start.scheduled_at, f"task started for {start.execution_id}, which has no row")
            )
        elif (owner.job_id, owner.scheduled_at) != (start.job_id, start.scheduled_at):
            report.unexpected.append(
                Finding(
                    start.job_id,
                    start.scheduled_at,
                    f"task started for {start.execution_id}, whose row is job {owner.job_id} slot "
                    f"{owner.scheduled_at.isoformat()}",
                )
            )
        elif owner.status in _NOT_STARTED:
            report.unexpected.append(
                Finding(
                    start.job_id,
                    start.scheduled_at,
                    f"task started for {start.execution_id}, recorded {owner.status.name.lower()} (never started)",
                )
            )
    for execution_id, run_starts in sorted(starts_by_execution.items()):
        if len(run_starts) > 1:
            first_start = run_starts[0]
            detail = ", ".join(f"at {s.started.isoformat()} pid {s.pid}" for s in run_starts)
            report.duplicated.append(
                Finding(
                    first_start.job_id,
                    first_start.scheduled_at,
                    f"task started {len(run_starts)} times for {execution_id}: {detail}",
                )
            )

    # Lost: each expected slot of the window must be accounted for.
    for job in by_job.values():
        for slot in on_schedule[job.job_id]:
            if slot > job.until:
                break
            report.expected += 1
            covering = [finals.get(r.execution_id, r) for r in coverage.get((job.job_id, slot), [])]
            problems = [_unaccounted(job, record, starts_by_execution) for record in covering]
            good = [record for record, problem in zip(covering, problems, strict=True) if problem is None]
            if good:
                report.outcomes[good[0].status.name.lower()] += 1
                continue
            reason = "; ".join(p for p in problems if p) or "no execution row"
            report.lost.append(Finding(job.job_id, slot, reason))

    # Lateness: when each run started, by the task's own clock where it logged, else the database's.
    for record in records:
        first_starts = starts_by_execution.get(record.execution_id)
        if first_starts:
            started = min(s.started for s in first_starts)
        elif record.started_at is not None:
            started = record.started_at
        else:
            continue
        lateness = (started - record.scheduled_at).total_seconds()
        report.max_lateness_s = lateness if report.max_lateness_s is None else max(report.max_lateness_s, lateness)
        late_by_design = record.trigger != Trigger.SCHEDULE or record.attempt > 1
        if late_bound_s is not None and lateness > late_bound_s and not late_by_design:
            report.late.append(
                Finding(
                    record.job_id,
                    record.scheduled_at,
                    f"{record.execution_id} started {lateness:.3f} s after its slot (bound {late_bound_s:g} s)",
                )
            )
    return report


def _chain_problem(chain: list[RunRecord]) -> str | None:
    """Why a slot's rows are not one chain of attempts, or None: attempts 1..n, once each, every one but the last
    failed and linked by retried_by to the next, the last not linked."""
    ordered = sorted(chain, key=lambda r: r.attempt)
    numbers = [r.attempt for r in ordered]
    if numbers != list(range(1, len(ordered) + 1)):
        if len(set(numbers)) != len(numbers) and numbers.count(1) <= 1:
            return f"attempts {numbers}: an attempt twice"
        if numbers.count(1) > 1:
            return None  # two first attempts: reported as duplicated
        return f"attempts {numbers}: not 1..{len(ordered)}"
    for earlier, later in itertools.pairwise(ordered):
        if earlier.retried_by != later.execution_id:
            return f"attempt {earlier.attempt} links to {earlier.retried_by}, not to {later.execution_id}"
        if earlier.status != ExecutionStatus.FAILED:
            ended = earlier.status.name.lower()
            return f"attempt {earlier.attempt} ({earlier.execution_id}) was retried but ended {ended}"
    if ordered[-1].retried_by is not None:
        return f"final attempt {ordered[-1].attempt} links to a retry {ordered[-1].retried_by} that has no row"
    return None


def _unaccounted(job: ExpectedJob, record: RunRecord, starts: dict[str, list[TaskStart]]) -> str | None:
    """Why this row does not account for its slot, or None if it does."""
    if record.status in _OPEN:
        return f"row {record.execution_id} still {record.status.name.lower()} at the end"
    if record.status in _NEED_REASON and not (record.error_message or "").strip():
        return f"row {record.execution_id} {record.status.name.lower()} without a reason"
    if record.status == ExecutionStatus.SUCCESS and job.tracks_starts and not starts.get(record.execution_id):
        return f"row {record.execution_id} recorded success but its task never started"
    return None


def records_of(rows: Sequence[ExecutionLike]) -> list[RunRecord]:
    return [RunRecord.of(row) for row in rows]
