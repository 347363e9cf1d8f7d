"""Who made each API request, on the log lines it causes: the client's address (the real client behind a trusted
gateway, see scheduler_api.gateway) is bound to every line logged while the request runs (job_created,
job_triggered, request_failed, …), and one `http_request` line per request records its outcome."""

from __future__ import annotations

import logging
import time
from typing import Final

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

# Refused credentials are worth a line at the default level (who keeps trying, from where); every other request
# only at DEBUG: the dashboard polls, and the gateway keeps the full access log.
REFUSED: Final = frozenset({401, 403})


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        started = time.perf_counter()
        status = 500  # if the app fails before answering, the server answers 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with structlog.contextvars.bound_contextvars(client=client[0] if client else None):
            try:
                await self._app(scope, receive, send_and_record)
            finally:
                log.log(
                    logging.INFO if status in REFUSED else logging.DEBUG,
                    "http_request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    scheme=scope["scheme"],
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
