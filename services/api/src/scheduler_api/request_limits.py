"""The request's size and body, checked before any route sees them:

- its head (request line and headers) at most MAX_REQUEST_HEAD_BYTES, else 431. The HTTP server refuses a larger
  head that arrives in pieces; one that arrives in one read reaches the application, and is refused here;
- its body at most SCHEDULER_MAX_REQUEST_BODY_BYTES, else 413, without reading more than that;
- a JSON body a document `scheduler_core.schemas.documents` accepts (no NaN or Infinity, no lone surrogate or NUL,
  at most 32 levels deep), else a 422 naming the offending field.

The body is then handed to the application unchanged, so FastAPI parses what was checked. Reading it here costs
nothing extra: FastAPI reads the whole body before validating it anyway."""

from __future__ import annotations

from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler_api.errors import InvalidInput, RequestTooLarge, error_json
from scheduler_core.observability.http_protocol import MAX_REQUEST_HEAD_BYTES
from scheduler_core.schemas import ErrorResponse, FieldError
from scheduler_core.schemas.documents import DocumentRejected, parse_document

# The client may still be sending the body we refuse: the connection is closed after the answer.
_CLOSE: Final = {"Connection": "close"}


def is_json(content_type: str | None) -> bool:
    """A media type FastAPI reads as JSON: application/json or application/*+json."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers, about as they came (names, values, separators)."""
    line = len(scope["method"]) + len(scope.get("raw_path") or scope["path"]) + len(scope["query_string"]) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if head_size(scope) > MAX_REQUEST_HEAD_BYTES:
            refused = ErrorResponse(
                error="request_header_fields_too_large",
                message=f"the request line and headers are larger than {MAX_REQUEST_HEAD_BYTES} bytes",
            )
            await error_json(431, refused, _CLOSE)(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nobody to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:  # a chunked body, or one longer than its Content-Length said
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and is_json(headers.get("content-type")):
            try:
                parse_document(body)
            except DocumentRejected as exc:
                answer = error_json(422, InvalidInput([FieldError(field=exc.field, reason=exc.reason)]).body())
                await answer(scope, receive, send)
                return
        await self._app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = RequestTooLarge(f"the request body is larger than {self._max_bytes} bytes, the most this API reads")
        await error_json(refused.status_code, refused.body(), _CLOSE)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the body read, then what the server sends next (the disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
