"""Notification channels: where events go (create, list, read, update, delete), and each channel's deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from scheduler_api.dependencies import Channels
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import DECIMAL, PageNumber, PerPage
from scheduler_core.schemas import (
    DB_INT_MAX,
    DEFAULT_PER_PAGE,
    DeliveryStatusName,
    NotificationChannelCreate,
    NotificationChannelPage,
    NotificationChannelResponse,
    NotificationChannelUpdate,
    NotificationDeliveryPage,
)

router = APIRouter(tags=["notifications"])

ChannelId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The channel's id."), DECIMAL]
DeliveryStatusFilter = Annotated[
    DeliveryStatusName | None, Query(description="Only deliveries with this status: pending, delivered or failed.")
]


@router.post(
    "/notification-channels",
    status_code=status.HTTP_201_CREATED,
    response_model=NotificationChannelResponse,
    responses=error_responses(422),
    summary="Create a notification channel (a URL and the events it takes)",
)
async def create_channel(body: NotificationChannelCreate, service: Channels) -> NotificationChannelResponse:
    return await service.create_channel(body)


@router.get(
    "/notification-channels",
    response_model=NotificationChannelPage,
    responses=error_responses(422),
    summary="List notification channels",
)
async def list_channels(
    service: Channels, page: PageNumber = 1, per_page: PerPage = DEFAULT_PER_PAGE
) -> NotificationChannelPage:
    channels, total = await service.list_channels(page, per_page)
    return NotificationChannelPage.of(channels, total=total, page=page, per_page=per_page)


@router.get(
    "/notification-channels/{channel_id}",
    response_model=NotificationChannelResponse,
    responses=error_responses(404, 422),
    summary="Get a notification channel (its secret is never returned)",
)
async def get_channel(channel_id: ChannelId, service: Channels) -> NotificationChannelResponse:
    return await service.get_channel(channel_id)


@router.put(
    "/notification-channels/{channel_id}",
    response_model=NotificationChannelResponse,
    responses=error_responses(404, 422),
    summary="Update a notification channel (partial: only the fields given change)",
)
async def update_channel(
    channel_id: ChannelId, body: NotificationChannelUpdate, service: Channels
) -> NotificationChannelResponse:
    return await service.update_channel(channel_id, body)


@router.delete(
    "/notification-channels/{channel_id}",
    response_model=NotificationChannelResponse,
    responses=error_responses(404, 422),
    summary="Delete a notification channel and its deliveries (pending ones are not sent)",
)
async def delete_channel(channel_id: ChannelId, service: Channels) -> NotificationChannelResponse:
    return await service.delete_channel(channel_id)


@router.get(
    "/notification-channels/{channel_id}/deliveries",
    response_model=NotificationDeliveryPage,
    responses=error_responses(404, 422),
    summary="A channel's deliveries, newest first, with their status",
)
async def list_deliveries(
    channel_id: ChannelId,
    service: Channels,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    status: DeliveryStatusFilter = None,
) -> NotificationDeliveryPage:
    items, total = await service.list_deliveries(channel_id, status, page, per_page)
    return NotificationDeliveryPage.of(items, total=total, page=page, per_page=per_page)
