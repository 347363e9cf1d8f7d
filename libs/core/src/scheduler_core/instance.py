"""A service process's `scheduler_instance` row: registered at start, heartbeated, marked stopped at exit.

Roles: api, timekeeper, executor, or embedded (all three in one process). Other beats (the executor renewing
its run locks) hook into the same loop so that one timer keeps a process visibly alive."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Self

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store.instances import InstanceStore
from scheduler_core.store.models import InstanceStatus

log = structlog.get_logger(__name__)

BeatHook = Callable[[AsyncSession], Awaitable[None]]


class InstanceLost(RuntimeError):
    """This process was declared dead by the sweep (it stopped heartbeating for too long, e.g. it was
    frozen); its runs were failed. It must exit and be restarted as a new instance."""


class InstanceHeartbeat:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        instances: InstanceStore,
        *,
        role: str,
        mode: str,
        interval: float,
        name: str | None = None,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.host_name = socket.gethostname()[:255]
        self.role = role
        self.mode = mode
        self.name = (name or f"{role}@{self.host_name}:{os.getpid()}")[:255]
        self._sessionmaker = sessionmaker
        self._instances = instances
        self._interval = interval
        self._hooks: list[BeatHook] = []
        self._task: asyncio.Task[None] | None = None
        # Set when the sweep declared this instance dead (it was silent too long): its runs were failed.
        self.lost = asyncio.Event()

    def add_hook(self, hook: BeatHook) -> None:
        self._hooks.append(hook)

    async def __aenter__(self) -> Self:
        async with self._sessionmaker.begin() as session:
            await self._instances.register(
                session,
                {
                    "id": self.id,
                    "instance_name": self.name,
                    "host_name": self.host_name,
                    "process_id": os.getpid(),
                    "mode": self.mode,
                    "role": self.role,
                },
            )
        log.info("instance_registered", instance_id=self.id, role=self.role, mode=self.mode)
        self._task = asyncio.create_task(self._beat_forever(), name=f"heartbeat-{self.role}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with self._sessionmaker.begin() as session:
                await self._instances.set_status(session, self.id, InstanceStatus.STOPPED)
        except Exception as exc:  # the database may be gone at shutdown; the sweep will mark us stopped
            log.warning("instance_stop_not_recorded", instance_id=self.id, error=str(exc))

    async def set_status(self, status: str) -> None:
        async with self._sessionmaker.begin() as session:
            await self._instances.heartbeat(session, self.id, status)

    async def beat(self) -> None:
        """One heartbeat (and the hooks), in one transaction."""
        async with self._sessionmaker.begin() as session:
            alive = await self._instances.heartbeat(session, self.id)
            if not alive:
                if not self.lost.is_set():
                    log.error("instance_declared_dead", instance_id=self.id)
                self.lost.set()
                return
            for hook in self._hooks:
                await hook(session)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database restarting: keep trying, the next beat may succeed
                log.warning("heartbeat_failed", instance_id=self.id, error=str(exc))
