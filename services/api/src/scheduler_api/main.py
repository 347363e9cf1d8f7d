"""Standalone API process: `jobscheduler api`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from scheduler_api.app import create_app
from scheduler_api.auth import TokenVerifier
from scheduler_core.bootstrap import ShutdownForced, standalone_role
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.settings import Settings
from scheduler_core.store.models import InstanceStatus

# Seconds between checks that the HTTP server is still running while waiting for a stop.
SERVER_CHECK_INTERVAL_S: Final = 0.5


class ServerStopped(RuntimeError):
    """uvicorn stopped by itself (not asked to): the process exits non-zero for its supervisor to restart it."""


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve the API on settings.host:port until SIGTERM/SIGINT (or `stop`), registered as an `api` instance.
    Refuses to start on a database whose schema is not at head (run `jobscheduler migrate` first); opens the
    broker only so that /readyz can report it and /metrics its queue's depth (the API never publishes: the
    timekeepers relay manual runs). Settings that can verify no token (no SCHEDULER_JWT_SECRET nor JWKS) stop it
    first, before any connection (NoSecretConfigured, AuthConfigError: SettingsError)."""
    verifier = TokenVerifier.from_settings(settings, generate_secret=False)
    async with standalone_role(settings, "api", stop) as role:
        app = create_app(
            settings,
            role.database,
            instance_id=role.instance.id,
            mode="standalone",
            broker_ping=role.broker.ping,
            queue_depth=role.broker.queue_depth,
            metrics=role.metrics,
            tracing=role.tracing,
            token_verifier=verifier,
        )
        async with HttpServer(app, settings.host, settings.port, lifespan="on") as server:
            await role.instance.set_status(InstanceStatus.RUNNING)
            while not role.stop.is_set() and not server.failed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(role.stop.wait(), SERVER_CHECK_INTERVAL_S)
        if not role.stop.is_set():
            raise ServerStopped("the API's HTTP server stopped unexpectedly (see the log above)")
        if role.force.is_set():
            raise ShutdownForced("api stopped at once by a second interrupt")
