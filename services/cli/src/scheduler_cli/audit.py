"""`jobscheduler audit`: the audit trail of a running API (who changed what, when, from where), newest first."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table

from scheduler_cli.client import client

console = Console()
# Characters of one value shown in the changes column; the rest is cut with an ellipsis.
VALUE_CHARS: Final = 40


def audit(
    job: Annotated[int | None, typer.Option("--job", min=1, help="Only changes of this job id.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only changes by this subject or display name.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this kind: create, update, delete, enable, pause, trigger, cleanup, ...")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many entries (newest first).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="The API's JSON page instead of a table.")] = False,
) -> None:
    """The audit trail: who changed which job, when, from where, and what changed."""
    params: dict[str, Any] = {"per_page": limit}
    params |= {k: v for k, v in {"job_id": job, "actor": actor, "action": action}.items() if v is not None}
    payload = client().request("GET", "/audit", params=params)
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    table = Table("when", "who", "action", "job", "target", "changes", "from")
    for entry in payload["items"]:
        table.add_row(
            entry["occurredAt"],
            who(entry),
            entry["action"],
            str(entry["jobId"]) if entry["jobId"] is not None else "-",
            entry.get("target") or "",
            changes_words(entry.get("changes")),
            entry.get("clientAddress") or "",
        )
    console.print(table)
    console.print(f"{len(payload['items'])} of {payload['total']} entries")


def who(entry: dict[str, Any]) -> str:
    subject, name = entry.get("actorSubject"), entry.get("actorName")
    if subject and name and name != subject:
        return f"{name} ({subject})"
    return str(name or subject or "-")


def changes_words(changes: dict[str, dict[str, Any]] | None) -> str:
    """One line per changed field: `field: before -> after`."""
    if not changes:
        return ""
    return "\n".join(
        f"{field}: {_short(change.get('before'))} -> {_short(change.get('after'))}" for field, change in changes.items()
    )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
