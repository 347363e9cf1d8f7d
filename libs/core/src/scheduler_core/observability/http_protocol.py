"""The HTTP/1.1 protocol our servers speak: uvicorn's h11 implementation, whose own answers are JSON too.

uvicorn answers a request it cannot parse before any application sees it (a malformed request line, a bad header,
a head larger than h11's limit), and by default in plain text. This protocol answers those in the API's error
shape, `{"error", "message", "fields"}`: 431 when the request head (request line and headers) is larger than
MAX_REQUEST_HEAD_BYTES, 400 otherwise. It also bounds the head explicitly, so the limit is ours, not a library
default."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Final

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# Bytes of a request's line and headers together: room for a gateway's JWT with many claims (a few KiB), far
# from what a legitimate client sends in all. A larger head gets 431 before the application reads anything.
MAX_REQUEST_HEAD_BYTES: Final = 32 * 1024
_HEADERS: Final = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"connection", b"close"),
]


def error_body(status: HTTPStatus, message: str) -> bytes:
    error = status.phrase.lower().replace(" ", "_").replace("-", "_")
    return json.dumps({"error": error, "message": message, "fields": []}).encode("utf-8")


class JsonErrorH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        # h11 gives up on a head once its buffer passes the limit with no complete event in it.
        buffered, _closed = self.conn.trailing_data
        if len(buffered) > MAX_REQUEST_HEAD_BYTES:
            status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
            message = f"the request line and headers are larger than {MAX_REQUEST_HEAD_BYTES} bytes"
        else:
            status = HTTPStatus.BAD_REQUEST
            message = "the request is not valid HTTP/1.1"
        body = error_body(status, message)
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode("ascii"))]
        for event in (
            h11.Response(status_code=status.value, headers=headers, reason=status.phrase.encode("ascii")),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
