"""Notification channels as the API edits them: where events go, which events, and how they are signed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import NotificationChannel


class ChannelStore(ABC):
    """Methods never commit: the caller's transaction decides what is atomic."""

    @abstractmethod
    async def create(self, session: AsyncSession, values: Mapping[str, Any]) -> NotificationChannel:
        """Insert a channel from column values; created_at comes from the database clock."""

    @abstractmethod
    async def get(self, session: AsyncSession, channel_id: int) -> NotificationChannel | None: ...

    @abstractmethod
    async def list(self, session: AsyncSession, page: int, per_page: int) -> tuple[list[NotificationChannel], int]:
        """A page of channels ordered by id (1-based `page`), and how many there are."""

    @abstractmethod
    async def update(
        self, session: AsyncSession, channel_id: int, values: Mapping[str, Any]
    ) -> NotificationChannel | None:
        """Set column values and stamp updated_at; None if there is no such channel. Events already in the outbox
        keep the channel they were written for (a changed url or secret applies to their next attempt)."""

    @abstractmethod
    async def delete(self, session: AsyncSession, channel_id: int) -> bool:
        """Delete the channel and its deliveries (pending ones are not sent); False if there is no such channel."""
