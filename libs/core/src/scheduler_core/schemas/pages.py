"""Paged lists: `items, total, page, perPage, totalPages`."""

from __future__ import annotations

import math
from typing import Final, Generic, Self, TypeVar

from pydantic import Field

from scheduler_core.schemas.base import CamelModel

DEFAULT_PER_PAGE: Final = 20
MAX_PER_PAGE: Final = 100

ItemT = TypeVar("ItemT")


class Page(CamelModel, Generic[ItemT]):
    items: list[ItemT]
    total: int = Field(description="Items matching the filters, over all pages.")
    page: int = Field(description="This page's number, from 1.")
    per_page: int
    total_pages: int

    @classmethod
    def of(cls, items: list[ItemT], *, total: int, page: int, per_page: int) -> Self:
        return cls(items=items, total=total, page=page, per_page=per_page, total_pages=math.ceil(total / per_page))
