"""When task code of a run was really running, from the activity log the `work` tasks append to (a line at
their start, at every tick, at their end: tests/support/tasks.py), and which runs of one job overlapped.

A run's activity is the span from its first line to its last. A run frozen by SIGSTOP and ended by its fence
after it resumed logs nothing while frozen and nothing after its end: its span stops at its last sign of life,
which is what "task code ran" means. Two runs of a job overlap by how much their spans intersect. `read_segments`
also cuts a span where the run was silent (frozen), for runs whose task may log once more after resuming."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Activity:
    execution_id: str
    job_id: int
    first: float  # unix time of its first line
    last: float  # unix time of its last line
    ended: bool  # it logged its end
    pid: int


@dataclass(frozen=True, slots=True)
class Overlap:
    job_id: int
    earlier: Activity
    later: Activity
    seconds: float

    def __str__(self) -> str:
        return (
            f"job {self.job_id}: runs {self.earlier.execution_id} (pid {self.earlier.pid}) and "
            f"{self.later.execution_id} (pid {self.later.pid}) ran together for {self.seconds:.3f} s"
        )


def _lines(paths: tuple[Path, ...]) -> Iterator[tuple[str, int, str, float, int]]:
    """(execution id, job id, event, unix time, pid) of every activity line."""
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            yield parts[0], int(parts[1]), parts[2], float(parts[3]), int(parts[4])


def read_activity(*paths: Path) -> dict[str, Activity]:
    spans: dict[str, tuple[int, float, float, bool, int]] = {}
    for execution_id, job_id, event, at, pid in _lines(paths):
        if execution_id in spans:
            _, first, last, ended, _ = spans[execution_id]
            spans[execution_id] = (job_id, min(first, at), max(last, at), ended or event == "end", pid)
        else:
            spans[execution_id] = (job_id, at, at, event == "end", pid)
    return {eid: Activity(eid, *span) for eid, span in spans.items()}


def read_segments(*paths: Path, silence: float) -> dict[str, Activity]:
    """Like read_activity, but a run's span is cut wherever it logged nothing for longer than `silence` seconds (its
    process was frozen: SIGSTOP), so that the time a paused run did not run does not count as running. A task in a
    thread may log a tick when its process resumes, before the watchdog ends the process: read_activity would count
    the whole pause as overlap with the run that started meanwhile, where task code overlapped for that tick only.
    Each piece is an Activity keyed "<execution_id>/<n>" (n from 0); `ended` is set on the piece with the end."""
    lines: dict[str, list[tuple[float, int, str, int]]] = {}
    for execution_id, job_id, event, at, pid in _lines(paths):
        lines.setdefault(execution_id, []).append((at, job_id, event, pid))
    pieces: dict[str, Activity] = {}
    for execution_id, events in lines.items():
        events.sort()
        start, count = 0, 0
        for index in range(1, len(events) + 1):
            if index == len(events) or events[index][0] - events[index - 1][0] > silence:
                piece = events[start:index]
                first, job_id, _, pid = piece[0]
                ended = any(event == "end" for _, _, event, _ in piece)
                pieces[f"{execution_id}/{count}"] = Activity(execution_id, job_id, first, piece[-1][0], ended, pid)
                start, count = index, count + 1
    return pieces


def concurrency_breaches(
    activity: dict[str, Activity], max_instances: dict[int, int], tolerance: float
) -> list[Overlap]:
    """Where more than max_instances runs of a job were active at once for longer than `tolerance` seconds: for
    max_instances 1, every pair of runs that overlapped by more; above it, the runs that made a job's count
    exceed it (reported against the run they overlapped with most)."""
    by_job: dict[int, list[Activity]] = defaultdict(list)
    for run in activity.values():
        by_job[run.job_id].append(run)
    found = []
    for job_id, runs in by_job.items():
        limit = max_instances.get(job_id, 1)
        runs.sort(key=lambda run: run.first)
        for index, run in enumerate(runs):
            overlapping = [
                (min(run.last, other.last) - run.first, other)
                for other in runs[:index]
                if min(run.last, other.last) - run.first > tolerance
            ]
            if len(overlapping) >= limit:
                seconds, other = max(overlapping, key=lambda pair: pair[0])
                found.append(Overlap(job_id, other, run, seconds))
    return found


def longest_overlap(activity: dict[str, Activity], max_instances: dict[int, int]) -> float:
    """The longest time (seconds) any job ran more than max_instances runs at once; 0 if never."""
    breaches = concurrency_breaches(activity, max_instances, 0.0)
    return max((breach.seconds for breach in breaches), default=0.0)
