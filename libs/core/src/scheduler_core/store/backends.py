"""The backends, and the one place that picks one: from the database URL, once, at start-up."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from scheduler_core.store.backend import Backend


class UnsupportedDatabase(ValueError):
    """The database URL names a backend the scheduler has no store for."""


def backend_for(url: str) -> Backend:
    """The backend of a SQLAlchemy URL: postgresql+asyncpg://… or sqlite+aiosqlite://…."""
    name = make_url(url).get_backend_name()
    if name == "postgresql":
        from scheduler_core.store.postgres import PostgresBackend

        return PostgresBackend()
    if name == "sqlite":
        from scheduler_core.store.sqlite import SqliteBackend

        return SqliteBackend()
    raise UnsupportedDatabase(f"unsupported database {name!r}: use postgresql+asyncpg:// or sqlite+aiosqlite://")
