"""Implementations written once in SQLAlchemy for both backends: statements that need nothing of one database
(no locking clause, upsert or array). The backends use them as they are, or derive from them and replace the
statements where their database offers a better one."""
