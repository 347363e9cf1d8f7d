"""Built-in task functions: an HTTP request (what most operators schedule), the execution-history cleanup
(the seeded primary job), and noop/sleep/fail for demos and tests."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from scheduler_core.retention import (
    DEFAULT_RETENTION_DAYS,
    CleanupRunning,
    cleanup_entry,
    purge_deliveries,
    purge_history,
)
from scheduler_core.store import SCHEDULER_ACTOR_NAME, Actor
from scheduler_core.tasks.registry import NoParameters, TaskContext, TaskRouter

tasks = TaskRouter()

# Bytes of a response body kept in the run's result summary.
RESPONSE_EXCERPT_BYTES = 200


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@tasks.task(
    "noop",
    name_en="No operation",
    name_ar="بدون عملية",
    description_en="Does nothing and succeeds; for trying the scheduler out.",
    description_ar="لا يفعل شيئًا وينجح؛ لتجربة المجدول.",
)
async def noop(ctx: TaskContext, params: NoParameters) -> str:
    return "nothing to do"


class SleepParams(Strict):
    seconds: float = Field(default=1.0, ge=0, le=86_400, description="How long to sleep, in seconds.")


@tasks.task(
    "sleep",
    name_en="Sleep",
    name_ar="انتظار",
    parameters=SleepParams,
    description_en="Sleeps for the given number of seconds, then succeeds.",
    description_ar="ينتظر عدد الثواني المحدد ثم ينجح.",
)
async def sleep(ctx: TaskContext, params: SleepParams) -> str:
    await asyncio.sleep(params.seconds)
    return f"slept {params.seconds:g} s"


class FailParams(Strict):
    message: str = Field(default="failed on purpose", max_length=1000)


class TaskFailed(RuntimeError):
    """Raised by the `fail` task."""


@tasks.task(
    "fail",
    name_en="Fail",
    name_ar="فشل",
    parameters=FailParams,
    description_en="Always raises; for testing alerts and history.",
    description_ar="يفشل دائمًا؛ لاختبار التنبيهات والسجل.",
)
async def fail(ctx: TaskContext, params: FailParams) -> str:
    raise TaskFailed(params.message)


class HttpRequestParams(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    # The pattern puts the scheme rule in the task's JSON schema, which the API checks jobs against.
    url: HttpUrl = Field(
        description="http or https URL; it must resolve to a public address unless SCHEDULER_OUTBOUND_ALLOW allows it.",
        json_schema_extra={"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"},
    )
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = Field(default=None, description="Request body, sent as is.")
    json_body: dict[str, object] | list[object] | None = Field(default=None, description="Body sent as JSON.")
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)


class HttpStatusError(RuntimeError):
    """The HTTP task got a response outside 2xx."""


@tasks.task(
    "http_request",
    name_en="HTTP request",
    name_ar="طلب HTTP",
    parameters=HttpRequestParams,
    description_en="Sends an HTTP request; the run fails unless the response status is 2xx.",
    description_ar="يرسل طلب HTTP؛ يفشل التشغيل ما لم تكن حالة الاستجابة 2xx.",
)
async def http_request(ctx: TaskContext, params: HttpRequestParams) -> str:
    """Through the outbound guard: only public addresses (or those SCHEDULER_OUTBOUND_ALLOW allows), each redirect
    (up to 5) checked again."""
    headers = {"X-Scheduler-Execution-Id": ctx.execution_id, **params.headers}
    async with ctx.outbound.client(timeout=params.timeout_seconds) as client:
        response = await client.request(
            params.method,
            str(params.url),
            headers=headers,
            content=params.body,
            json=params.json_body,
        )
    excerpt = response.text[:RESPONSE_EXCERPT_BYTES]
    summary = f"{params.method} {params.url} -> {response.status_code}"
    if not response.is_success:
        raise HttpStatusError(f"{summary}: {excerpt}")
    return summary


class CleanupParams(Strict):
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, ge=0, le=36_500)


@tasks.task(
    "cleanup_history",
    name_en="Execution history cleanup",
    name_ar="تنظيف سجل التنفيذ",
    parameters=CleanupParams,
    description_en="Deletes finished executions older than the retention period (never running ones), notification "
    "deliveries of that age that are done (never one still to be sent), and audit rows older than "
    "SCHEDULER_AUDIT_RETENTION_DAYS.",
    description_ar="يحذف عمليات التنفيذ المنتهية الأقدم من فترة الاحتفاظ (لا يحذف الجارية) وسجلات التدقيق الأقدم "
    "من SCHEDULER_AUDIT_RETENTION_DAYS.",
)
async def cleanup_history(ctx: TaskContext, params: CleanupParams) -> str:
    # No token behind a scheduled run: the scheduler is the actor, and the run's execution id ties the audit row
    # to the run's log lines.
    actor = Actor(None, SCHEDULER_ACTOR_NAME, request_id=ctx.execution_id)
    try:
        purged = await purge_history(
            ctx.sessionmaker,
            ctx.store,
            params.retention_days,
            audit_retention_days=ctx.audit_retention_days,
            recorded_as=cleanup_entry(actor, params.retention_days, ctx.audit_retention_days),
        )
    except CleanupRunning:
        # The cleanup running (a POST /cleanup, or this job's previous run still going) does this run's work.
        return "Skipped: another history cleanup was running"
    await purge_deliveries(ctx.sessionmaker, ctx.store, params.retention_days)
    return (
        f"Cleaned up {purged.executions} execution records older than {params.retention_days} days "
        f"and {purged.audit_rows} audit records older than {ctx.audit_retention_days} days"
    )
