"""Lookup lists: task functions (what a job can run), job types, execution statuses."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from scheduler_core.schemas.base import CamelModel


class TaskFunctionResponse(CamelModel):
    id: int
    key: str
    name_en: str
    name_ar: str
    description_en: str | None
    description_ar: str | None
    is_active: bool
    parameters_schema: dict[str, Any] | None = Field(description="JSON schema a job's `parameters` must match.")


class JobTypeResponse(CamelModel):
    id: int
    name: str
    name_en: str
    name_ar: str


class ExecutionStatusResponse(CamelModel):
    id: int
    name: str
    name_en: str
    name_ar: str
