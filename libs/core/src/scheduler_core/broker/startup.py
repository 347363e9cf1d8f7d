"""Start-up steps on the broker after its connection was made (declaring a presence mark, registering a consumer),
retried while the broker is unavailable, as the first connection is: a blip during start-up heals itself (the
connection reconnects) and must not end the process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import stamina
import structlog

from .errors import BrokerUnavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Seconds between attempts: the first wait, then the longest.
RETRY_WAIT_S: Final = (0.5, 5.0)


async def until_available(step: str, call: Callable[[], Awaitable[T]], *, timeout: float) -> T:
    """call(), retried on BrokerUnavailable with backoff for `timeout` seconds (0: once); then its last error."""
    attempts = 0
    async for attempt in stamina.retry_context(
        on=BrokerUnavailable,
        attempts=None if timeout > 0 else 1,
        timeout=timeout if timeout > 0 else None,
        wait_initial=RETRY_WAIT_S[0],
        wait_max=RETRY_WAIT_S[1],
    ):
        with attempt:
            attempts += 1
            try:
                result = await call()
            except BrokerUnavailable as exc:
                log.warning("broker_step_retry", step=step, attempt=attempts, error=str(exc))
                raise
            if attempts > 1:
                log.info("broker_step_done", step=step, attempts=attempts)
            return result
    raise AssertionError("unreachable: the retries return or raise")
