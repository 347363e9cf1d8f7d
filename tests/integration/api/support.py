"""What the API tests share besides fixtures: constants, the token minter, request bodies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from scheduler_core.settings import Settings

# 32+ bytes: PyJWT warns about shorter HMAC keys (and warnings are errors here).
SECRET = "api-test-secret-0123456789abcdef-0123456789"
OTHER_SECRET = "not-the-api-secret-0123456789abcdef-012345"
INSTANCE_ID = "00000000-0000-4000-8000-000000000001"
SUBJECT = "3f1c2b4a-1111-4222-8333-444455556666"
API = "/api/v1/scheduler"


# A directory without index.html: no dashboard, whatever the source tree's services/dashboard/dist holds.
NO_DASHBOARD = Path(__file__).parent


def api_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwt_secret": SECRET,
        "max_priority": 10,
        "instance_timeout": 20.0,
        "dashboard_dir": NO_DASHBOARD,
    }
    return Settings(**(values | overrides))


@dataclass
class Tokens:
    """Mints tokens for the tests; defaults make a valid Super Admin token."""

    settings: Settings

    def make(
        self,
        *,
        roles: Any = ("super_admin",),
        subject: str | None = SUBJECT,
        expires_in: timedelta | None = timedelta(hours=1),
        secret: str = SECRET,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {"iat": now}
        if subject is not None:
            claims["sub"] = subject
        if expires_in is not None:
            claims["exp"] = now + expires_in
        if roles is not None:
            claims[self.settings.role_claim] = list(roles) if isinstance(roles, tuple) else roles
        claims |= extra or {}
        return jwt.encode(claims, secret, algorithm="HS256")

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.make()}"}


@dataclass
class ScheduleChanges:
    """Counts on_schedule_change calls (embedded mode wakes its timekeeper with them)."""

    calls: int = 0

    def __call__(self) -> None:
        self.calls += 1


@dataclass
class TaskIds:
    """Task functions in the catalogue: the built-in ones (as an executor registers them) and one inactive."""

    by_key: dict[str, int] = field(default_factory=dict)

    @property
    def noop(self) -> int:
        return self.by_key["noop"]

    @property
    def http_request(self) -> int:
        return self.by_key["http_request"]

    @property
    def sleep(self) -> int:
        return self.by_key["sleep"]

    @property
    def cleanup_history(self) -> int:
        return self.by_key["cleanup_history"]

    @property
    def inactive(self) -> int:
        return self.by_key["retired"]


@asynccontextmanager
async def open_client(app: FastAPI, headers: dict[str, str] | None = None) -> AsyncIterator[AsyncClient]:
    """An httpx client on the app, with its lifespan running."""
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(app=manager.app), base_url="http://testserver", headers=headers) as client,
    ):
        yield client


def interval_body(task_id: int, **fields: Any) -> dict[str, Any]:
    return {"taskFunctionId": task_id, "nameEn": f"job {uuid.uuid4().hex[:6]}", "intervalMinutes": 30} | fields


def cron_body(task_id: int, **fields: Any) -> dict[str, Any]:
    return {"taskFunctionId": task_id, "nameEn": f"cron {uuid.uuid4().hex[:6]}", "cronExpression": "0 2 * * *"} | fields


async def create_job(client: AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{API}/jobs", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def parse_instant(value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    assert instant.tzinfo is not None, f"{value} has no offset"
    return instant
