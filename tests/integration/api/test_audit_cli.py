"""The CLI and the audit trail (issue 19): `jobscheduler token --subject/--name` (default: the OS user) gives CLI
changes a stable actor, and `jobscheduler audit` lists the trail of a served API, filtered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jwt
from typer.testing import CliRunner, Result

from scheduler_api.app import create_app
from scheduler_cli.main import app as cli
from scheduler_core.auth.tokens import local_user
from scheduler_core.bootstrap import Database
from scheduler_core.observability.http_server import HttpServer
from tests.integration.api.support import INSTANCE_ID, SECRET, TaskIds, api_settings
from tests.support.processes import free_port

HOST = "127.0.0.1"


def claims_of(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    claims: dict[str, Any] = jwt.decode(result.output.strip(), SECRET, algorithms=["HS256"])
    return claims


def test_the_token_names_the_given_actor_or_the_os_user() -> None:
    env = {"SCHEDULER_JWT_SECRET": SECRET}
    named = claims_of(CliRunner().invoke(cli, ["token", "--subject", "alice", "--name", "Alice Example"], env=env))
    default = claims_of(CliRunner().invoke(cli, ["token"], env=env))
    subject_only = claims_of(CliRunner().invoke(cli, ["token", "--subject", "bob"], env=env))
    dotted = claims_of(
        CliRunner().invoke(cli, ["token", "--name", "A"], env=env | {"SCHEDULER_AUDIT_NAME_CLAIM": "profile.display"})
    )

    assert (named["sub"], named["name"]) == ("alice", "Alice Example")
    assert (default["sub"], default["name"]) == (local_user(), local_user())
    assert (subject_only["sub"], subject_only["name"]) == ("bob", "bob")
    assert dotted["profile"] == {"display": "A"}


def test_the_token_refuses_a_subject_or_name_it_cannot_store() -> None:
    env = {"SCHEDULER_JWT_SECRET": SECRET}
    too_long = CliRunner().invoke(cli, ["token", "--subject", "x" * 37], env=env)
    blank = CliRunner().invoke(cli, ["token", "--name", "  "], env=env)

    assert (too_long.exit_code, blank.exit_code) == (2, 2)
    assert "--subject" in too_long.output
    assert "--name" in blank.output


def page_of(result: Result) -> dict[str, Any]:
    """The JSON page `audit --json` printed (the served API's log lines share the captured output)."""
    assert result.exit_code == 0, result.output
    page, _ = json.JSONDecoder().raw_decode(result.output[result.output.index("{\n") :])
    assert isinstance(page, dict)
    return page


async def invoke(args: list[str], env: dict[str, str]) -> Result:
    """The CLI in a thread: its HTTP calls block, and the served API runs on this event loop."""
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(cli, args, env=env))


async def test_cli_changes_have_one_actor_and_the_audit_command_lists_them(database: Database, tasks: TaskIds) -> None:
    port = free_port()
    app = create_app(api_settings(), database, instance_id=INSTANCE_ID)
    # COLUMNS: a table wide enough not to wrap its cells.
    env = {"SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_API_URL": f"http://{HOST}:{port}", "COLUMNS": "300"}
    async with HttpServer(app, HOST, port, lifespan="on"):
        # The jobs commands mint their own token per call: both calls must name the same actor.
        created = await invoke(["jobs", "create", "--task", "noop", "--every", "5m", "--name", "cli job"], env)
        paused = await invoke(["jobs", "pause", "1"], env)
        token = claims_of(await invoke(["token", "--subject", "alice", "--name", "Alice Example"], env))
        alice_env = env | {"SCHEDULER_API_TOKEN": (await invoke(["token", "--subject", "alice"], env)).output.strip()}
        resumed = await invoke(["jobs", "resume", "1"], alice_env)
        listed = await invoke(["audit", "--job", "1"], env)
        only_alice = await invoke(["audit", "--actor", "alice", "--json"], env)
        mine = await invoke(["audit", "--actor", local_user(), "--json"], env)
        only_pauses = await invoke(["audit", "--action", "pause", "--json"], env)
        bad_action = await invoke(["audit", "--action", "destroy"], env)

    assert [r.exit_code for r in (created, paused, resumed, listed)] == [0, 0, 0, 0], listed.output
    assert token["name"] == "Alice Example"
    assert "isPaused: false -> true" in listed.output
    assert "3 of 3 entries" in listed.output
    # The first two calls minted a token each: one actor, the OS user.
    by_os_user = [(e["action"], e["actorSubject"], e["actorName"]) for e in page_of(mine)["items"]]
    assert by_os_user == [("pause", local_user(), local_user()), ("create", local_user(), local_user())]
    alice_entries = page_of(only_alice)["items"]
    assert [(e["action"], e["actorSubject"]) for e in alice_entries] == [("resume", "alice")]
    assert [e["action"] for e in page_of(only_pauses)["items"]] == ["pause"]
    assert bad_action.exit_code == 1
    assert "action" in bad_action.output
