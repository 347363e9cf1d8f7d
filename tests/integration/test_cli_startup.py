"""The role commands as an operator starts them (`python -m scheduler_cli ...`, real processes): a setting that is
missing or names what is not there stops them with one line and exit code 2, before they connect to anything;
`token` never makes a secret up; `migrate` registers the configured task functions, so that a job can be created
before any executor has started (issue 20)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import jwt
import pytest

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.store.engine import open_engine
from tests.integration.api.support import API, INSTANCE_ID, SECRET, Tokens, api_settings, open_client
from tests.support.databases import fresh_postgres_database, postgres_server, sqlite_url
from tests.support.processes import ROOT, TEST_TASK_MODULES
from tests.support.product import clean_env

# Seconds a command that stops at its settings may take: its imports (a few seconds on a busy machine), no
# connection attempt (a database that does not answer would be retried for SCHEDULER_STARTUP_TIMEOUT, 60 s).
PROMPT_S: Final = 30
# A database nobody listens on: a command that tried it would hang for its start-up timeout, not exit 2.
UNREACHABLE: Final = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"


def jobscheduler(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler_cli", *args],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(ROOT), SCHEDULER_LOG_FORMAT="json", **env),
        capture_output=True,
        text=True,
        timeout=PROMPT_S,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["api"],
            {"SCHEDULER_DATABASE_URL": UNREACHABLE},
            "error: SCHEDULER_JWT_SECRET is not set: the api needs it to verify tokens",
            id="api-without-a-secret",
        ),
        pytest.param(
            ["api"],
            {"SCHEDULER_DATABASE_URL": UNREACHABLE, "SCHEDULER_JWKS_URL": "https://gateway.example/jwks"},
            "error: SCHEDULER_JWKS_URL is set but SCHEDULER_JWT_ALGORITHMS allows no public-key algorithm",
            id="api-jwks-without-its-algorithms",
        ),
        pytest.param(
            ["executor"],
            {"SCHEDULER_DATABASE_URL": UNREACHABLE, "SCHEDULER_TASK_MODULES": '["acme.hris_tasks"]'},
            "error: SCHEDULER_TASK_MODULES: no module named 'acme.hris_tasks'",
            id="executor-missing-task-module",
        ),
        pytest.param(
            ["embedded", "--port", "9"],
            {"SCHEDULER_TASK_MODULES": '["json"]'},
            "error: SCHEDULER_TASK_MODULES: task module 'json' has no `tasks = TaskRouter()`",
            id="embedded-module-without-tasks",
        ),
        pytest.param(
            ["migrate"],
            {"SCHEDULER_DATABASE_URL": UNREACHABLE, "SCHEDULER_TASK_MODULES": '["acme"]'},
            "error: SCHEDULER_TASK_MODULES: no module named 'acme'",
            id="migrate-missing-task-module",
        ),
        pytest.param(
            ["api"],
            {"SCHEDULER_DATABASE_URL": UNREACHABLE, "SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_PORT": "http"},
            "error: SCHEDULER_PORT: Input should be a valid integer",
            id="invalid-setting",
        ),
    ],
)
def test_a_role_stops_at_a_missing_setting_with_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = jobscheduler(tmp_path, *args, **env)

    assert one_error_line(result).startswith(message)
    assert not (tmp_path / "data").exists(), "nothing written: no secret, no database file"


def test_token_refuses_to_make_a_secret_up(tmp_path: Path) -> None:
    result = jobscheduler(tmp_path, "token")

    line = one_error_line(result)
    assert "set SCHEDULER_JWT_SECRET to the API's secret" in line
    assert "data/jwt-secret" in line, "where embedded mode would put one"
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()


def test_token_behind_a_gateway_says_where_tokens_come_from(tmp_path: Path) -> None:
    line = one_error_line(jobscheduler(tmp_path, "token", SCHEDULER_JWKS_URL="https://gateway.example/jwks"))

    assert "get one from the gateway" in line


def test_token_signs_with_the_configured_secret_or_embedded_modes(tmp_path: Path) -> None:
    configured = jobscheduler(tmp_path, "token", SCHEDULER_JWT_SECRET=SECRET)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "jwt-secret").write_text("generated-by-embedded-mode-0123456789abcdef")
    embedded = jobscheduler(tmp_path, "token")

    assert configured.returncode == 0, configured.stderr
    assert jwt.decode(configured.stdout.strip(), SECRET, algorithms=["HS256"])["roles"] == ["super_admin"]
    assert embedded.returncode == 0, embedded.stderr
    claims = jwt.decode(embedded.stdout.strip(), "generated-by-embedded-mode-0123456789abcdef", algorithms=["HS256"])
    assert claims["roles"] == ["super_admin"]


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema yet, of each backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "fresh.db")
        return
    async with postgres_server() as server, fresh_postgres_database(server, migrate=False) as url:
        yield url


async def test_migrate_registers_the_task_modules_so_jobs_can_be_created_before_an_executor(
    tmp_path: Path, empty_database: str
) -> None:
    result = jobscheduler(
        tmp_path,
        "migrate",
        SCHEDULER_DATABASE_URL=empty_database,
        SCHEDULER_TASK_MODULES=json.dumps(TEST_TASK_MODULES),
    )

    assert result.returncode == 0, result.stderr
    assert "database migrated: empty -> " in result.stderr
    assert "task functions registered: noop, sleep, fail, http_request, cleanup_history, " in result.stderr
    async with open_engine(empty_database, pool_size=1) as engine:
        database = Database.of(engine)
        async with database.sessionmaker() as session:
            functions = {task.key: task for task in await database.store.lookups.task_functions(session)}
        assert {"noop", "http_request", "cleanup_history"} <= set(functions)
        assert all(task.is_active for task in functions.values())
        # No executor has ever run against this database: the API takes a job on the noop task all the same.
        settings = api_settings()
        app = create_app(settings, database, instance_id=INSTANCE_ID)
        async with open_client(app, Tokens(settings).headers()) as client:
            created = await client.post(
                f"{API}/jobs", json={"taskFunctionId": functions["noop"].id, "intervalMinutes": 5}
            )
            refused = await client.post(
                f"{API}/jobs",
                json={"taskFunctionId": functions["http_request"].id, "intervalMinutes": 5, "parameters": {}},
            )
    assert created.status_code == 201, created.text
    assert refused.status_code == 422, "parameters are checked against the registered schema"
    assert [problem["field"] for problem in refused.json()["fields"]] == ["parameters.url"]


def test_migrate_again_changes_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "twice.db")
    first = jobscheduler(tmp_path, "migrate", SCHEDULER_DATABASE_URL=url)
    second = jobscheduler(tmp_path, "migrate", SCHEDULER_DATABASE_URL=url)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "database migrated: 0" in second.stderr, "from the head it is at, to the same"
    assert second.stderr.count("task functions registered:") == 1
