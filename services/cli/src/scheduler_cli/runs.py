"""`jobscheduler jobs history / cancel / rerun / backfill / preview`: a job's runs (what ran, stopping one, running
one again, running past slots) and when it runs next, against a running API."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scheduler_cli.client import ApiClient, client, items_of, one_line, usage_error

console = Console()

# Runs `history --follow` reads at each poll, newest first (the API's largest page).
FOLLOW_PAGE = 100
# The API's bounds on a preview (GET /jobs/{id}/preview `count`).
PREVIEW_COUNT_MAX = 50

JobIdArgument = Annotated[int, typer.Argument(help="The job's id.")]
ExecutionIdArgument = Annotated[str, typer.Argument(help="The run's execution id (see `jobs history`).")]


class TriggerName(StrEnum):
    """Why a run exists (the runs' `trigger`)."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    BACKFILL = "backfill"


def history(
    job_id: Annotated[int | None, typer.Argument(help="Job id; omit for all jobs.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only runs with this status, by name or id: pending (1), running (2), success (3), "
                     "failed (4), missed (5), skipped (6), cancelled (7), waiting (8)."),
    ] = None,
    trigger: Annotated[
        TriggerName | None,
        typer.Option(help="Only runs that exist for this reason."),
    ] = None,
    per_page: Annotated[int, typer.Option(min=1, max=100)] = 20,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing: one line per new run or status change (Ctrl-C ends)."),
    ] = False,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between the API's reads with --follow.")] = 2.0,
) -> None:  # fmt: skip
    """Recent runs, newest first (or followed as they happen), with their execution ids and attempts."""
    api = client()
    path = f"/jobs/{job_id}/history" if job_id is not None else "/history"
    params: dict[str, Any] = {}
    if status is not None:
        params["status_id"] = status_id(api, status)
    if trigger is not None:
        params["trigger"] = trigger.value
    if not follow:
        print_table(runs_page(api, path, params, per_page))
        return
    try:
        follow_runs(api, path, params, per_page, poll)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def status_id(api: ApiClient, status: str) -> int:
    """The id of a status given by name (the API's lookup) or by id."""
    statuses = {str(entry["name"]).lower(): int(entry["id"]) for entry in api.request("GET", "/execution-statuses")}
    name = status.strip().lower()
    if name not in statuses and not (name.isdigit() and int(name) in statuses.values()):
        known = ", ".join(f"{key} ({number})" for key, number in sorted(statuses.items(), key=lambda item: item[1]))
        usage_error(f"--status: no status {status!r}; known: {known}")
    return int(name) if name.isdigit() else statuses[name]


def runs_page(api: ApiClient, path: str, params: dict[str, Any], per_page: int) -> list[dict[str, Any]]:
    """The newest `per_page` runs that pass the filters (the API's), newest first."""
    return items_of(api.request("GET", path, params=params | {"page": 1, "per_page": per_page}))


def print_table(rows: list[dict[str, Any]]) -> None:
    table = Table("job", "execution", "scheduled", "started", "status", "try", "ms", "result / error")
    table.columns[1].no_wrap = True
    for row in rows:
        table.add_row(
            str(row["jobId"]),
            row["executionId"],
            row["scheduledAt"],
            row.get("startedAt") or "-",
            row["statusName"],
            attempt_words(row),
            str(row.get("durationMs") or "-"),
            result_words(row),
        )
    console.print(table)


def follow_runs(api: ApiClient, path: str, params: dict[str, Any], per_page: int, poll: float) -> None:
    """The newest runs, oldest first, one line each; then, every `poll` seconds, a line for each run that is new
    or whose status changed since (never the whole table again). Reads the newest FOLLOW_PAGE runs each time: more
    new runs than that between two reads are not all shown (one request per read)."""

    def newest() -> list[dict[str, Any]]:
        return items_of(api.request("GET", path, params=params | {"page": 1, "per_page": FOLLOW_PAGE}))

    typer.echo(FOLLOW_HEADER)
    rows = newest()
    # Runs older than the first `per_page` are known from the start: only their later changes are printed.
    seen: dict[str, str] = {run["executionId"]: run["statusName"] for run in rows[per_page:]}
    rows = rows[:per_page]
    while True:
        for row in reversed(rows):
            if seen.get(row["executionId"]) != row["statusName"]:
                seen[row["executionId"]] = row["statusName"]
                typer.echo(follow_line(row))
        sys.stdout.flush()
        time.sleep(poll)
        rows = newest()


