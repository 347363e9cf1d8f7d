"""Reading PostgreSQL plans of statements on the partitioned executions (migration 0012): EXPLAIN names each
partition and each partition's index; these map them back to the executions' table and index names, and tell
which partitions hold rows (a sequential scan of an empty partition reads nothing; of a populated one, its rows)."""

from __future__ import annotations

import re

import asyncpg

_CHILDREN = (
    "SELECT c.relname AS child, p.relname AS parent FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
)
_POPULATED = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE c.relkind = 'r' AND c.reltuples > 0"
)


class Plans:
    """The partitions of a database as they are now (read once: make them before)."""

    def __init__(self, parents: dict[str, str], populated: set[str]) -> None:
        self._parents = parents
        self._populated = populated
        names = sorted(parents, key=len, reverse=True)
        self._pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None

    @classmethod
    async def read(cls, connection: asyncpg.Connection) -> Plans:
        parents = {row["child"]: row["parent"] for row in await connection.fetch(_CHILDREN)}
        populated = {row["relname"] for row in await connection.fetch(_POPULATED)}
        return cls(parents, populated)

    def as_parents(self, plan: str) -> str:
        """The plan with each partition, and each partition's index, named as the table or index it belongs to."""
        if self._pattern is None:
            return plan
        return self._pattern.sub(lambda match: self._parents[match.group(1)], plan)

    def populated_seq_scans(self, plan: str) -> list[str]:
        """The partitions holding rows that the plan reads by sequential scan."""
        return [table for table in re.findall(r"Seq Scan on (\w+)", plan) if table in self._populated]
