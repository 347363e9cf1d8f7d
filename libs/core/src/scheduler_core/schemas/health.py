"""Liveness and readiness answers (/healthz, /readyz)."""

from __future__ import annotations

from pydantic import Field

from scheduler_core.schemas.base import CamelModel


class HealthResponse(CamelModel):
    status: str = Field(examples=["ok"])


class ReadinessResponse(CamelModel):
    ready: bool = Field(description="Every dependency answered.")
    checks: dict[str, bool] = Field(description="Each dependency (database, broker) and whether it answered.")
