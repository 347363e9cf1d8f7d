"""Operability, outside the authenticated API: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from scheduler_api.state_metrics import StateMetrics
from scheduler_core.observability.health import ReadinessCheck
from scheduler_core.observability.metrics import CONTENT_TYPE, Metrics
from scheduler_core.schemas import HealthResponse, ReadinessResponse

# Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT_S: Final = 3.0

router = APIRouter(tags=["operability"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness: the process answers")
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "A dependency does not answer."}},
    summary="Readiness: the database and the broker answer",
)
async def readyz(request: Request) -> Response:
    checks: Mapping[str, ReadinessCheck] = request.app.state.readiness
    results = {name: await _passes(check) for name, check in checks.items()}
    answer = ReadinessResponse(ready=all(results.values()), checks=results)
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if answer.ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}, "description": "Prometheus text"}},
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    state: StateMetrics | None = getattr(request.app.state, "state_metrics", None)
    if state is not None:  # the scheduler's state, read now (see state_metrics.py)
        await state.refresh()
    return Response(registry.render(), media_type=CONTENT_TYPE)


async def _passes(check: ReadinessCheck) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
    except Exception:
        return False
