"""RabbitMQ connections: the first connection of a broker, retried with backoff until its deadline (aio-pika's
robust connection re-opens later losses by itself), the errors that mean "RabbitMQ is not usable right now",
and AMQP URLs made safe to log.
"""

from __future__ import annotations

import asyncio

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

from .errors import BrokerUnavailable

log = structlog.get_logger(__name__)

# Errors that mean "the broker or the connection is not usable right now" (aio-pika's own list: AMQP errors,
# OSError/ConnectionError, RuntimeError for "connection not opened"), plus our own timeouts.
UNAVAILABLE = (TimeoutError, *CONNECTION_EXCEPTIONS)
# Longest single connection attempt, in seconds; a slow handshake is retried until connect_timeout_s.
_MAX_ATTEMPT_S = 10.0
# Pause between connection attempts at start-up, in seconds: doubles from the first value up to the second.
_RETRY_PAUSE_S = (0.25, 5.0)


def redact_url(url: str) -> str:
    """The AMQP URL without its password, for logs and error messages."""
    parsed = URL(url)
    return str(parsed.with_password(None)) if parsed.password is not None else str(parsed)


async def connect(
    url: str, *, connect_timeout_s: float, reconnect_interval_s: float, connection_name: str
) -> AbstractRobustConnection:
    """First connection, retried with backoff until connect_timeout_s; aio-pika handles later losses."""
    safe_url = redact_url(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + connect_timeout_s
    pause = _RETRY_PAUSE_S[0]
    attempt = 0
    error: BaseException | None = None
    while True:
        attempt += 1
        connection = aio_pika.RobustConnection(
            URL(url),
            reconnect_interval=reconnect_interval_s,
            client_properties={"connection_name": connection_name},
        )
        bound = asyncio.timeout_at(deadline)
        try:
            async with bound:
                await connection.connect(timeout=min(_MAX_ATTEMPT_S, connect_timeout_s))
        except UNAVAILABLE as exc:
            await connection.close()
            # Our own deadline cutting an attempt short says less than the previous attempt's error.
            if not (bound.expired() and error is not None):
                error = exc
        else:
            if attempt > 1:
                log.info("broker_connected", url=safe_url, attempts=attempt)
            return connection
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.error("broker_connect_failed", url=safe_url, attempts=attempt, error=repr(error))
            raise BrokerUnavailable(
                f"cannot connect to RabbitMQ at {safe_url} within {connect_timeout_s:g} s "
                f"({attempt} attempts); last error: {error!r}"
            ) from error
        log.warning("broker_connect_retry", url=safe_url, attempt=attempt, error=repr(error))
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, _RETRY_PAUSE_S[1])
