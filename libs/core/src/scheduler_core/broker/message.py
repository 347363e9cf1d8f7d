"""The run message and its wire format: :class:`RunMessage` (one run an executor is asked to do), its JSON
encoding, and the packing of several runs of one priority into one broker message (``{"runs": [...]}``).

The format is what every version of the timekeeper and the executor must agree on: decoding ignores unknown
keys, and a message of one run keeps the one-run format. A run carries its trace context (``traceparent``) only
when traces are on: each run of a packed message has its own trace.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from .errors import MessageDecodeError
from .limits import clamp_priority

# A W3C traceparent header of version 00 (https://www.w3.org/TR/trace-context/#traceparent-header).
TRACEPARENT: Final = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is never a sensible job id or priority.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class RunMessage:
    """Asks an executor to run one execution of a job.

    ``scheduled_at`` is normalised to UTC on construction; a naive datetime is rejected because the slot it
    names would be ambiguous. ``execution_id`` must parse as a UUID and is kept exactly as given.
    """

    execution_id: str
    """UUID of the ``scheduled_job_execution`` row (the deduplication key of consumers)."""
    job_id: int
    scheduled_at: datetime
    """The slot this run stands for, timezone-aware UTC."""
    priority: int
    """The job's priority: any int, higher runs first (brokers clamp it to ``0..max_priority``)."""
    traceparent: str | None = None
    """The W3C trace context of the run's trace (``00-<trace id>-<parent span id>-<flags>``) when traces are on
    (scheduler_core.observability.tracing); None otherwise, and then not on the wire at all."""

    def __post_init__(self) -> None:
        if not isinstance(self.execution_id, str):
            raise TypeError(f"execution_id must be a str, got {type(self.execution_id).__name__}")
        try:
            uuid.UUID(self.execution_id)
        except ValueError:
            raise ValueError(f"execution_id must be a UUID, got {self.execution_id!r}") from None
        if not _is_int(self.job_id):
            raise TypeError(f"job_id must be an int, got {type(self.job_id).__name__}")
        if not _is_int(self.priority):
            raise TypeError(f"priority must be an int, got {type(self.priority).__name__}")
        if not isinstance(self.scheduled_at, datetime):
            raise TypeError(f"scheduled_at must be a datetime, got {type(self.scheduled_at).__name__}")
        if self.scheduled_at.utcoffset() is None:
            raise ValueError(f"scheduled_at must be timezone-aware, got naive {self.scheduled_at.isoformat()}")
        if self.scheduled_at.tzinfo is not UTC:
            # frozen dataclass: the only way to normalise in place.
            object.__setattr__(self, "scheduled_at", self.scheduled_at.astimezone(UTC))

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one run (microsecond precision, explicit ``+00:00`` offset)."""
        encoded: dict[str, Any] = {
            "execution_id": self.execution_id,
            "job_id": self.job_id,
            "scheduled_at": self.scheduled_at.isoformat(),
            "priority": self.priority,
        }
        if self.traceparent is not None:
            encoded["traceparent"] = self.traceparent
        return encoded

    def encode(self) -> bytes:
        """Serialise this run alone to compact UTF-8 JSON (the body of a one-run message)."""
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> RunMessage:
        """Parse a body produced by :meth:`encode`.

        Unknown keys are ignored, so fields can be added without breaking consumers that are not upgraded yet.
        Raises :class:`MessageDecodeError` on anything else: not JSON, not an object, a missing or mistyped
        field, a naive or unparsable timestamp, an execution id that is not a UUID.
        """
        return cls.from_json(_load_json(body))

    @classmethod
    def from_json(cls, raw: Any) -> RunMessage:
        """Validate one run's JSON object (see :meth:`decode`)."""
        if not isinstance(raw, dict):
            raise MessageDecodeError(f"a run must be a JSON object, got {type(raw).__name__}")
        missing = sorted({"execution_id", "job_id", "scheduled_at", "priority"} - raw.keys())
        if missing:
            raise MessageDecodeError(f"missing field(s): {', '.join(missing)}")
        execution_id, job_id, scheduled_at, priority = (
            raw["execution_id"],
            raw["job_id"],
            raw["scheduled_at"],
            raw["priority"],
        )
        if not isinstance(execution_id, str):
            raise MessageDecodeError("execution_id must be a string")
        if not _is_int(job_id):
            raise MessageDecodeError("job_id must be an integer")
        if not _is_int(priority):
            raise MessageDecodeError("priority must be an integer")
        if not isinstance(scheduled_at, str):
            raise MessageDecodeError("scheduled_at must be an ISO 8601 string")
        try:
            when = datetime.fromisoformat(scheduled_at)
        except ValueError as exc:
            raise MessageDecodeError(f"scheduled_at is not ISO 8601: {scheduled_at!r}") from exc
        # A malformed trace context costs the run its trace, never the run itself: it is dropped.
        traceparent = raw.get("traceparent")
        if not (isinstance(traceparent, str) and TRACEPARENT.fullmatch(traceparent)):
            traceparent = None
        try:
            return cls(
                execution_id=execution_id, job_id=job_id, scheduled_at=when, priority=priority, traceparent=traceparent
            )
        except (TypeError, ValueError) as exc:
            raise MessageDecodeError(str(exc)) from exc


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MessageDecodeError(f"body is not JSON: {exc}") from exc


def encode_runs(runs: Sequence[RunMessage]) -> bytes:
    """The body of a broker message: one run as :meth:`RunMessage.encode`, several as ``{"runs": [...]}``.

    A single run keeps the one-run format, so executors of the previous version read it, and ones of this
    version read both."""
    if len(runs) == 1:
        return runs[0].encode()
    if not runs:
        raise ValueError("a message carries at least one run")
    return json.dumps({"runs": [run.to_json() for run in runs]}, separators=(",", ":")).encode()


def decode_runs(body: bytes) -> tuple[RunMessage, ...]:
    """Parse a body produced by :func:`encode_runs`; raises :class:`MessageDecodeError` (see
    :meth:`RunMessage.decode`). A body of several runs is rejected whole if any of them is invalid."""
    raw = _load_json(body)
    if isinstance(raw, dict) and "runs" in raw:
        runs = raw["runs"]
        if not isinstance(runs, list) or not runs:
            raise MessageDecodeError("runs must be a non-empty JSON array")
        return tuple(RunMessage.from_json(run) for run in runs)
    if not isinstance(raw, dict):
        raise MessageDecodeError(f"body must be a JSON object, got {type(raw).__name__}")
    return (RunMessage.from_json(raw),)


def pack_runs(
    runs: Sequence[RunMessage], *, runs_per_message: int, max_priority: int
) -> list[tuple[int, tuple[RunMessage, ...]]]:
    """Group runs into broker messages: (broker priority, runs), each with at most ``runs_per_message`` runs
    of one clamped priority, in publish order within a priority (priority, not order, decides across them)."""
    by_priority: dict[int, list[RunMessage]] = {}
    for run in runs:
        by_priority.setdefault(clamp_priority(run.priority, max_priority), []).append(run)
    return [
        (priority, tuple(group[start : start + runs_per_message]))
        for priority, group in by_priority.items()
        for start in range(0, len(group), runs_per_message)
    ]
