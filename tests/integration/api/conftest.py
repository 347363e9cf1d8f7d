"""Fixtures of the API suite: the app over a real database (PostgreSQL and SQLite through the `engine` fixture),
httpx clients that run its lifespan, Super Admin tokens, and the task functions jobs are created with."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.settings import Settings
from scheduler_core.store import TaskFunctionSpec
from scheduler_core.store.models import TaskFunction
from scheduler_core.tasks import TaskRegistry
from tests.integration.api.support import INSTANCE_ID, ScheduleChanges, TaskIds, Tokens, api_settings, open_client


@pytest.fixture
def settings() -> Settings:
    return api_settings()


@pytest.fixture
def tokens(settings: Settings) -> Tokens:
    return Tokens(settings)


@pytest.fixture
def database(engine: AsyncEngine) -> Database:
    return Database.of(engine)


@pytest.fixture
def schedule_changes() -> ScheduleChanges:
    return ScheduleChanges()


@pytest.fixture
def app(settings: Settings, database: Database, schedule_changes: ScheduleChanges) -> FastAPI:
    return create_app(settings, database, instance_id=INSTANCE_ID, on_schedule_change=schedule_changes)


@pytest.fixture
async def client(app: FastAPI, tokens: Tokens) -> AsyncIterator[AsyncClient]:
    """A Super Admin's client."""
    async with open_client(app, tokens.headers()) as opened:
        yield opened


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client without a token."""
    async with open_client(app) as opened:
        yield opened


@pytest.fixture
async def tasks(sessionmaker: async_sessionmaker[AsyncSession], database: Database) -> TaskIds:
    lookups = database.store.lookups
    specs = [
        *TaskRegistry.from_modules(["scheduler_core.tasks.builtin"]).specs(),
        TaskFunctionSpec("retired", "Retired task", "مهمة قديمة"),
    ]
    async with sessionmaker.begin() as session:
        await lookups.upsert_task_functions(session, specs)
        # No executor provides it any more (what an operator sees after removing a task module).
        await session.execute(update(TaskFunction).where(TaskFunction.key == "retired").values(is_active=False))
    async with sessionmaker() as session:
        functions = await lookups.task_functions(session)
    return TaskIds({function.key: function.id for function in functions})
