"""Who made each API request, on the log lines it causes: the client's address (the real client behind a trusted
gateway, see scheduler_api.gateway) and the request id are bound to every line logged while the request runs
(job_created, job_triggered, request_failed, …), and one `http_request` line per request records its outcome.

The request id is the `X-Request-ID` a trusted gateway sent (scheduler_api.gateway drops the header from any other
peer), if it is 1 to 128 visible ASCII characters; otherwise a new UUID. It is answered in `X-Request-ID`, kept in
`request.state.request_id` for the audit trail, and logged as `request_id`."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Final

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

# Refused credentials are worth a line at the default level (who keeps trying, from where); every other request
# only at DEBUG: the dashboard polls, and the gateway keeps the full access log.
REFUSED: Final = frozenset({401, 403})
REQUEST_ID_HEADER: Final = b"x-request-id"
_REQUEST_ID: Final = re.compile(rb"[\x21-\x7e]{1,128}")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The request's id: the one the (trusted) gateway sent, when usable, else a new one."""
    sent = next((value for name, value in headers if name == REQUEST_ID_HEADER), None)
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent.decode("ascii")
    return str(uuid.uuid4())


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
        request_id = request_id_of(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode("ascii"))]
            await send(message)

        with structlog.contextvars.bound_contextvars(client=client[0] if client else None, request_id=request_id):
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
