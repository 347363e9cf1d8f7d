"""The store of a test's database, found from its engine or session (tests pick the backend per test; the
product picks it once, at start-up)."""

from __future__ import annotations

from functools import cache

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.store import Store
from scheduler_core.store.backends import backend_for


@cache
def _store(url: str) -> Store:
    return backend_for(url).store()


def store_for(engine: AsyncEngine) -> Store:
    return _store(engine.url.render_as_string(hide_password=False))


def store_of(session: AsyncSession) -> Store:
    bind = session.get_bind()
    return _store(bind.engine.url.render_as_string(hide_password=False))


def store_of_maker(sessionmaker: async_sessionmaker[AsyncSession]) -> Store:
    bind = sessionmaker.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return store_for(bind)
