"""Reading the task's start records and judging them against the expected slots.

A record names (job_id, slot, start). It is matched to the job's slot index k = round((slot - first) / period);
a slot more than 1 ms off the job's grid is counted as `off_grid` (a system inventing slots). Lateness is the
first start minus the slot; a second start of the same (job, k) is a duplicate; an expected slot with no start
and nothing the system recorded about it (missed, skipped, coalesced) is missing."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness.model import Accounted, JobSpec

GRID_TOLERANCE_S = 0.001
#: Accounted.reason of a slot the system has written down but not started yet when it was stopped
PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Record:
    job_id: int
    slot: float
    start: float


class RecordReader:
    """Reads the per-process record files incrementally (only complete lines)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._offsets: dict[Path, int] = {}
        self.records: list[Record] = []

    def poll(self) -> int:
        """Read what was appended since the last poll; returns how many records were new."""
        before = len(self.records)
        for path in sorted(self._directory.glob("*.log")):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            end = chunk.rfind(b"\n")
            if end < 0:
                continue
            self._offsets[path] = offset + end + 1
            for line in chunk[: end + 1].splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    self.records.append(Record(int(parts[0]), float(parts[1]), float(parts[2])))
        return len(self.records) - before


@dataclass(slots=True)
class Judgement:
    expected: int = 0
    started: int = 0
    lateness_s: list[float] = field(default_factory=list)  # one per started expected slot
    last_start: float | None = None  # of the expected slots
    duplicates: int = 0  # over every record, measured window or not
    missing: int = 0
    accounted: int = 0  # recorded as missed / skipped / coalesced
    pending: int = 0  # written by the system but not started when it was stopped (late, not lost)
    off_grid: int = 0
    unknown_job: int = 0


def slot_index(job: JobSpec, slot: float) -> int | None:
    k = round((slot - job.first) / job.period)
    if k < 0 or abs(job.first + k * job.period - slot) > GRID_TOLERANCE_S:
        return None
    return k


def expected_indices(job: JobSpec, start: float, end: float) -> range:
    """Slot indices k with start <= first + k * period < end."""
    k0 = max(0, math.ceil((start - job.first) / job.period - 1e-9))
    k1 = max(0, math.ceil((end - job.first) / job.period - 1e-9))
    return range(k0, k1)


def judge(
    jobs: Sequence[JobSpec], records: Iterable[Record], accounted: Iterable[Accounted], start: float, end: float
) -> Judgement:
    """Measured slots are those in [start, end)."""
    by_id = {job.job_id: job for job in jobs}
    result = Judgement()
    first_start: dict[tuple[int, int], float] = {}
    for record in records:
        job = by_id.get(record.job_id)
        if job is None:
            result.unknown_job += 1
            continue
        k = slot_index(job, record.slot)
        if k is None:
            result.off_grid += 1
            continue
        key = (record.job_id, k)
        if key in first_start:
            result.duplicates += 1
            first_start[key] = min(first_start[key], record.start)
        else:
            first_start[key] = record.start
    covered: dict[tuple[int, int], str] = {}
    for item in accounted:
        job = by_id.get(item.job_id)
        if job is not None and (k := slot_index(job, item.slot)) is not None:
            covered[(item.job_id, k)] = item.reason
    for job in jobs:
        for k in expected_indices(job, start, end):
            result.expected += 1
            key = (job.job_id, k)
            started = first_start.get(key)
            if started is not None:
                result.started += 1
                result.lateness_s.append(started - (job.first + k * job.period))
                result.last_start = started if result.last_start is None else max(result.last_start, started)
            elif key in covered:
                if covered[key] == PENDING:
                    result.pending += 1
                else:
                    result.accounted += 1
            else:
                result.missing += 1
    return result


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
