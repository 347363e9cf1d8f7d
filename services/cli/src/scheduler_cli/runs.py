"""`jobscheduler jobs history / cancel / rerun / backfill / preview`: a job's runs (what ran, stopping one, running
one again, running past slots) and when it runs next, against a running API."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scheduler_cli.client import client, items_of

console = Console()

# Seconds between polls of `history --follow`.
FOLLOW_POLL_S = 2.0
# The API's bounds on a preview (GET /jobs/{id}/preview `count`).
PREVIEW_COUNT_MAX = 50

JobIdArgument = Annotated[int, typer.Argument(help="The job's id.")]
ExecutionIdArgument = Annotated[str, typer.Argument(help="The run's execution id (see `jobs history`).")]


def history(
    job_id: Annotated[int | None, typer.Argument(help="Job id; omit for all jobs.")] = None,
    status: Annotated[
        int | None,
        typer.Option(help="Only this status id (1 pending, 2 running, 3 success, 4 failed, 5 missed, 6 skipped, "
                     "7 cancelled, 8 waiting)."),
    ] = None,
    per_page: Annotated[int, typer.Option(min=1, max=100)] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new runs.")] = False,
) -> None:  # fmt: skip
    """Recent runs, newest first (or followed as they happen), with their execution ids and attempts."""
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
            table = Table("job", "execution", "scheduled", "started", "status", "try", "ms", "result / error")
            table.columns[1].no_wrap = True
            for row in fresh if follow else rows:
                table.add_row(
                    str(row["jobId"]),
                    row["executionId"],
                    row["scheduledAt"],
                    row.get("startedAt") or "-",
                    row["statusName"],
                    attempt_words(row),
                    str(row.get("durationMs") or "-"),
                    (row.get("resultSummary") or row.get("errorMessage") or "")[:80],
                )
            console.print(table)
        for row in rows:
            seen[row["executionId"]] = row["statusName"]
        if not follow:
            return
        time.sleep(FOLLOW_POLL_S)


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
