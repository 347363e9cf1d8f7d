"""The HTTP side of the timekeeper and executor: /healthz (process alive), /readyz (its dependencies answer, and
what degrades the process without stopping it) and /metrics (Prometheus), served with HttpServer on the health
port."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scheduler_core.observability.metrics import CONTENT_TYPE, Metrics
from scheduler_core.schemas.health import ReadinessResponse, ReadinessWarning

ReadinessCheck = Callable[[], Awaitable[bool]]
# What degrades the process without stopping it (the database's autovacuum off): listed by /readyz.
ReadinessWarnings = Callable[[], Awaitable[list[ReadinessWarning]]]

# Seconds one readiness check, or the warnings, may take before the check counts as failed (no warnings listed).
CHECK_TIMEOUT_S = 3.0


async def readiness(checks: Mapping[str, ReadinessCheck], warnings: ReadinessWarnings | None) -> ReadinessResponse:
    """Each check's answer; the warnings once every check passed (a dependency that does not answer has nothing
    more to say). A warning never makes the process unready."""
    results = {name: await _safe(check) for name, check in checks.items()}
    ready = all(results.values())
    listed: list[ReadinessWarning] = []
    if ready and warnings is not None:
        try:
            listed = await asyncio.wait_for(warnings(), timeout=CHECK_TIMEOUT_S)
        except Exception:
            listed = []
    return ReadinessResponse(ready=ready, checks=results, warnings=listed)


def health_app(
    metrics: Metrics, checks: Mapping[str, ReadinessCheck], warnings: ReadinessWarnings | None = None
) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        answer = await readiness(checks, warnings)
        return JSONResponse(answer.model_dump(mode="json"), status_code=200 if answer.ready else 503)

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
        return await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
    except Exception:
        return False
