"""The body a channel receives for an event: the envelope as JSON (format json), or a Slack-compatible
{"text": ...} (format slack: Slack's, Mattermost's and Rocket.Chat's incoming webhooks take it). Rendered the same
way for every attempt, so a retried delivery carries the same bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from scheduler_core.notifications.events import ChannelFormat, EventType

# Characters of an error message quoted in a Slack text.
ERROR_QUOTE_MAX: Final = 300


def render_body(payload: Mapping[str, Any], format: ChannelFormat | str) -> bytes:
    """The bytes POSTed for an event's envelope, in the channel's format."""
    document: Mapping[str, Any] = {"text": summary(payload)} if format == "slack" else payload
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _job_words(payload: Mapping[str, Any]) -> str:
    job = payload.get("job")
    if not isinstance(job, Mapping):
        return ""
    name = job.get("nameEn") or job.get("nameAr")
    return f"job {job.get('id')}" + (f" ({name})" if name else "")


def _error(data: Mapping[str, Any]) -> str:
    error = str(data.get("error") or "").strip().splitlines()
    if not error:
        return ""
    first = error[0]
    return ": " + (first if len(first) <= ERROR_QUOTE_MAX else first[: ERROR_QUOTE_MAX - 1] + "…")


def summary(payload: Mapping[str, Any]) -> str:
    """One line saying what happened, for people (a chat message)."""
    kind = str(payload.get("type", ""))
    data = payload.get("data")
    data = data if isinstance(data, Mapping) else {}
    job = _job_words(payload)
    slot = data.get("scheduledAt")
    if kind == EventType.RUN_FAILED:
        attempt = data.get("attempt")
        attempts = f" after {attempt} attempts" if isinstance(attempt, int) and attempt > 1 else ""
        text = f"{job}: the run of {slot} failed{attempts}{_error(data)}"
    elif kind == EventType.RUN_MISSED:
        text = f"{job}: the run of {slot} was missed{_error(data)}"
    elif kind == EventType.RUN_SKIPPED:
        text = f"{job}: the run of {slot} was skipped{_error(data)}"
    elif kind == EventType.JOB_PAUSED:
        text = f"{job} was paused: {data.get('reason') or 'by an operator'}"
    elif kind == EventType.JOB_RECOVERED:
        text = f"{job} recovered: the run of {slot} succeeded (failing since {data.get('failingSince')})"
    elif kind == EventType.JOB_SILENT:
        text = (
            f"{job} is silent: no success within {data.get('expectSuccessWithinSeconds')} s "
            f"(a success was due by {data.get('successExpectedBy')})"
        )
    elif kind == EventType.EXECUTOR_LOST:
        host, heartbeat = data.get("hostName"), data.get("lastHeartbeat")
        text = f"executor {data.get('instanceName') or data.get('instanceId')}" + (f" on {host}" if host else "")
        text += " was lost" + (f" (last heartbeat {heartbeat})" if heartbeat else "")
    else:
        text = f"{kind} {job}".strip()
    return f"[jobscheduler] {text}"
