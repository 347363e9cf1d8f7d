"""PostgreSQL LISTEN for the timekeeper's wake-ups (NOTIFY is sent by the repository, inside the transaction
that changed the job, so it is delivered only if that transaction commits)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Self

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from scheduler_core.wakeup import WAKEUP_CHANNEL, LocalWakeup

log = structlog.get_logger(__name__)

# Seconds between attempts to re-open the LISTEN connection after PostgreSQL went away.
RECONNECT_DELAY_S = 1.0


class PostgresWakeup(LocalWakeup):
    """A LocalWakeup that is also set by NOTIFY on WAKEUP_CHANNEL from any process. While the LISTEN
    connection is down (PostgreSQL restarting) it keeps reconnecting; the timekeeper's bounded sleep covers
    the gap."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._listen_forever(), name="wakeup-listener")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_notify(self, *_args: Any) -> None:
        self.notify()

    async def _listen_forever(self) -> None:
        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(self._dsn)
                closed = asyncio.Event()
                connection.add_termination_listener(_setter(closed))
                await connection.add_listener(WAKEUP_CHANNEL, self._on_notify)
                self.notify()  # changes made while we were not listening
                await closed.wait()
                log.warning("wakeup_listener_lost")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("wakeup_listener_unavailable", error=str(exc))
            finally:
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(RECONNECT_DELAY_S)


def _setter(event: asyncio.Event) -> Any:
    """A connection-termination callback that sets `event`."""

    def on_terminate(*_args: Any) -> None:
        event.set()

    return on_terminate
