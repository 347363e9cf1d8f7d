"""The HTTP side of the timekeeper and executor: /healthz (process alive), /readyz (its dependencies answer)
and /metrics (Prometheus), served with HttpServer on the health port."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

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
