"""The lookups contract (scheduler_core.store.lookups, LookupStore), on PostgreSQL and on SQLite: the seeded job
types and execution statuses, and the idempotent upsert of task functions."""

from __future__ import annotations

from scheduler_core.store import Store, TaskFunctionSpec
from scheduler_core.store.models import ExecutionStatus
from tests.contract.store.support import Maker


async def test_lookups_are_seeded_with_english_and_arabic_names(store: Store, sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        types = await store.lookups.job_types(session)
        statuses = await store.lookups.execution_statuses(session)
    assert [(t.id, t.name) for t in types] == [(1, "interval"), (2, "cron")]
    assert [(s.id, s.name) for s in statuses] == [
        (1, "pending"),
        (2, "running"),
        (3, "success"),
        (4, "failed"),
        (5, "missed"),
        (6, "skipped"),
        (7, "cancelled"),
        (8, "waiting"),
    ]
    assert all(row.name_en and row.name_ar for row in types)
    assert all(row.name_en and row.name_ar for row in statuses)
    assert [s.id for s in statuses] == [int(s) for s in ExecutionStatus]


async def test_upsert_task_functions_inserts_then_refreshes(store: Store, sessionmaker: Maker) -> None:
    schema = {"type": "object", "properties": {"url": {"type": "string"}}}
    async with sessionmaker.begin() as session:
        await store.lookups.upsert_task_functions(
            session, [TaskFunctionSpec("http_request", "HTTP request", "طلب", parameters_schema=schema)]
        )
    async with sessionmaker.begin() as session:
        await store.lookups.upsert_task_functions(session, [TaskFunctionSpec("http_request", "HTTP call", "طلب")])
    async with sessionmaker() as session:
        functions = await store.lookups.task_functions(session)
    assert [(f.key, f.name_en, f.parameters_schema, f.is_active) for f in functions] == [
        ("http_request", "HTTP call", None, True)
    ]


async def test_upsert_leaves_the_keys_it_is_not_given_and_functions_are_found_by_id_and_key(
    store: Store, sessionmaker: Maker
) -> None:
    async with sessionmaker.begin() as session:
        await store.lookups.upsert_task_functions(
            session, [TaskFunctionSpec("old", "Old", "قديم"), TaskFunctionSpec("kept", "Kept", "باق")]
        )
    async with sessionmaker.begin() as session:
        # Another executor version provides only `kept`: `old` stays as it is (it may still run elsewhere).
        await store.lookups.upsert_task_functions(session, [TaskFunctionSpec("kept", "Kept again", "باق")])
    async with sessionmaker() as session:
        functions = await store.lookups.task_functions(session, active_only=True)
        by_key = await store.lookups.task_function_by_key(session, "old")
        assert by_key is not None
        by_id = await store.lookups.task_function(session, by_key.id)
        missing = await store.lookups.task_function_by_key(session, "never-registered")
    assert [(f.key, f.name_en, f.is_active) for f in functions] == [("old", "Old", True), ("kept", "Kept again", True)]
    assert by_id is not None
    assert by_id.key == "old"
    assert missing is None
