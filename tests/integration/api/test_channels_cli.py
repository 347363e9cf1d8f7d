"""`jobscheduler channels list | create | delete` against the API served on loopback, on PostgreSQL and SQLite:
what the CLI creates is what the API holds, its secret never printed; a bad flag is refused before any request."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from typer.testing import CliRunner, Result

from scheduler_cli.main import app as cli
from scheduler_core.observability.http_server import HttpServer
from tests.integration.api.support import API, Tokens
from tests.support.processes import free_port

SECRET = "cli-secret-of-sixteen-chars"


async def jobscheduler(port: int, token: str, *args: str) -> Result:
    """The CLI, in a thread (the API it calls is served by this event loop; its log lines, which this process
    writes too, are in the output beside the CLI's)."""
    env = {"SCHEDULER_API_URL": f"http://127.0.0.1:{port}", "SCHEDULER_API_TOKEN": token}
    return await asyncio.to_thread(CliRunner().invoke, cli, ["channels", *args], env=env)


async def test_channels_are_created_listed_and_deleted_from_the_command_line(app: FastAPI, tokens: Tokens) -> None:
    port, token = free_port(), tokens.make()
    async with (
        HttpServer(app, "127.0.0.1", port, lifespan="on"),
        AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=tokens.headers(token)) as client,
    ):
        created = await jobscheduler(
            port, token, "create", "--url", "https://hooks.example.com/x", "--event", "run.failed",
            "--event", "job.silent", "--secret", SECRET, "--slack",
        )  # fmt: skip
        assert created.exit_code == 0, created.output
        assert "created channel 1 (signed): run.failed, job.silent -> https://hooks.example.com/x" in created.output
        listed = await jobscheduler(port, token, "list")
        default = await jobscheduler(port, token, "create", "--url", "https://hooks.example.com/all")
        unknown = await jobscheduler(port, token, "create", "--url", "https://hooks.example.com/y", "--event", "nope")
        channels: list[dict[str, Any]] = (await client.get(f"{API}/notification-channels")).json()["items"]
        deleted = await jobscheduler(port, token, "delete", str(channels[0]["id"]))
        missing = await jobscheduler(port, token, "delete", "4242")
        remaining = (await client.get(f"{API}/notification-channels")).json()["items"]
    assert listed.exit_code == 0, listed.output
    assert "page 1/1, 1 channels" in listed.output  # (the table's cells wrap at the runner's 80 columns)
    assert SECRET not in listed.output + created.output
    first, everything = channels
    assert (first["events"], first["format"], first["hasSecret"]) == (["run.failed", "job.silent"], "slack", True)
    assert (len(everything["events"]), everything["hasSecret"], everything["name"]) == (7, False, "hooks.example.com")
    assert default.exit_code == 0
    assert unknown.exit_code == 1
    assert "unknown nope" in unknown.output
    assert deleted.exit_code == 0
    assert f"deleted channel {first['id']}" in deleted.output
    assert missing.exit_code == 3  # not found (the CLI's exit codes, README)
    assert "DELETE /notification-channels/4242 -> 404" in missing.output
    assert [c["id"] for c in remaining] == [everything["id"]]
