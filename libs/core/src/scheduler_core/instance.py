"""A service process's `scheduler_instance` row: registered at start, heartbeated, marked stopped at exit.

Roles: api, timekeeper, executor, or embedded (all three in one process). Other beats (the executor renewing
its run leases) hook into the same transaction, so that one timer keeps a process visibly alive.

A process the sweep declared stopped while it was in fact alive (paused, or cut off from the database) finds
out at its next heartbeat, which is refused. It does not come back silently under its old id: by default it
registers again as a new instance (an api or timekeeper holds nothing the sweep could have taken); a role that
holds work decides first through `on_declared_stopped` (an executor stops the runs it may no longer finish,
and gives up only if one cannot be stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Self

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store.instances import InstanceStore
from scheduler_core.store.models import InstanceStatus

log = structlog.get_logger(__name__)

# A hook run inside each heartbeat's transaction, given the monotonic instant the heartbeat was sent.
BeatHook = Callable[[AsyncSession, float], Awaitable[None]]
# Decides what a process declared stopped does: True registers it again under a new id, False gives up (`lost`).
DeclaredStoppedPolicy = Callable[[str], Awaitable[bool]]


class InstanceLost(RuntimeError):
    """This process was declared dead by the sweep and holds work it could not stop; it must exit and be
    restarted as a new instance."""


class InstanceHeartbeat:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        instances: InstanceStore,
        *,
        role: str,
        mode: str,
        interval: float,
        instance_timeout: float,
        name: str | None = None,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.host_name = socket.gethostname()[:255]
        self.role = role
        self.mode = mode
        self.name = (name or f"{role}@{self.host_name}:{os.getpid()}")[:255]
        self._sessionmaker = sessionmaker
        self._instances = instances
        self._interval = interval  # seconds between heartbeats
        self._instance_timeout = instance_timeout  # seconds of silence after which the sweep may judge us
        self._hooks: list[BeatHook] = []
        self._task: asyncio.Task[None] | None = None
        self._status = InstanceStatus.STARTING
        # time.monotonic() when the last heartbeat the database accepted was sent (registration counts).
        self.last_ok_sent: float | None = None
        self.on_declared_stopped: DeclaredStoppedPolicy | None = None
        # Called with the new id after registering again (an executor marks the new instance present).
        self.on_reregistered: Callable[[str], Awaitable[None]] | None = None
        # Set when this process was declared dead and gave up (the policy said so): it must exit.
        self.lost = asyncio.Event()

    def add_hook(self, hook: BeatHook) -> None:
        self._hooks.append(hook)

    def is_live(self) -> bool:
        """Whether the sweep still counts this process as live: its last accepted heartbeat is younger than the
        instance timeout (by this process's clock, timed from when it was sent). A timekeeper that is not live
        neither sweeps nor relays: it cannot know what the others see."""
        sent = self.last_ok_sent
        return sent is not None and not self.lost.is_set() and time.monotonic() - sent < self._instance_timeout

    async def __aenter__(self) -> Self:
        await self._register()
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

    async def _register(self) -> None:
        sent = time.monotonic()
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
                    "status": self._status,
                },
            )
        self.last_ok_sent = sent
        log.info("instance_registered", instance_id=self.id, role=self.role, mode=self.mode)

    async def set_status(self, status: str) -> None:
        self._status = status
        async with self._sessionmaker.begin() as session:
            await self._instances.heartbeat(session, self.id, status)

    async def beat(self) -> None:
        """One heartbeat (and the hooks), in one transaction; a refused one hands over to the declared-stopped
        policy."""
        sent = time.monotonic()
        async with self._sessionmaker.begin() as session:
            alive = await self._instances.heartbeat(session, self.id)
            if alive:
                for hook in self._hooks:
                    await hook(session, sent)
        if alive:
            self.last_ok_sent = sent
            return
        await self._declared_stopped()

    async def _declared_stopped(self) -> None:
        old = self.id
        log.error("instance_declared_dead", instance_id=old, role=self.role)
        again = True if self.on_declared_stopped is None else await self.on_declared_stopped(old)
        if not again:
            self.lost.set()
            return
        self.id = str(uuid.uuid4())
        await self._register()
        log.warning("instance_reregistered", instance_id=self.id, previous_instance_id=old, role=self.role)
        if self.on_reregistered is not None:
            await self.on_reregistered(self.id)

    async def _beat_forever(self) -> None:
        while not self.lost.is_set():
            await asyncio.sleep(self._interval)
            try:
                # Bounded: a beat stuck on an unreachable database must not delay the next one once it is back.
                async with asyncio.timeout(max(2 * self._interval, 1.0)):
                    await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database restarting: keep trying, the next beat may succeed
                log.warning("heartbeat_failed", instance_id=self.id, error=str(exc), error_type=type(exc).__name__)
