"""Broker interface and its implementations: RabbitMQ (standalone services), in-memory (embedded mode)."""

from .base import (
    Broker,
    BrokerUnavailable,
    Consumer,
    Delivery,
    DeliveryAlreadySettled,
    Handler,
    MessageDecodeError,
    Presence,
    RunMessage,
    clamp_priority,
)
from .memory import InMemoryBroker
from .rabbitmq import QueueType, RabbitMQBroker, redact_url

__all__ = [
    "Broker",
    "BrokerUnavailable",
    "Consumer",
    "Delivery",
    "DeliveryAlreadySettled",
    "Handler",
    "InMemoryBroker",
    "MessageDecodeError",
    "Presence",
    "QueueType",
    "RabbitMQBroker",
    "RunMessage",
    "clamp_priority",
    "redact_url",
]
