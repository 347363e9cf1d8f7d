"""The HTTP side of the timekeeper and executor: /healthz (process alive), /readyz (its dependencies answer)
and /metrics (Prometheus), served by uvicorn on the health port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scheduler_core.observability.metrics import CONTENT_TYPE, Metrics

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_app(metrics: Metrics, checks: Mapping[str, ReadinessCheck]) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        results = {name: await _safe(check) for name, check in checks.items()}
        ready = all(results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
        ]
    )


async def _safe(check: ReadinessCheck) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=3)
    except Exception:
        return False


class HealthServer:
    """Serves health_app on host:port while the block runs."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._server.serve(), name="health-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # surfaces the bind error
                raise RuntimeError("health server stopped during start-up")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
