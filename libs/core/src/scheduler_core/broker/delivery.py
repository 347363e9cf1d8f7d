"""Deliveries: one message handed to a consumer, and its settlement (ack, or reject with or without requeue),
which each broker implements over its own transport.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .errors import DeliveryAlreadySettled
from .message import RunMessage


class Delivery(ABC):
    """One delivery of a message, carrying one or more runs, to a consumer; the handler settles it exactly once.

    The runs of one delivery are settled together: acknowledge only once every one of them is accounted for.

    ``ack`` removes the message from the queue. ``reject(requeue=True)`` hands it back for another (or the
    same) consumer, which then sees ``redelivered=True``; ``reject(requeue=False)`` drops it.

    Settling a delivery whose consumer has already handed it back (the consumer was cancelled, or the
    connection that carried it dropped) is a logged no-op: the broker has already requeued the message, so it
    will be delivered again with ``redelivered=True``. Settling twice raises :class:`DeliveryAlreadySettled`.
    """

    __slots__ = ("_settled", "messages", "redelivered")

    def __init__(self, messages: tuple[RunMessage, ...], *, redelivered: bool) -> None:
        if not messages:
            raise ValueError("a delivery carries at least one run")
        self.messages = messages
        self.redelivered = redelivered
        self._settled = False

    @property
    def message(self) -> RunMessage:
        """The run of a one-run delivery; ValueError if it carries several (use ``messages``)."""
        if len(self.messages) != 1:
            raise ValueError(f"the delivery carries {len(self.messages)} runs; use .messages")
        return self.messages[0]

    @property
    def settled(self) -> bool:
        """True once ``ack`` or ``reject`` has been called."""
        return self._settled

    async def ack(self) -> None:
        """Acknowledge: the message is done with and leaves the queue."""
        self._mark_settled("ack")
        await self._settle(ack=True, requeue=False)

    async def reject(self, *, requeue: bool) -> None:
        """Reject: ``requeue=True`` puts the message back in the queue, ``requeue=False`` drops it."""
        self._mark_settled("reject")
        await self._settle(ack=False, requeue=requeue)

    def _mark_settled(self, action: str) -> None:
        # Marked before the I/O so that two concurrent calls cannot both go through.
        if self._settled:
            raise DeliveryAlreadySettled(
                f"cannot {action} execution {self.messages[0].execution_id}"
                f"{f' and {len(self.messages) - 1} more' if len(self.messages) > 1 else ''}: delivery already settled"
            )
        self._settled = True

    @abstractmethod
    async def _settle(self, *, ack: bool, requeue: bool) -> None:
        """Send the settlement; never raises for a lost channel (see the class docstring)."""

    def _log_context(self) -> dict[str, Any]:
        first = self.messages[0]
        context: dict[str, Any] = {"execution_id": first.execution_id, "job_id": first.job_id}
        if len(self.messages) > 1:
            context["runs"] = len(self.messages)
        context["redelivered"] = self.redelivered
        return context
