"""`jobscheduler jobs …`: everyday operations against a running API, with readable tables."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table

from scheduler_cli.settings import load_settings
from scheduler_core.auth.tokens import NoSecretConfigured, jwt_secret, mint_super_admin_token
from scheduler_core.settings import Settings

jobs_app = typer.Typer(help="List, create, trigger, pause/resume jobs and tail their history.", no_args_is_help=True)
console = Console()

API_PREFIX = "/api/v1/scheduler"
# "30s", "5m", "2h", "1d" -> the API's interval field.
DURATION = re.compile(r"^(\d+)([smhd])$")
UNIT_FIELD = {"s": "intervalSeconds", "m": "intervalMinutes", "h": "intervalHours", "d": "intervalDays"}
# Seconds between polls of `history --follow`.
FOLLOW_POLL_S = 2.0


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self._base = settings.api_url.rstrip("/") + API_PREFIX
        self._token = settings.api_token or self._local_token(settings)

    @staticmethod
    def _local_token(settings: Settings) -> str:
        try:
            return mint_super_admin_token(settings, jwt_secret(settings, generate=False))
        except NoSecretConfigured:
            fail("no token: set SCHEDULER_API_TOKEN (or SCHEDULER_JWT_SECRET, or run from the embedded data dir)")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = httpx.request(
                method,
                self._base + path,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=30,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach the API at {self._base}: {exc}")
        if response.is_error:
            fail(f"{method} {path} -> {response.status_code}: {describe_error(response)}")
        return response.json() if response.content else None


def describe_error(response: httpx.Response) -> str:
    """The API's error body in one line: field-level reasons where it gives them."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                field = item.get("field") or ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{field}: {item.get('message') or item.get('msg')}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, dict):
        return str(detail.get("message") or detail)
    return str(detail)


def client() -> ApiClient:
    return ApiClient(load_settings())


def items_of(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict) and "items" in payload:
        return list(payload["items"])
    return list(payload)


def schedule_words(job: dict[str, Any]) -> str:
    if job.get("scheduleDescription"):
        return str(job["scheduleDescription"])
    if job.get("cronExpression"):
        return f"cron {job['cronExpression']} ({job.get('timezone') or 'UTC'})"
    parts = [
        f"{job[f]}{u}"
        for f, u in (("intervalDays", "d"), ("intervalHours", "h"), ("intervalMinutes", "m"), ("intervalSeconds", "s"))
        if job.get(f)
    ]
    return "every " + " ".join(parts)


def state_words(job: dict[str, Any]) -> str:
    states = ["enabled" if job.get("isEnabled") else "disabled"]
    if job.get("isPaused"):
        states.append("paused")
    if job.get("isPrimary"):
        states.append("primary")
    return ", ".join(states)


@jobs_app.command("list")
def list_jobs(
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=100)] = 20,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", help="Only enabled/disabled jobs.")] = None,
) -> None:
    """Jobs as a table."""
    params: dict[str, Any] = {"page": page, "per_page": per_page}
    if enabled is not None:
        params["is_enabled"] = str(enabled).lower()
    payload = client().request("GET", "/jobs", params=params)
    table = Table("id", "name", "task", "schedule", "next run", "last run", "prio", "state")
    for job in payload["items"]:
        table.add_row(
            str(job["id"]),
            job.get("nameEn") or "",
            job.get("taskFunctionKey") or "",
            schedule_words(job),
            job.get("nextRunAt") or "-",
            job.get("lastRunAt") or "-",
            str(job.get("priority", 0)),
            state_words(job),
        )
    console.print(table)
    console.print(f"page {payload['page']}/{max(payload['totalPages'], 1)}, {payload['total']} jobs")


@jobs_app.command("show")
def show(job_id: int) -> None:
    """One job, as JSON."""
    typer.echo(json.dumps(client().request("GET", f"/jobs/{job_id}"), indent=2, ensure_ascii=False))


