"""Path and query parameters shared by the routers: ids and paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from scheduler_core.schemas import DB_INT_MAX, DEFAULT_PER_PAGE, MAX_PER_PAGE

JobId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The job's id.")]
PageNumber = Annotated[int, Query(ge=1, le=DB_INT_MAX, description="Page number, from 1.")]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description=f"Items per page (default {DEFAULT_PER_PAGE}).")]
StatusFilter = Annotated[int | None, Query(ge=1, le=DB_INT_MAX, description="Only executions with this status id.")]
