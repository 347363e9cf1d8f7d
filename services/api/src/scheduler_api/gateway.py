"""The API behind a gateway (README "Behind a gateway"): the path prefix it is served under, the client address and
scheme the gateway forwards, and CORS for browser apps on other origins. `install_gateway` adds it all to the app.

Path prefix. SCHEDULER_ROOT_PATH, else X-Forwarded-Prefix from a trusted proxy, becomes the ASGI root_path, and a
request path without it gets it put in front (ASGI's convention is that scope["path"] includes root_path). So both
kinds of gateway work: one that strips the prefix (the app receives /api/…) and one that forwards the path as is
(/scheduler/api/…). URLs the app builds then carry the prefix: redirects, the docs' spec URL and OpenAPI `servers`
(FastAPI reads root_path), and the dashboard's <base href> (scheduler_api.dashboard).

Client address and scheme. Only from peers in SCHEDULER_FORWARDED_ALLOW_IPS, by uvicorn's ProxyHeadersMiddleware:
the client is the right-most X-Forwarded-For entry that is not itself a trusted proxy, and the scheme is
X-Forwarded-Proto. An X-Request-ID header is kept only from a trusted peer (scheduler_api.request_log takes it as
the request id). With SCHEDULER_FORWARDED_HEADERS=forwarded, an RFC 7239 `Forwarded` header is read instead
(translated into those two for uvicorn) and the X-Forwarded-* ones are dropped. request.client is then the real
client, for the handlers and the audit trail, and scheduler_api.request_log puts it on every log line."""

from __future__ import annotations

from typing import Any, Final, cast

import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from scheduler_api.request_log import REQUEST_ID_HEADER, RequestLog
from scheduler_core.gateway_syntax import path_prefix
from scheduler_core.schemas.errors import ErrorResponse
from scheduler_core.settings import Settings

log = structlog.get_logger(__name__)

# Methods of the API's operations (tests/integration/api/test_gateway.py checks them against the OpenAPI).
CORS_METHODS: Final = ("GET", "POST", "PUT", "DELETE")
# Request headers a cross-origin caller may send besides the CORS-safelisted ones (the bearer token, JSON bodies).
CORS_REQUEST_HEADERS: Final = ("Authorization", "Content-Type")
# Response headers a cross-origin caller may read besides the safelisted ones: the server's clock (the dashboard
# uses it for heartbeat ages), when to retry a 503, and why a token was refused.
CORS_RESPONSE_HEADERS: Final = ("Date", "Retry-After", "WWW-Authenticate")
# Seconds a browser may cache a preflight answer (Chromium caps it at 7200, Firefox at 86400).
CORS_MAX_AGE_S: Final = 600

_X_FORWARDED: Final = (b"x-forwarded-for", b"x-forwarded-proto")
_PREFIX_HEADER: Final = b"x-forwarded-prefix"


def install_gateway(app: FastAPI, settings: Settings) -> None:
    """Add the gateway middleware, outermost of all: the forwarded headers are read before anything else runs, then
    the request log (which needs the client they give), then CORS."""
    if settings.cors_origins:
        app.add_middleware(
            AllowListCors,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_RESPONSE_HEADERS,
            # Bearer tokens travel in a header the caller sets; cookies are never needed, so never allowed.
            allow_credentials=False,
            max_age=CORS_MAX_AGE_S,
        )
    app.add_middleware(RequestLog)
    app.add_middleware(
        ForwardedHeaders,
        trusted=settings.forwarded_allow_ips,
        rfc7239=settings.forwarded_headers == "forwarded",
        root_path=settings.root_path or "",
    )


class ForwardedHeaders:
    """The root path, client and scheme of a request, as described in the module docstring."""

    def __init__(self, app: ASGIApp, *, trusted: list[str], rfc7239: bool, root_path: str) -> None:
        # uvicorn types its middleware with its own ASGI protocol classes; the callables are the same.
        self._proxy = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=list(trusted))
        self._rfc7239 = rfc7239
        self._root_path = root_path

    def trusts(self, host: str | None) -> bool:
        return host in self._proxy.trusted_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            trusted = self.trusts(client[0] if client else None)
            scope = dict(scope)
            if self._rfc7239:
                scope["headers"] = rfc7239_as_x_forwarded(scope["headers"], trusted=trusted)
            if not trusted:  # a client does not pick the id its request is logged and audited under
                scope["headers"] = [(name, value) for name, value in scope["headers"] if name != REQUEST_ID_HEADER]
            prefix = self._root_path or (self._forwarded_prefix(scope["headers"]) if trusted else "")
            if prefix:
                _mount_at(scope, prefix)
        await self._proxy(cast(Any, scope), cast(Any, receive), cast(Any, send))

    @staticmethod
    def _forwarded_prefix(headers: list[tuple[bytes, bytes]]) -> str:
        value = next((v for k, v in headers if k == _PREFIX_HEADER), None)
        if value is None:
            return ""
        try:
            return path_prefix(value.decode("latin-1"))
        except ValueError as exc:  # the proxy is trusted, so this is its configuration: say so, serve at the root
            log.warning("forwarded_prefix_ignored", reason=str(exc))
            return ""


