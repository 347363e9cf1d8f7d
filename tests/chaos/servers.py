"""A watch on the shared PostgreSQL and RabbitMQ themselves, reached directly (through no proxy of the run): other
people's tests on this machine may stop or restart them (the outage scenarios of `make faults` do). An outage the
run did not inject is recorded, so that what happened during it is not blamed on the product unseen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import aio_pika
import asyncpg
from sqlalchemy.engine import make_url

CHECK_EVERY_S: Final = 0.5  # seconds between checks of each server
CHECK_TIMEOUT_S: Final = 2.0  # a server that does not answer within this is counted down
AMQP_HEARTBEAT_S: Final = 1  # seconds: RabbitMQ drops the watch's connection if the watch itself stalls


@dataclass
class Outage:
    server: str  # postgresql | rabbitmq
    began: float  # unix seconds: the first check that failed
    ended: float | None = None  # the first check that succeeded again

    def seconds(self, now: float) -> float:
        return (self.ended or now) - self.began


class ServerWatch:
    def __init__(self, database_url: str, amqp_url: str) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._amqp_url = amqp_url
        self.outages: list[Outage] = []
        self._database: Any = None  # asyncpg.Connection
        self._broker: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        # aio-pika and aiormq log a traceback when the watch's connection breaks, which is what it is there to see.
        for name in ("aiormq", "aio_pika"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self._down: dict[str, Outage] = {}

    async def run(self) -> None:
        """Check both servers, each on its own, until cancelled."""
        try:
            await asyncio.gather(
                self._watch("postgresql", self._check_database), self._watch("rabbitmq", self._check_broker)
            )
        finally:
            await self._close()

    async def _watch(self, server: str, check: Callable[[], Awaitable[bool]]) -> None:
        while True:
            asked = time.time()  # an outage counts from the check that found it, not from when the check gave up
            up = await check()
            if not up and server not in self._down:
                self._down[server] = outage = Outage(server, asked)
                self.outages.append(outage)
            elif up and server in self._down:
                self._down.pop(server).ended = asked
            await asyncio.sleep(CHECK_EVERY_S)

    async def _check_database(self) -> bool:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                if self._database is None or self._database.is_closed():
                    self._database = await asyncpg.connect(self._dsn)
                await self._database.fetchval("SELECT 1")
            return True
        except Exception:  # whatever the reason, the server did not answer: down
            await self._drop_database()
            return False

    async def _check_broker(self) -> bool:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                if self._broker is None or self._broker.is_closed:
                    url = f"{self._amqp_url}{'&' if '?' in self._amqp_url else '?'}heartbeat={AMQP_HEARTBEAT_S}"
                    self._broker = await aio_pika.connect(url)
                    self._channel = await self._broker.channel()
                assert self._channel is not None
                await self._channel.get_exchange("amq.direct", ensure=True)  # a round trip: a passive declare
            return True
        except Exception:  # whatever the reason (aio-pika raises several kinds), the server did not answer: down
            await self._drop_broker()
            return False

    async def _drop_broker(self) -> None:
        broker, self._broker, self._channel = self._broker, None, None
        if broker is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CHECK_TIMEOUT_S):
                    await broker.close()

    async def _drop_database(self) -> None:
        if self._database is not None:
            with contextlib.suppress(Exception):
                self._database.terminate()
            self._database = None

    async def _close(self) -> None:
        await self._drop_database()
        await self._drop_broker()
