"""`jobscheduler channels …`: notification channels against a running API (list, create, delete)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scheduler_cli.client import client, fail
from scheduler_core.notifications import EVENT_TYPES

ALL = "all of " + ", ".join(EVENT_TYPES)

console = Console()

channels_app = typer.Typer(help="List, create and delete notification channels.", no_args_is_help=True)


@channels_app.command("list")
def list_channels(
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """Channels as a table (secrets are never shown: only whether one is set)."""
    payload = client().request("GET", "/notification-channels", params={"page": page, "per_page": per_page})
    table = Table("id", "name", "url", "events", "jobs", "format", "signed", "enabled")
    for channel in payload["items"]:
        jobs = channel.get("jobIds")
        table.add_row(
            str(channel["id"]),
            channel["name"],
            channel["url"],
            ", ".join(channel["events"]),
            "all" if jobs is None else ", ".join(str(j) for j in jobs),
            channel["format"],
            "yes" if channel["hasSecret"] else "no",
            "yes" if channel["enabled"] else "no",
        )
    console.print(table)
    console.print(f"page {payload['page']}/{max(payload['totalPages'], 1)}, {payload['total']} channels")


@channels_app.command("create")
def create(
    url: Annotated[str, typer.Option(help="Where deliveries are POSTed (http or https).")],
    event: Annotated[
        list[str] | None,
        typer.Option(help=f"An event type to send (repeat it); default: all of {', '.join(EVENT_TYPES)}."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for people (default: the URL's host).")] = None,
    job: Annotated[
        list[int] | None, typer.Option(help="Only this job's events (repeat it); default: every job's.")
    ] = None,
    secret: Annotated[
        str | None, typer.Option(envvar="SCHEDULER_CHANNEL_SECRET", help="Signing key (at least 16 characters).")
    ] = None,
    slack: Annotated[bool, typer.Option("--slack", help='Send {"text": ...} (Slack-compatible webhooks).')] = False,
) -> None:
    """Create a channel."""
    unknown = sorted(set(event or ()) - set(EVENT_TYPES))
    if unknown:
        fail(f"--event: unknown {', '.join(unknown)}; choose from {', '.join(EVENT_TYPES)}")
    body: dict[str, Any] = {
        "name": name or url.split("//", 1)[-1].split("/", 1)[0],
        "url": url,
        "events": list(dict.fromkeys(event or EVENT_TYPES)),
        "format": "slack" if slack else "json",
    }
    if job:
        body["jobIds"] = list(dict.fromkeys(job))
    if secret is not None:
        body["secret"] = secret
    channel = client().request("POST", "/notification-channels", json=body)
    signed = "signed" if channel["hasSecret"] else "unsigned"
    typer.echo(f"created channel {channel['id']} ({signed}): {', '.join(channel['events'])} -> {channel['url']}")


@channels_app.command("delete")
def delete(channel_id: int) -> None:
    """Delete a channel and its deliveries (pending ones are not sent)."""
    channel = client().request("DELETE", f"/notification-channels/{channel_id}")
    typer.echo(f"deleted channel {channel['id']} ({channel['name']})")
