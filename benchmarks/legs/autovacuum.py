"""The server's autovacuum setting, switched on for the soak's "on" run and always put back afterwards.

autovacuum is a sighup setting: ALTER SYSTEM writes it to postgresql.auto.conf and pg_reload_conf() makes the
postmaster re-read it; backends started after the reload see the new value. The previous state is restored as it
was: where the value came from postgresql.auto.conf (an earlier ALTER SYSTEM), set back to that value; otherwise
ALTER SYSTEM RESET, so postgresql.conf's value applies again. The server is shared: other databases see the
switch for as long as the run lasts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from benchmarks.harness import pg

log = logging.getLogger("bench")

# Seconds to wait for a new connection to see a reloaded value (the postmaster reloads asynchronously).
RELOAD_WAIT_S = 15.0
_SETTING_SQL = "SELECT setting, source, sourcefile FROM pg_settings WHERE name = 'autovacuum'"


async def shown() -> str:
    """What the server says now, from a new connection (a new backend reads the reloaded configuration)."""
    connection = await asyncpg.connect(pg.ADMIN_DSN)
    try:
        return str(await connection.fetchval("SHOW autovacuum"))
    finally:
        await connection.close()


async def _state() -> dict[str, Any]:
    connection = await asyncpg.connect(pg.ADMIN_DSN)
    try:
        row = await connection.fetchrow(_SETTING_SQL)
        return {"setting": row["setting"], "source": row["source"], "sourcefile": row["sourcefile"]}
    finally:
        await connection.close()


async def _apply(statement: str) -> None:
    connection = await asyncpg.connect(pg.ADMIN_DSN)
    try:
        await connection.execute(statement)
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


async def _wait_shown(expected: str) -> str:
    deadline = time.monotonic() + RELOAD_WAIT_S
    value = await shown()
    # polled: the reload is a signal to the postmaster, with nothing to wait on from here
    for _ in range(int(RELOAD_WAIT_S / 0.2)):
        if value == expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
        value = await shown()
    return value


async def _restore(before: dict[str, Any]) -> str:
    from_auto_conf = str(before["sourcefile"] or "").endswith("postgresql.auto.conf")
    if from_auto_conf:
        await _apply(f"ALTER SYSTEM SET autovacuum = {'on' if before['setting'] == 'on' else 'off'}")
    else:
        await _apply("ALTER SYSTEM RESET autovacuum")
    value = await _wait_shown(str(before["setting"]))
    log.info("autovacuum restored: the server says %s (was %s)", value, before["setting"])
    return value


@asynccontextmanager
async def server_on(record: dict[str, Any]) -> AsyncIterator[str]:
    """Autovacuum on server-wide inside the block (a no-op where it already is); yields what a new connection's
    SHOW autovacuum said before the block started. Restores the previous state on every exit (errors, Ctrl-C:
    asyncio.run cancels the task, SIGTERM: benchmarks.legs cancels it too). `record` gets before/after/restored."""
    before = await _state()
    record["server_before"] = before["setting"]
    if before["setting"] == "on":
        record["switched"] = False
        yield await shown()
        return
    record["switched"] = True
    try:
        await _apply("ALTER SYSTEM SET autovacuum = on")
        value = await _wait_shown("on")
        if value != "on":
            raise RuntimeError(f"ALTER SYSTEM SET autovacuum = on did not take effect: SHOW autovacuum says {value}")
        log.info("autovacuum switched on server-wide: a new connection's SHOW autovacuum says %s", value)
        yield value
    finally:
        # shielded: a second Ctrl-C must not leave the shared server with autovacuum on
        record["server_restored"] = await asyncio.shield(_restore(before))
