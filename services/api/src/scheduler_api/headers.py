"""Security headers on every response of the API and the dashboard, as ASGI middleware, and the same set for the
answers written outside it (the JSON 500 of `errors`, written by Starlette's outermost middleware).

- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`;
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page of ours is ever framed (clickjacking);
- CSP: JSON and other non-HTML answers may load nothing (`default-src 'none'`); HTML pages (the dashboard, /docs)
  load scripts, styles, images and API calls from their own origin only, no inline script; `base-uri 'self'`
  because the dashboard's deep links behind a gateway prefix carry a `<base href>` of the same origin;
- `Cache-Control: no-store` on JSON, which carries jobs and tokens' effects: no proxy or browser cache keeps it.

A header the response already sets is left as it is."""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMON: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
DATA_POLICY: Final = "default-src 'none'; frame-ancestors 'none'"
PAGE_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
NO_STORE: Final = "no-store"


def security_headers(content_type: str) -> dict[str, str]:
    """The headers an answer of this content type gets."""
    media = content_type.split(";", 1)[0].strip().lower()
    headers = dict(COMMON)
    headers["Content-Security-Policy"] = PAGE_POLICY if media == "text/html" else DATA_POLICY
    if media == "application/json" or media.endswith("+json"):
        headers["Cache-Control"] = NO_STORE
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", ()))
                headers = MutableHeaders(scope=message)
                for name, value in security_headers(headers.get("content-type", "")).items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self._app(scope, receive, send_with_headers)
