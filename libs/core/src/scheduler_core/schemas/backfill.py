"""Backfill: run a job's past slots that have no run yet."""

from __future__ import annotations

from typing import Final, Self

from pydantic import Field, model_validator

from scheduler_core.schemas.base import CamelModel, CamelRequest, Instant

MAX_BACKFILL_SLOTS: Final = 1000


class BackfillRequest(CamelRequest):
    from_: Instant = Field(alias="from", description="First instant of the range (ISO 8601 with an offset), inclusive.")
    to: Instant = Field(description="Last instant of the range, inclusive; not in the future.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.to < self.from_:
            raise ValueError("`to` must not be before `from`")
        return self


class BackfillResponse(CamelModel):
    success: bool
    message: str
    slots: int = Field(description="Slots of the job's schedule in the range.")
    created: int = Field(description="Runs created: slots that had no run yet (trigger 'backfill').")
    existing: int = Field(description="Slots that had a run already, left alone (a repeated request creates none).")
    execution_ids: list[str] = Field(description="The runs created, in slot order.")
