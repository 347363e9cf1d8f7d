"""Operability, outside the authenticated API: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from scheduler_api.state_metrics import StateMetrics
from scheduler_core.observability.health import ReadinessCheck, ReadinessWarnings, readiness
from scheduler_core.observability.metrics import CONTENT_TYPE, Metrics
from scheduler_core.schemas import HealthResponse, ReadinessResponse

router = APIRouter(tags=["operability"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness: the process answers")
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "A dependency does not answer."}},
    summary="Readiness: the database and the broker answer (and what degrades the service, e.g. autovacuum off)",
)
async def readyz(request: Request) -> Response:
    checks: Mapping[str, ReadinessCheck] = request.app.state.readiness
    warnings: ReadinessWarnings = request.app.state.readiness_warnings
    answer = await readiness(checks, warnings)
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