@jobs_app.command("create")
def create(
    task: Annotated[str | None, typer.Option(help="Task function key (e.g. http_request) or id.")] = None,
    name: Annotated[str | None, typer.Option(help="English name.")] = None,
    every: Annotated[str | None, typer.Option(help="Interval: 30s, 5m, 2h or 1d.")] = None,
    cron: Annotated[str | None, typer.Option(help="Cron expression, e.g. '0 2 * * *'.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone of the cron expression.")] = None,
    priority: Annotated[int | None, typer.Option()] = None,
    max_instances: Annotated[int | None, typer.Option()] = None,
    grace: Annotated[int | None, typer.Option(help="Misfire grace time, seconds.")] = None,
    params: Annotated[str | None, typer.Option(help="Task parameters as a JSON object.")] = None,
    file: Annotated[Path | None, typer.Option(help="Job definition as JSON (the API's create body).")] = None,
) -> None:
    """Create a job from flags or from a JSON file."""
    api = client()
    body: dict[str, Any] = {}
    if file is not None:
        try:
            body = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            fail(f"--file: {exc}")
        if not isinstance(body, dict):
            fail("--file: the JSON must be an object")
    if task is not None:
        body["taskFunctionId"] = resolve_task(api, task)
    if "taskFunctionId" not in body:
        fail("--task is required (or taskFunctionId in --file)")
    if every is not None:
        match = DURATION.match(every.strip())
        if match is None:
            fail(f"--every: {every!r} is not like 30s, 5m, 2h or 1d")
        body[UNIT_FIELD[match.group(2)]] = int(match.group(1))
    extra = {
        "nameEn": name,
        "cronExpression": cron,
        "timezone": timezone,
        "priority": priority,
        "maxInstances": max_instances,
        "misfireGraceTime": grace,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    if params is not None:
        try:
            body["parameters"] = json.loads(params)
        except ValueError as exc:
            fail(f"--params: not JSON: {exc}")
    job = api.request("POST", "/jobs", json=body)
    typer.echo(f"created job {job['id']} ({schedule_words(job)}), next run {job.get('nextRunAt') or '-'}")


def resolve_task(api: ApiClient, task: str) -> int:
    if task.isdigit():
        return int(task)
    for function in items_of(api.request("GET", "/task-functions")):
        if function.get("key") == task:
            return int(function["id"])
    fail(f"--task: no task function with key {task!r} (see GET /task-functions)")


def _action(job_id: int, action: str) -> None:
    result = client().request("POST", f"/jobs/{job_id}/action", json={"action": action})
    line = result.get("message", action)
    if result.get("executionId"):
        line += f" (execution {result['executionId']})"
    typer.echo(line)


@jobs_app.command()
def trigger(job_id: int) -> None:
    """Run the job now."""
    _action(job_id, "trigger")


@jobs_app.command()
def pause(job_id: int) -> None:
    """Suspend the job's schedule without disabling it."""
    _action(job_id, "pause")


@jobs_app.command()
def resume(job_id: int) -> None:
    """Resume a paused job from its next slot."""
    _action(job_id, "resume")


@jobs_app.command()
def enable(job_id: int) -> None:
    """Enable the job."""
    _action(job_id, "enable")


@jobs_app.command()
def disable(job_id: int) -> None:
    """Disable the job."""
    _action(job_id, "disable")


@jobs_app.command()
def delete(job_id: int, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete the job (soft delete; its history stays)."""
    if not yes:
        typer.confirm(f"Delete job {job_id}?", abort=True)
    client().request("DELETE", f"/jobs/{job_id}")
    typer.echo(f"deleted job {job_id}")


@jobs_app.command()
def history(
    job_id: Annotated[int | None, typer.Argument(help="Job id; omit for all jobs.")] = None,
    status: Annotated[int | None, typer.Option(help="Only this status id (3 success, 4 failed, ...).")] = None,
    per_page: Annotated[int, typer.Option(min=1, max=100)] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new runs.")] = False,
) -> None:
    """Recent runs, newest first (or followed as they happen)."""
    api = client()
    path = f"/jobs/{job_id}/history" if job_id is not None else "/history"
    params: dict[str, Any] = {"page": 1, "per_page": per_page}
    if status is not None:
        params["status_id"] = status
    seen: dict[str, str] = {}
    while True:
        rows = items_of(api.request("GET", path, params=params))
        fresh = [r for r in reversed(rows) if seen.get(r["executionId"]) != r["statusName"]]
        if fresh or not follow:
            table = Table("job", "scheduled", "started", "status", "ms", "result / error")
            for row in fresh if follow else rows:
                table.add_row(
                    str(row["jobId"]),
                    row["scheduledAt"],
                    row.get("startedAt") or "-",
                    row["statusName"],
                    str(row.get("durationMs") or "-"),
                    (row.get("resultSummary") or row.get("errorMessage") or "")[:80],
                )
            console.print(table)
        for row in rows:
            seen[row["executionId"]] = row["statusName"]
        if not follow:
            return
        time.sleep(FOLLOW_POLL_S)
