"""The standalone API process: `serve` refuses an unmigrated schema, and otherwise serves over HTTP, registered
as an `api` instance, until stopped."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_api.main import serve
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.migration import SchemaNotReady
from scheduler_core.store.models import InstanceStatus
from tests.integration.api.support import API, Tokens, api_settings
from tests.support.stores import store_of

# Seconds the server gets to start answering, and to stop once asked.
START_DEADLINE_S = 15.0
STOP_DEADLINE_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = api_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", broker="memory")

    with pytest.raises(SchemaNotReady):
        await serve(settings, asyncio.Event())


async def test_serve_answers_until_stopped(pg_engine: AsyncEngine, tokens: Tokens) -> None:
    port = free_port()
    url = pg_engine.url.render_as_string(hide_password=False)
    settings = api_settings(database_url=url, broker="memory", port=port, heartbeat_interval=0.2, log_level="WARNING")
    stop = asyncio.Event()
    server = asyncio.create_task(serve(settings, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=tokens.headers()) as client:
            async with asyncio.timeout(START_DEADLINE_S):
                while True:
                    try:
                        ready = await client.get("/readyz")
                        break
                    except httpx.TransportError:
                        assert not server.done(), server
                        await asyncio.sleep(0.05)
                # The server listens just before the instance row says running (one more commit): wait for it.
                while True:
                    status = (await client.get(f"{API}/status")).json()
                    mine = [i for i in status["instances"] if i["id"] == status["instanceId"]]
                    if mine and mine[0]["status"] != InstanceStatus.STARTING:
                        break
                    await asyncio.sleep(0.05)
    finally:
        stop.set()
        async with asyncio.timeout(STOP_DEADLINE_S):
            await server

    assert {key: ready.json()[key] for key in ("ready", "checks")} == {
        "ready": True,
        "checks": {"database": True, "broker": True},
    }
    assert isinstance(ready.json()["warnings"], list)  # what the shared server's own configuration calls for
    assert status["mode"] == "standalone"
    [me] = [instance for instance in status["instances"] if instance["id"] == status["instanceId"]]
    assert (me["role"], me["mode"], me["status"]) == ("api", "standalone", InstanceStatus.RUNNING)
    async with create_sessionmaker(pg_engine)() as session:
        row = await store_of(session).instances.get(session, status["instanceId"])
    assert row is not None
    assert row.status == InstanceStatus.STOPPED  # marked stopped on the way out
