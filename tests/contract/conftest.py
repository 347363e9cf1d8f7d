"""Broker fixtures for the contract suite: one ``broker`` fixture parametrized over every implementation.

RabbitMQ runs use a fresh queue per test (uuid) on the server named by ``SCHEDULER_TEST_AMQP_URL`` (default
``amqp://guest:guest@127.0.0.1:5672/``) and delete it afterwards. The RabbitMQ parameter is marked
``rabbitmq`` so ``-m "not rabbitmq"`` runs the in-memory half alone.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from yarl import URL

from scheduler_core.broker import Broker, InMemoryBroker, RabbitMQBroker
from tests.support.proxy import TcpProxy
from tests.support.rabbit import RabbitAdmin

BrokerFactory = Callable[[], Broker]
RabbitFactory = Callable[..., RabbitMQBroker]


@pytest.fixture
def rabbit_admin(amqp_url: str) -> RabbitAdmin:
    return RabbitAdmin(amqp_url)


@pytest.fixture
async def make_rabbit_broker(amqp_url: str, rabbit_admin: RabbitAdmin) -> AsyncIterator[RabbitFactory]:
    """Factory of (not yet entered) RabbitMQ brokers on fresh queues; deletes every queue it named."""
    queue_names: list[str] = []

    def make(url: str | None = None, queue_name: str | None = None, **kwargs: Any) -> RabbitMQBroker:
        name = queue_name or f"test-broker-{uuid.uuid4().hex}"
        if name not in queue_names:
            queue_names.append(name)
        # Short timeouts (seconds) so that a failing test fails fast instead of waiting for production values.
        kwargs.setdefault("publish_timeout_s", 5.0)
        kwargs.setdefault("connect_timeout_s", 5.0)
        kwargs.setdefault("reconnect_interval_s", 0.3)
        return RabbitMQBroker(url or amqp_url, name, **kwargs)

    yield make
    if queue_names:
        await rabbit_admin.delete_queues(queue_names)


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def broker_factory(request: pytest.FixtureRequest, make_rabbit_broker: RabbitFactory) -> BrokerFactory:
    """Makes brokers of the parametrized implementation, not yet entered; all share one queue per test."""
    if request.param == "memory":
        return InMemoryBroker
    queue_name = f"test-broker-{uuid.uuid4().hex}"
    return lambda: make_rabbit_broker(queue_name=queue_name)


@pytest.fixture
async def broker(broker_factory: BrokerFactory) -> AsyncIterator[Broker]:
    async with broker_factory() as entered:
        yield entered


# Runs per message of the ``packing_broker`` fixture: small, so that a test shows full and partial messages.
PACKING = 3


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
async def packing_broker(request: pytest.FixtureRequest, make_rabbit_broker: RabbitFactory) -> AsyncIterator[Broker]:
    """A broker of the parametrized implementation that packs up to PACKING runs into one message."""
    made: Broker
    if request.param == "memory":
        made = InMemoryBroker(runs_per_message=PACKING)
    else:
        made = make_rabbit_broker(runs_per_message=PACKING)
    async with made as entered:
        yield entered


@pytest.fixture
async def tcp_proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    parsed = URL(amqp_url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5672)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
