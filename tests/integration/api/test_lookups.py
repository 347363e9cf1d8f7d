"""Lookups: task functions, job types, execution statuses."""

from __future__ import annotations

from httpx import AsyncClient

from tests.integration.api.support import API, TaskIds


async def test_task_functions_lists_the_active_ones(client: AsyncClient, tasks: TaskIds) -> None:
    functions = (await client.get(f"{API}/task-functions")).json()

    keys = [function["key"] for function in functions]
    assert set(keys) == {"noop", "sleep", "fail", "http_request", "cleanup_history"}
    http = next(function for function in functions if function["key"] == "http_request")
    assert set(http) == {
        "id",
        "key",
        "nameEn",
        "nameAr",
        "descriptionEn",
        "descriptionAr",
        "isActive",
        "parametersSchema",
    }
    assert (http["id"], http["isActive"]) == (tasks.http_request, True)
    assert "url" in http["parametersSchema"]["required"]


async def test_task_functions_can_include_inactive_ones(client: AsyncClient, tasks: TaskIds) -> None:
    functions = (await client.get(f"{API}/task-functions", params={"include_inactive": "true"})).json()

    retired = [function for function in functions if function["key"] == "retired"]
    assert [(function["id"], function["isActive"]) for function in retired] == [(tasks.inactive, False)]


async def test_job_types(client: AsyncClient) -> None:
    types = (await client.get(f"{API}/job-types")).json()

    assert [(row["id"], row["name"]) for row in types] == [(1, "interval"), (2, "cron")]
    assert all(set(row) == {"id", "name", "nameEn", "nameAr"} and row["nameAr"] for row in types)


async def test_execution_statuses(client: AsyncClient) -> None:
    statuses = (await client.get(f"{API}/execution-statuses")).json()

    assert [(row["id"], row["name"]) for row in statuses] == [
        (1, "pending"),
        (2, "running"),
        (3, "success"),
        (4, "failed"),
        (5, "missed"),
        (6, "skipped"),
        (7, "cancelled"),
        (8, "waiting"),
    ]
    assert all(set(row) == {"id", "name", "nameEn", "nameAr"} for row in statuses)