def _mount_at(scope: dict[str, Any], prefix: str) -> None:
    scope["root_path"] = prefix
    path: str = scope["path"]
    if path != prefix and not path.startswith(prefix + "/"):  # the gateway stripped it: put it back
        scope["path"] = prefix + path
        if isinstance(scope.get("raw_path"), bytes):
            scope["raw_path"] = prefix.encode("ascii") + scope["raw_path"]


# --- RFC 7239 ----------------------------------------------------------------------------------------------


def rfc7239_as_x_forwarded(headers: list[tuple[bytes, bytes]], *, trusted: bool) -> list[tuple[bytes, bytes]]:
    """The request headers with X-Forwarded-For/-Proto replaced by what `Forwarded` says (when the peer is
    trusted; otherwise they are only dropped). `for` of every element, in order, becomes the X-Forwarded-For list
    (an element without one counts as "unknown", which stops the walk over trusted proxies there); `proto` comes
    from the last element, the one the trusted peer added about the request it received, as X-Forwarded-Proto."""
    kept = [(name, value) for name, value in headers if name not in _X_FORWARDED]
    forwarded = [value.decode("latin-1") for name, value in headers if name == b"forwarded"]
    if not trusted or not forwarded:
        return kept
    elements = [_pairs(element) for element in _split_unquoted(",".join(forwarded), ",") if element.strip()]
    if not elements:
        return kept
    fors = ", ".join(element.get("for", "unknown") for element in elements)
    kept.append((b"x-forwarded-for", fors.encode("latin-1")))
    proto = elements[-1].get("proto")
    if proto:
        kept.append((b"x-forwarded-proto", proto.lower().encode("latin-1")))
    return kept


def _pairs(element: str) -> dict[str, str]:
    pairs = {}
    for pair in _split_unquoted(element, ";"):
        name, sep, value = pair.partition("=")
        if sep:
            pairs[name.strip().lower()] = _unquoted(value.strip())
    return pairs


def _split_unquoted(text: str, separator: str) -> list[str]:
    """Split on the separator outside quoted strings (RFC 7230 quoted-string, with backslash escapes)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner, out, escaped = value[1:-1], [], False
        for char in inner:
            if char == "\\" and not escaped:
                escaped = True
                continue
            out.append(char)
            escaped = False
        return "".join(out)
    return value


# --- CORS --------------------------------------------------------------------------------------------------


class AllowListCors(CORSMiddleware):
    """Starlette's CORS middleware, except that a caller whose origin is not on the list gets no Access-Control-*
    header at all (Starlette adds Expose-Headers to every cross-origin response and Allow-Methods/-Headers to a
    refused preflight), and a refused preflight gets the API's JSON error body, saying what was refused."""

    def preflight_response(self, request_headers: Headers) -> Response:
        refused = []
        if not self.is_allowed_origin(request_headers["origin"]):
            refused.append("origin")
        if request_headers["access-control-request-method"] not in self.allow_methods:
            refused.append("method")
        asked = request_headers.get("access-control-request-headers")
        if asked and any(h.strip().lower() not in self.allow_headers for h in asked.split(",") if h.strip()):
            refused.append("headers")
        if not refused and request_headers.get("access-control-request-private-network") is None:
            return super().preflight_response(request_headers)
        refused = refused or ["private network access"]
        body = ErrorResponse(
            error="cors_preflight_refused",
            message=f"CORS preflight refused: {', '.join(refused)} not allowed (see SCHEDULER_CORS_ORIGINS)",
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=400, headers={"Vary": "Origin"})

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if origin is None or self.is_allowed_origin(origin):
            await super().send(message, send, request_headers)
            return
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            MutableHeaders(scope=message).add_vary_header("Origin")
        await send(message)
