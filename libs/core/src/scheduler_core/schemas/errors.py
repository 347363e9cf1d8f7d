"""The one JSON error body of the API (every 4xx and 5xx)."""

from __future__ import annotations

from pydantic import Field

from scheduler_core.schemas.base import CamelModel


class FieldError(CamelModel):
    field: str = Field(description="camelCase name of the field, dotted for nested ones (parameters.url).")
    reason: str


class ErrorResponse(CamelModel):
    error: str = Field(description="Machine-readable kind, e.g. validation_error, not_found, conflict.")
    message: str = Field(description="What went wrong, in a sentence.")
    fields: list[FieldError] = Field(default_factory=list, description="Per-field reasons (422 only).")
