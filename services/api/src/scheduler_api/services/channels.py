"""Notification channels: create, list, read, update, delete; and a channel's deliveries, newest first.

A channel's secret is write-only: responses say whether one is set (hasSecret), never what it is. The URL is
checked as a URL here (the schema states its form); whether its address may be reached is the outbound guard's
business when a delivery is sent (SCHEDULER_OUTBOUND_ALLOW), and a refusal is the delivery's lastError."""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_api.errors import InvalidInput, NotFound
from scheduler_api.services.context import ServiceContext
from scheduler_api.services.responses import channel_response, delivery_response
from scheduler_core.schemas import (
    DeliveryStatusName,
    FieldError,
    NotificationChannelCreate,
    NotificationChannelResponse,
    NotificationChannelUpdate,
    NotificationDeliveryResponse,
)
from scheduler_core.store.models import NotificationChannel

log = structlog.get_logger(__name__)


def channel_not_found(channel_id: int) -> NotFound:
    return NotFound(f"notification channel {channel_id} does not exist")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be POSTed to, as far as its text tells (its address is the outbound guard's to judge)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"is not a valid URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parsed.host:
        return "has no host"
    if parsed.userinfo:
        return "must not hold credentials (user:password@): every Super Admin can read it"
    return None


class ChannelService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def create_channel(self, data: NotificationChannelCreate) -> NotificationChannelResponse:
        values = data.model_dump(by_alias=False)
        async with self._sessionmaker.begin() as session:
            await self._check(session, values)
            channel = await self._store.channels.create(session, values)
            response = channel_response(channel)
        log.info("notification_channel_created", channel_id=response.id, events=response.events)
        return response

    async def list_channels(self, page: int, per_page: int) -> tuple[list[NotificationChannelResponse], int]:
        async with self._sessionmaker() as session:
            channels, total = await self._store.channels.list(session, page, per_page)
            return [channel_response(channel) for channel in channels], total

    async def get_channel(self, channel_id: int) -> NotificationChannelResponse:
        async with self._sessionmaker() as session:
            return channel_response(await self._existing(session, channel_id))

    async def update_channel(self, channel_id: int, data: NotificationChannelUpdate) -> NotificationChannelResponse:
        """Apply the fields present. Deliveries already written keep their event, and are sent with the channel's
        URL, secret and format as they are when each attempt begins."""
        changes = data.changes()
        async with self._sessionmaker.begin() as session:
            await self._existing(session, channel_id)  # a missing channel is a 404 before any field is judged
            await self._check(session, changes)
            channel = await self._store.channels.update(session, channel_id, changes)
            if channel is None:  # deleted by a concurrent request since
                raise channel_not_found(channel_id)
            response = channel_response(channel)
        log.info("notification_channel_updated", channel_id=channel_id, fields=sorted(changes))
        return response

    async def delete_channel(self, channel_id: int) -> NotificationChannelResponse:
        """Delete the channel and its deliveries: pending ones are not sent."""
        async with self._sessionmaker.begin() as session:
            response = channel_response(await self._existing(session, channel_id))
            await self._store.channels.delete(session, channel_id)
        log.info("notification_channel_deleted", channel_id=channel_id)
        return response

    async def list_deliveries(
        self, channel_id: int, status: DeliveryStatusName | None, page: int, per_page: int
    ) -> tuple[list[NotificationDeliveryResponse], int]:
        async with self._sessionmaker() as session:
            await self._existing(session, channel_id)
            rows, total = await self._store.deliveries.page(session, channel_id, status, page, per_page)
            return [delivery_response(row) for row in rows], total

    async def _existing(self, session: AsyncSession, channel_id: int) -> NotificationChannel:
        """The channel, or NotFound (a 404 naming it)."""
        channel = await self._store.channels.get(session, channel_id)
        if channel is None:
            raise channel_not_found(channel_id)
        return channel

    async def _check(self, session: AsyncSession, values: dict[str, Any]) -> None:
        """The rules the schema cannot state: the URL parses, and every job named exists (and is not deleted)."""
        problems: list[FieldError] = []
        if "url" in values and (problem := url_problem(values["url"])) is not None:
            problems.append(FieldError(field="url", reason=problem))
        for index, job_id in enumerate(values.get("job_ids") or ()):
            if await self._store.jobs.get(session, job_id) is None:
                problems.append(FieldError(field=f"jobIds.{index}", reason=f"no job has id {job_id}"))
        if problems:
            raise InvalidInput(problems)
