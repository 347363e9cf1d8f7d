"""Integration fixtures: RabbitMQ queues per test (deleted afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.rabbit import RabbitAdmin


@pytest.fixture
async def rabbit(amqp_url: str) -> AsyncIterator[RabbitAdmin]:
    admin = RabbitAdmin(amqp_url)
    yield admin
    if admin.queue_names:
        await admin.delete_queues()
