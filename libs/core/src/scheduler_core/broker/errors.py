"""Broker errors: what publishing, consuming and decoding raise, for callers to catch.

``BrokerUnavailable`` is the one callers handle routinely (retry later); the other two mean bad input or a
programming error.
"""

from __future__ import annotations


class MessageDecodeError(ValueError):
    """The body of a message is not a valid encoded :class:`RunMessage`."""


class BrokerUnavailable(Exception):
    """The broker could not be reached or could not confirm an operation in time.

    Raised by ``publish`` when a message was not confirmed (broker down, timeout, nack, unroutable), by
    entering a broker whose server cannot be reached, and by ``consume``/``queue_depth`` when the server does
    not answer. The caller retries later; a publish that raised may still have enqueued some of its messages,
    which is fine because duplicates are tolerated downstream.
    """


class DeliveryAlreadySettled(RuntimeError):
    """``ack`` or ``reject`` was called on a delivery that was already settled (a programming error)."""
