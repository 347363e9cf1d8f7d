"""`jobscheduler jobs …`: everyday operations on jobs against a running API, with readable tables. The commands on
a job's runs (history, cancel, rerun, backfill) and its schedule (preview) are in scheduler_cli.runs."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.table import Table

from scheduler_cli.client import ApiClient, ExitCode, client, fail, items_of, usage_error
from scheduler_cli.runs import register_run_commands

jobs_app = typer.Typer(
    help="List, create, update, trigger, pause/resume jobs; cancel, re-run and backfill their runs; tail their "
    "history.",
    no_args_is_help=True,
)
console = Console()

# "30s", "5m", "90s", "1h30m", "2d", "1d12h30m15s" -> the API's interval fields (which it sums): each unit at most
# once, largest first.
DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
# Runs of all jobs `jobs list` reads to find each listed job's newest run (the API's largest page).
LAST_RUNS_PAGE = 100
UNIT_FIELD = {"d": "intervalDays", "h": "intervalHours", "m": "intervalMinutes", "s": "intervalSeconds"}


class Overlap(StrEnum):
    """What a run due while the job has max_instances runs going does (the API's overlapPolicy)."""

    SKIP = "skip"
    QUEUE = "queue"
    REPLACE = "replace"


# The options create and update share (JobOptions' fields); each is sent only when given.
NameOption = Annotated[str | None, typer.Option(help="English name.")]
EveryOption = Annotated[
    str | None, typer.Option(help="Interval: 30s, 5m, 2h, 1d, or compound, largest unit first: 1h30m, 1d12h.")
]
CronOption = Annotated[str | None, typer.Option(help="Cron expression, e.g. '0 2 * * *'.")]
TimezoneOption = Annotated[str | None, typer.Option(help="IANA time zone of the cron expression.")]
PriorityOption = Annotated[int | None, typer.Option()]
MaxInstancesOption = Annotated[int | None, typer.Option(help="Runs of the job at once (1-10).")]
GraceOption = Annotated[int | None, typer.Option(help="Misfire grace time, seconds.")]
ParamsOption = Annotated[str | None, typer.Option(help="Task parameters as a JSON object.")]
MaxRetriesOption = Annotated[
    int | None, typer.Option("--max-retries", help="Attempts after a failed, timed-out or lost one (0-10).")
]
RetryDelayOption = Annotated[
    int | None, typer.Option("--retry-delay", help="Seconds from a failed attempt's end to the first retry.")
]
BackoffOption = Annotated[
    float | None, typer.Option("--backoff", help="Each further retry waits this many times longer (1-10).")
]
RetryMaxDelayOption = Annotated[
    int | None, typer.Option("--retry-max-delay", help="Seconds a retry waits at most (before up to 10 % jitter).")
]
OverlapOption = Annotated[
    Overlap | None,
    typer.Option(
        "--overlap",
        help="A run due while max_instances runs are going: skip it (recorded skipped), queue it (starts when "
        "a place frees, in slot order), or replace the oldest running run.",
    ),
]
PauseAfterOption = Annotated[
    int | None,
    typer.Option("--pause-after-failures", help="Pause the job after this many slots in a row failed; 0: never."),
]


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
        states.append("paused by failures" if job.get("pausedReason") else "paused")
    if job.get("isPrimary"):
        states.append("primary")
    return ", ".join(states)


@jobs_app.command("list")
def list_jobs(
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=100)] = 20,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", help="Only enabled/disabled jobs.")] = None,
) -> None:
    """Jobs as a table, with each job's last outcome: its newest run's status and when it ended (or started, or
    was due, while it has not)."""
    params: dict[str, Any] = {"page": page, "per_page": per_page}
    if enabled is not None:
        params["is_enabled"] = str(enabled).lower()
    api = client()
    payload = api.request("GET", "/jobs", params=params)
    last = last_runs(api, [int(job["id"]) for job in payload["items"]])
    table = Table("id", "name", "task", "schedule", "next run", "last outcome", "prio", "state")
    for job in payload["items"]:
        table.add_row(
            str(job["id"]),
            job.get("nameEn") or "",
            job.get("taskFunctionKey") or "",
            schedule_words(job),
            job.get("nextRunAt") or "-",
            outcome_words(last.get(int(job["id"]))),
            str(job.get("priority", 0)),
            state_words(job),
        )
    console.print(table)
    console.print(f"page {payload['page']}/{max(payload['totalPages'], 1)}, {payload['total']} jobs")


