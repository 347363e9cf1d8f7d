"""What a channel receives: the envelope as compact JSON with sorted keys (the same bytes on every attempt), or a
Slack-compatible {"text"} saying what happened in one line, for every event type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import get_args

import pytest

from scheduler_core.notifications import EVENT_TYPES, Event, EventType, envelope, render_body, summary
from scheduler_core.schemas.notifications import EventTypeName

AT = datetime(2027, 3, 27, 2, 0, 0, 123456, tzinfo=UTC)
JOB = {"id": 7, "nameEn": "Nightly export", "nameAr": "تصدير"}
DATA: dict[str, dict[str, object]] = {
    "run.failed": {"scheduledAt": "2027-03-27T02:00:00.000000Z", "attempt": 3, "error": "RuntimeError: boom\ntrace"},
    "run.missed": {"scheduledAt": "2027-03-27T02:00:00.000000Z", "error": "missed: claimed 90 s after its slot"},
    "run.skipped": {"scheduledAt": "2027-03-27T02:00:00.000000Z", "error": "skipped: 1 run already running"},
    "job.paused": {"reason": "paused after 3 failed slots in a row", "automatic": True},
    "job.recovered": {"scheduledAt": "2027-03-27T02:00:00.000000Z", "failingSince": "2027-03-26T02:00:00.000000Z"},
    "job.silent": {"expectSuccessWithinSeconds": 3600, "successExpectedBy": "2027-03-27T01:00:00.000000Z"},
    "executor.lost": {"instanceName": "executor@node-3", "hostName": "node-3", "lastHeartbeat": "2027-03-27T01:59Z"},
}


# What each type's text must say (from its data).
SAYS = {
    "run.failed": "failed after 3 attempts: RuntimeError: boom",
    "run.missed": "was missed: missed: claimed 90 s after its slot",
    "run.skipped": "was skipped: skipped: 1 run already running",
    "job.paused": "was paused: paused after 3 failed slots in a row",
    "job.recovered": "recovered: the run of 2027-03-27T02:00:00.000000Z succeeded (failing since 2027-03-26",
    "job.silent": "is silent: no success within 3600 s",
    "executor.lost": "executor executor@node-3 on node-3 was lost",
}


def test_the_envelope_carries_the_event_id_type_instant_job_and_data() -> None:
    event = Event(EventType.RUN_FAILED, AT, 7, {"attempt": 3})
    assert envelope("e-1", event, JOB) == {
        "id": "e-1",
        "type": "run.failed",
        "occurredAt": "2027-03-27T02:00:00.123456Z",
        "job": JOB,
        "data": {"attempt": 3},
    }


def test_a_json_body_is_the_envelope_as_the_same_bytes_every_time() -> None:
    payload = envelope("e-1", Event(EventType.JOB_PAUSED, AT, 7, {"reason": "by hand"}), JOB)
    body = render_body(payload, "json")
    assert json.loads(body) == payload
    assert body == render_body(dict(reversed(payload.items())), "json")  # keys sorted: the same bytes
    assert b", " not in body  # compact


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_slack_body_is_one_line_of_text_saying_what_happened(event_type: str) -> None:
    job = None if event_type == "executor.lost" else JOB
    payload = envelope("e-1", Event(EventType(event_type), AT, 7, DATA[event_type]), job)
    document = json.loads(render_body(payload, "slack"))
    assert list(document) == ["text"]
    text = document["text"]
    assert text == summary(payload)
    assert "\n" not in text
    assert text.startswith("[jobscheduler] ")
    if job is not None:
        assert "job 7 (Nightly export)" in text
    assert SAYS[event_type] in text, text


def test_the_api_schema_names_exactly_the_event_types_there_are() -> None:
    assert get_args(EventTypeName) == EVENT_TYPES
