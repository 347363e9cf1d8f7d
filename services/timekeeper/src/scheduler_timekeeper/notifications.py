"""The notifications' relay: POSTs the deliveries due in the outbox (scheduler_core.store.deliveries) to their
channels, signed, and records each attempt's outcome; a failed attempt is tried again on the persisted backoff
schedule (scheduler_core.notifications.backoff) until it is delivered or given up.

At least once: a delivery is taken for one attempt under a lease (its next_attempt_at moves to the lease's end,
and its attempt count is the attempt's fencing token), sent outside any transaction, and its outcome recorded in
another. A relay that dies between the send and the record leaves the delivery to be sent again when the lease is
over, with the same event id, which the receiver deduplicates. Several timekeepers relay at once without sending a
delivery twice at the same time: the claim skips rows another holds, and the lease keeps them off the rest.

Every request goes through the outbound guard (SCHEDULER_OUTBOUND_ALLOW), redirects are not followed (a 3xx is a
failed attempt), and a response's body is not read beyond its first bytes."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.notifications import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    DeliveryBackoff,
    render_body,
    signature_header,
)
from scheduler_core.observability.metrics import Metrics
from scheduler_core.outbound import OutboundGuard
from scheduler_core.store import AttemptOutcome, DueDelivery, Store

log = structlog.get_logger(__name__)

# Deliveries sent at once; also how many one claim takes, so that a batch takes one timeout at most.
CONCURRENCY: Final = 16
# Seconds to back off after the outbox could not be read or written (the database restarting).
ERROR_BACKOFF_S: Final = 1.0
# Seconds a claimed delivery is held beyond its attempt's timeout, for the claim's and the record's transactions:
# a lease shorter than the attempt would let another relay send it meanwhile.
LEASE_MARGIN_S: Final = 30.0
# Bytes of a refusing response's body kept in the delivery's last_error.
ERROR_BODY_BYTES: Final = 300
USER_AGENT: Final = "jobscheduler-notifications/1"
ATTEMPT_HEADER: Final = "X-Scheduler-Delivery-Attempt"


@dataclass(frozen=True, slots=True)
class Attempt:
    delivered: bool
    status_code: int | None = None
    error: str | None = None


class NotificationRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        metrics: Metrics,
        *,
        guard: OutboundGuard,
        backoff: DeliveryBackoff,
        timeout: float,
        poll_interval: float,
        jitter: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """timeout: seconds an attempt may take in all; poll_interval: seconds between looks at an empty outbox;
        wall_clock: the signature's timestamp (unix seconds), which receivers compare with their own clocks."""
        self._sessionmaker = sessionmaker
        self._store = store
        self._metrics = metrics
        self._guard = guard
        self._backoff = backoff
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._lease = timeout + LEASE_MARGIN_S
        self._jitter = jitter
        self._wall_clock = wall_clock

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; a batch under way is finished first (at most one attempt's timeout)."""
        async with self._guard.client(follow_redirects=False, timeout=self._timeout) as client:
            while not stop.is_set():
                try:
                    busy = await self.relay_once(client) == CONCURRENCY
                    wait = 0.0 if busy else self._poll_interval
                except Exception as exc:
                    log.warning("notification_relay_failed", error=str(exc), error_type=type(exc).__name__)
                    wait = ERROR_BACKOFF_S
                if wait:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=wait)

    async def relay_once(self, client: httpx.AsyncClient) -> int:
        """Send the deliveries due now (one batch) and record their outcomes; returns how many were attempted."""
        async with self._sessionmaker.begin() as session:
            due = await self._store.deliveries.claim_due(session, CONCURRENCY, self._lease)
        if not due:
            return 0
        attempts = await asyncio.gather(*(self._send(client, delivery) for delivery in due))
        await self._record(due, attempts)
        return len(due)

    async def _send(self, client: httpx.AsyncClient, delivery: DueDelivery) -> Attempt:
        body = render_body(delivery.payload, delivery.format)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.event_type,
            ATTEMPT_HEADER: str(delivery.attempt),
        }
        if delivery.secret:
            headers[SIGNATURE_HEADER] = signature_header(delivery.secret, int(self._wall_clock()), body)
        try:
            async with (
                asyncio.timeout(self._timeout),
                client.stream("POST", delivery.url, content=body, headers=headers) as response,
            ):
                if response.is_success:
                    return Attempt(True, response.status_code)
                excerpt = b""
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= ERROR_BODY_BYTES:
                        break
                text = excerpt[:ERROR_BODY_BYTES].decode("utf-8", "replace").strip()
                return Attempt(
                    False, response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else "")
                )
        except TimeoutError:
            return Attempt(False, error=f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:  # the guard's refusals too (OutboundRefused)
            return Attempt(False, error=f"{type(exc).__name__}: {exc}"[:1000])

    async def _record(self, due: Sequence[DueDelivery], attempts: Sequence[Attempt]) -> None:
        async with self._sessionmaker.begin() as session:
            now = await self._store.clock.now(session)
            outcomes = []
            for delivery, attempt in zip(due, attempts, strict=True):
                next_at = None
                if not attempt.delivered:
                    next_at = self._backoff.next_attempt(
                        delivery.attempt, created_at=delivery.created_at, now=now, jitter=self._jitter()
                    )
                outcomes.append(
                    AttemptOutcome(
                        delivery.id, delivery.attempt, attempt.delivered, attempt.status_code, attempt.error, next_at
                    )
                )
            await self._store.deliveries.record(session, outcomes)
        for delivery, outcome in zip(due, outcomes, strict=True):
            self._report(delivery, outcome)

    def _report(self, delivery: DueDelivery, outcome: AttemptOutcome) -> None:
        fields = {
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "delivery_id": delivery.id,
            "attempt": delivery.attempt,
        }
        if outcome.delivered:
            self._metrics.notifications.labels(outcome="delivered").inc()
            log.debug("notification_delivered", status_code=outcome.status_code, **fields)
        elif outcome.next_attempt_at is not None:
            self._metrics.notifications.labels(outcome="retrying").inc()
            log.info(
                "notification_attempt_failed",
                error=outcome.error,
                next_attempt_at=outcome.next_attempt_at.isoformat(),
                **fields,
            )
        else:
            self._metrics.notifications.labels(outcome="failed").inc()
            log.warning("notification_given_up", error=outcome.error, **fields)
