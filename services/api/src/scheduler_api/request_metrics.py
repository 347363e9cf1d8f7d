"""Prometheus metrics of the API's requests (count and latency by handler), as ASGI middleware."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler_core.observability.metrics import Metrics

# Handler label of requests no route matched (unknown paths), so that scanners cannot create series.
UNMATCHED = "unmatched"


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before answering, the server answers 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_record)
        finally:
            # The matched route's name: its endpoint function (get_job) or the mount's name (dashboard).
            handler = getattr(scope.get("route"), "name", None) or UNMATCHED
            method = scope["method"]
            self._metrics.http_requests.labels(method=method, handler=handler, status=str(status)).inc()
            self._metrics.http_request_seconds.labels(method=method, handler=handler).observe(
                time.perf_counter() - started
            )
