"""Job changes wake the timekeepers of other processes: PostgreSQL NOTIFY, sent in the changing transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.postgres.listener import PostgresWakeup
from tests.integration.api.support import API, INSTANCE_ID, Tokens, api_settings, create_job, open_client
from tests.support.factories import task_function

# Seconds to wait for a notification that should arrive within milliseconds.
NOTIFY_WAIT_S = 5.0
# Seconds to wait to be confident none is coming.
QUIET_WAIT_S = 0.3


async def test_changes_notify_listening_timekeepers(pg_engine: AsyncEngine, tokens: Tokens) -> None:
    url = pg_engine.url.render_as_string(hide_password=False)
    maker = create_sessionmaker(pg_engine)
    async with maker.begin() as session:
        task_id = await task_function(session)
    app = create_app(api_settings(), Database.of(pg_engine), instance_id=INSTANCE_ID)
    async with PostgresWakeup(url) as wakeup, open_client(app, tokens.headers()) as client:
        assert await wakeup.wait(NOTIFY_WAIT_S)  # the listener's own wake-up once it is listening

        job = await create_job(client, {"taskFunctionId": task_id, "intervalMinutes": 5})
        assert await wakeup.wait(NOTIFY_WAIT_S), "create"

        for action in ("disable", "enable", "pause", "resume", "trigger"):
            await client.post(f"{API}/jobs/{job['id']}/action", json={"action": action})
            assert await wakeup.wait(NOTIFY_WAIT_S), action

        await client.put(f"{API}/jobs/{job['id']}", json={"intervalMinutes": 7})
        assert await wakeup.wait(NOTIFY_WAIT_S), "schedule change"

        await client.put(f"{API}/jobs/{job['id']}", json={"nameEn": "renamed"})
        assert not await wakeup.wait(QUIET_WAIT_S), "a rename does not concern timekeepers"

        rejected = await client.put(f"{API}/jobs/{job['id']}", json={"intervalMinutes": 0})
        assert rejected.status_code == 422
        assert not await wakeup.wait(QUIET_WAIT_S), "a rolled-back change sends nothing"

        await client.delete(f"{API}/jobs/{job['id']}")
        assert await wakeup.wait(NOTIFY_WAIT_S), "delete"
