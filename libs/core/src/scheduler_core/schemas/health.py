"""Liveness and readiness answers (/healthz, /readyz)."""

from __future__ import annotations

from pydantic import Field

from scheduler_core.schemas.base import CamelModel


class HealthResponse(CamelModel):
    status: str = Field(examples=["ok"])


class ReadinessWarning(CamelModel):
    """Something that does not stop the service but degrades it, e.g. the database's autovacuum switched off."""

    check: str = Field(description="The dependency it concerns (database).", examples=["database"])
    code: str = Field(description="What is wrong: autovacuum_off, track_counts_off, table_autovacuum_disabled.")
    message: str = Field(description="What it costs and how to fix it.")


class ReadinessResponse(CamelModel):
    ready: bool = Field(description="Every dependency answered.")
    checks: dict[str, bool] = Field(description="Each dependency (database, broker) and whether it answered.")
    warnings: list[ReadinessWarning] = Field(
        description="What degrades the service without stopping it (listed once every dependency answers); a "
        "warning never makes the service unready."
    )