def last_runs(api: ApiClient, job_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The newest run of each job, by job id (none for a job without runs). The job list has no last-run status, so:
    the newest LAST_RUNS_PAGE runs of all jobs (one request), then one request per job not among them (none when
    that page held every run there is)."""
    page = api.request("GET", "/history", params={"page": 1, "per_page": LAST_RUNS_PAGE})
    last: dict[int, dict[str, Any]] = {}
    for run in items_of(page):  # newest first: the first run of a job is its newest
        last.setdefault(int(run["jobId"]), run)
    if page["total"] > len(page["items"]):
        for job_id in job_ids:
            if job_id not in last:
                runs = items_of(api.request("GET", f"/jobs/{job_id}/history", params={"page": 1, "per_page": 1}))
                if runs:
                    last[job_id] = runs[0]
    return last


def outcome_words(run: dict[str, Any] | None) -> str:
    """'failed 2026-12-07T16:00:01Z': the run's status, then when it ended, started or was due (the first known)."""
    if run is None:
        return "-"
    when = run.get("completedAt") or run.get("startedAt") or run.get("scheduledAt") or ""
    return f"{run['statusName']} {when}".strip()


@jobs_app.command("show")
def show(job_id: int) -> None:
    """One job, as JSON on stdout; why it paused itself, if it did, on stderr."""
    job = client().request("GET", f"/jobs/{job_id}")
    typer.echo(json.dumps(job, indent=2, ensure_ascii=False))
    if job.get("isPaused") and job.get("pausedReason"):
        typer.echo(f"job {job_id} paused itself: {job['pausedReason']}", err=True)
        typer.echo(f"(`jobscheduler jobs resume {job_id}` resumes it and clears the reason)", err=True)


@dataclass(frozen=True, slots=True)
class JobOptions:
    """The options create and update share, declared once: each field's annotation is its command-line option
    (see with_job_options). None: not given, so not sent (the API's default or the job's value stays)."""

    name: NameOption = None
    every: EveryOption = None
    cron: CronOption = None
    timezone: TimezoneOption = None
    priority: PriorityOption = None
    max_instances: MaxInstancesOption = None
    grace: GraceOption = None
    params: ParamsOption = None
    max_retries: MaxRetriesOption = None
    retry_delay: RetryDelayOption = None
    backoff: BackoffOption = None
    retry_max_delay: RetryMaxDelayOption = None
    overlap: OverlapOption = None
    pause_after_failures: PauseAfterOption = None

    def body(self, *, clear_other_intervals: bool) -> dict[str, Any]:
        """The API's job fields of the options given. `clear_other_intervals`: --every replaces the whole interval
        (an update sends the other parts null)."""
        body: dict[str, Any] = {}
        if self.every is not None:
            if clear_other_intervals:
                body.update(dict.fromkeys(UNIT_FIELD.values()))
            body |= interval_fields(self.every)
        fields = {
            "nameEn": self.name,
            "cronExpression": self.cron,
            "timezone": self.timezone,
            "priority": self.priority,
            "maxInstances": self.max_instances,
            "misfireGraceTime": self.grace,
            "maxRetries": self.max_retries,
            "retryDelaySeconds": self.retry_delay,
            "retryBackoffFactor": self.backoff,
            "retryMaxDelaySeconds": self.retry_max_delay,
            "overlapPolicy": None if self.overlap is None else self.overlap.value,
            "pauseAfterFailures": self.pause_after_failures,
        }
        body.update({k: v for k, v in fields.items() if v is not None})
        if self.params is not None:
            try:
                body["parameters"] = json.loads(self.params)
            except ValueError as exc:
                usage_error(f"--params: not JSON: {exc}")
        return body


def with_job_options(command: Callable[..., None]) -> Callable[..., None]:
    """The command with JobOptions' fields as options of its own, before its --file (typer reads a command's
    options from its signature), handed to it gathered in one `options` argument."""
    shared_hints = get_type_hints(JobOptions, include_extras=True)
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    shared = [
        inspect.Parameter(f.name, keyword, default=None, annotation=shared_hints[f.name])
        for f in dataclasses.fields(JobOptions)
    ]
    own_hints = get_type_hints(command, include_extras=True)
    own = [
        parameter.replace(annotation=own_hints[name])
        for name, parameter in inspect.signature(command).parameters.items()
        if name != "options"
    ]
    at = next(i for i, parameter in enumerate(own) if parameter.name == "file")
    parameters = [*own[:at], *shared, *own[at:]]

    @functools.wraps(command)
    def with_options(**given: Any) -> None:
        options = JobOptions(**{f.name: given.pop(f.name) for f in dataclasses.fields(JobOptions)})
        command(options=options, **given)

    with_options.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return with_options


def interval_fields(every: str) -> dict[str, int]:
    """The API's interval fields of a duration like 90s, 1h30m or 2d (a usage error, exit 2, for anything else)."""
    match = DURATION.match(every.strip())
    if match is None or not any(match.groupdict().values()):
        usage_error(
            f"--every: {every!r} is not a duration: a number and a unit (d, h, m, s), or several, largest first, "
            "e.g. 30s, 5m, 90s, 1h30m, 2d, 1h30m15s"
        )
    return {UNIT_FIELD[unit]: int(value) for unit, value in match.groupdict().items() if value is not None}


def read_file(file: Path) -> dict[str, Any]:
    try:
        body = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        usage_error(f"--file: {exc}")
    if not isinstance(body, dict):
        usage_error("--file: the JSON must be an object")
    return body


@jobs_app.command("create")
@with_job_options
def create(
    options: JobOptions,
    task: Annotated[str | None, typer.Option(help="Task function key (e.g. http_request) or id.")] = None,
    file: Annotated[Path | None, typer.Option(help="Job definition as JSON (the API's create body).")] = None,
) -> None:
    """Create a job from flags or from a JSON file (flags override the file)."""
    # The options are checked before any request (a bad one is a usage error whatever the API's state).
    body = read_file(file) if file is not None else {}
    if task is None and "taskFunctionId" not in body:
        usage_error("--task is required (or taskFunctionId in --file)")
    body |= options.body(clear_other_intervals=False)
    api = client()
    if task is not None:
        body["taskFunctionId"] = resolve_task(api, task)
    job = api.request("POST", "/jobs", json=body)
    typer.echo(f"created job {job['id']} ({schedule_words(job)}), next run {job.get('nextRunAt') or '-'}")


@jobs_app.command("update")
@with_job_options
def update(
    options: JobOptions,
    job_id: int,
    task: Annotated[str | None, typer.Option(help="Another task function (key or id).")] = None,
    file: Annotated[Path | None, typer.Option(help="Fields to change as JSON (the API's update body).")] = None,
) -> None:
    """Change some of a job's fields: only the options given (and the file's fields) change."""
    body = read_file(file) if file is not None else {}
    body |= options.body(clear_other_intervals=True)
    if not body and task is None:
        usage_error("nothing to change: give at least one option (see --help)")
    api = client()
    if task is not None:
        body["taskFunctionId"] = resolve_task(api, task)
    job = api.request("PUT", f"/jobs/{job_id}", json=body)
    typer.echo(f"updated job {job['id']} ({schedule_words(job)}), next run {job.get('nextRunAt') or '-'}")


def resolve_task(api: ApiClient, task: str) -> int:
    if task.isdigit():
        return int(task)
    ids = {function.get("key"): int(function["id"]) for function in items_of(api.request("GET", "/task-functions"))}
    if task not in ids:
        known = ", ".join(sorted(str(key) for key in ids))
        fail(f"--task: no task function with key {task!r} (known: {known})", ExitCode.NOT_FOUND)
    return ids[task]


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
    """Resume a paused job from its next slot (clears why it paused itself, and its count of failures)."""
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


register_run_commands(jobs_app)