FOLLOW_HEADER = (
    f"{'job':>6}  {'execution':<36}  {'scheduled':<32}  {'status':<9}  {'try':<5}  {'ms':>7}  result / error"
)


def follow_line(row: dict[str, Any]) -> str:
    """One run on one line, in FOLLOW_HEADER's columns."""
    return (
        f"{row['jobId']:>6}  {row['executionId']:<36}  {row['scheduledAt']:<32}  {row['statusName']:<9}  "
        f"{attempt_words(row):<5}  {row.get('durationMs') if row.get('durationMs') is not None else '-':>7}  "
        f"{result_words(row)}"
    ).rstrip()


def result_words(row: dict[str, Any]) -> str:
    return one_line(row.get("resultSummary") or row.get("errorMessage") or "")[:80]


def attempt_words(run: dict[str, Any]) -> str:
    """'1'; '2 of <first attempt>' for a retry; '1, re-run of <run>' for a re-run."""
    words = str(run.get("attempt", 1))
    if run.get("attempt", 1) > 1 and run.get("firstExecutionId"):
        words += f" of {run['firstExecutionId'][:8]}"
    if run.get("rerunOf"):
        words += f", re-run of {run['rerunOf'][:8]}"
    return words


def _run_action(job_id: int, execution_id: str, action: str) -> dict[str, Any]:
    result: dict[str, Any] = client().request(
        "POST", f"/jobs/{job_id}/executions/{execution_id}/action", json={"action": action}
    )
    return result


def cancel(job_id: JobIdArgument, execution_id: ExecutionIdArgument) -> None:
    """Cancel a run not ended yet: at once if it has not started, else its executor stops it within a heartbeat."""
    result = _run_action(job_id, execution_id, "cancel")
    run = result["execution"]
    typer.echo(f"{result['message']} (run {run['executionId']}: {run['statusName']})")


def rerun(job_id: JobIdArgument, execution_id: ExecutionIdArgument) -> None:
    """Run an ended run again now, as a manual run with the job's current parameters."""
    result = _run_action(job_id, execution_id, "rerun")
    run = result["execution"]
    typer.echo(f"{result['message']}: run {run['executionId']} (re-run of {execution_id})")


def backfill(
    job_id: JobIdArgument,
    from_: Annotated[str, typer.Option("--from", help="First instant, ISO 8601 with an offset (2025-01-01T00:00Z).")],
    to: Annotated[str, typer.Option("--to", help="Last instant, ISO 8601 with an offset; not in the future.")],
) -> None:
    """Run every slot of the job's schedule from --from to --to (both included) that has no run yet (at most 1,000
    slots; a slot with a run keeps it, so repeating the command creates nothing twice)."""
    result = client().request("POST", f"/jobs/{job_id}/backfill", json={"from": from_, "to": to})
    typer.echo(result["message"])
    typer.echo(f"slots: {result['slots']}, created: {result['created']}, existing: {result['existing']}")


def preview(
    job_id: JobIdArgument,
    from_: Annotated[
        str | None, typer.Option("--from", help="From this instant (ISO 8601 with an offset); default: next slot.")
    ] = None,
    count: Annotated[int, typer.Option(min=1, max=PREVIEW_COUNT_MAX, help="How many fire times.")] = 5,
) -> None:
    """The job's next fire times (instants, as the API gives them), from its next slot or from --from."""
    params: dict[str, Any] = {"count": count}
    if from_ is not None:
        params["from"] = from_
    result = client().request("GET", f"/jobs/{job_id}/preview", params=params)
    typer.echo(f"{result['description']} ({result.get('timezone') or 'UTC'})")
    for number, instant in enumerate(result["fireTimes"], start=1):
        typer.echo(f"{number:>3}. {instant}")
    if not result["fireTimes"]:
        typer.echo("no fire times: the schedule does not fire from there")


def register_run_commands(app: typer.Typer) -> None:
    """Add these commands to `jobscheduler jobs`."""
    app.command()(history)
    app.command()(cancel)
    app.command()(rerun)
    app.command()(backfill)
    app.command()(preview)
