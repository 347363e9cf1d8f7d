"""An ASGI app served by uvicorn for the duration of an `async with` block.

uvicorn's Server.serve() installs its own SIGINT/SIGTERM handlers and re-raises the signal when it stops;
in our processes the owner of the event loop handles signals (graceful drain of executors first), so this
server leaves them alone. It speaks HTTP/1.1 through `JsonErrorH11Protocol` (its own errors in JSON)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any, Literal, Self

import uvicorn

from scheduler_core.observability.http_protocol import MAX_REQUEST_HEAD_BYTES, JsonErrorH11Protocol


class _OwnerHandlesSignals(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, app: Any, host: str, port: int, *, lifespan: Literal["on", "off"] = "off") -> None:
        # No `server` header (it names the software to an attacker), and uvicorn's own errors in JSON. proxy_headers
        # off: uvicorn would otherwise trust X-Forwarded-For from FORWARDED_ALLOW_IPS or 127.0.0.1 behind our back;
        # the API reads forwarded headers itself, from SCHEDULER_FORWARDED_ALLOW_IPS only (scheduler_api.gateway),
        # and the health port needs none.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan=lifespan,
            http=JsonErrorH11Protocol,
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
            server_header=False,
            proxy_headers=False,
        )
        self._server = _OwnerHandlesSignals(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def failed(self) -> bool:
        """The server stopped by itself (e.g. the app's lifespan failed)."""
        return self._task is not None and self._task.done()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._server.serve(), name="http-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # surfaces the bind or start-up error
                raise RuntimeError("HTTP server stopped during start-up (see the log above)")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
