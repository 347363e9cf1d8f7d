"""`jobscheduler jobs …` against a real API over HTTP, with the real pipeline behind it (PostgreSQL and SQLite):
the run control options of create and update, why a job paused itself in `show` and `list`, cancel and re-run of
a run, backfill and preview from a date; every refusal prints the API's field reasons and exits non-zero."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner, Result

from scheduler_cli.main import app as cli_app
from scheduler_core.bootstrap import Database
from scheduler_core.observability.http_server import HttpServer
from tests.integration.api.pipeline import Pipeline, open_pipeline
from tests.integration.api.support import API, Tokens, parse_instant
from tests.support.processes import free_port

# Seconds a run may take to reach the state a test waits for (milliseconds when all is well; a cancel needs a
# lease renewal, every 0.2 s in this pipeline).
STATE_DEADLINE_S = 15.0
POLL_INTERVAL_S = 0.05


@dataclass
class Cli:
    """Runs `jobscheduler jobs <args>` in a worker thread (the API answers on this test's event loop)."""

    pipeline: Pipeline
    env: dict[str, str]

    async def __call__(self, *args: str) -> Result:
        def invoke() -> Result:
            return CliRunner().invoke(cli_app, ["jobs", *args], env=self.env)

        return await asyncio.to_thread(invoke)

    async def ok(self, *args: str) -> str:
        result = await self(*args)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    async def refused(self, *args: str, code: int = 1) -> str:
        """The command failed the way the API refusing it should: exit 1 (3 for a 404), the reasons on stderr, each
        line an `error: ` line."""
        result = await self(*args)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        assert result.stderr, result.output
        assert all(line.startswith("error: ") for line in result.stderr.splitlines()), result.stderr
        return result.stderr

    async def job(self, job_id: int) -> dict[str, Any]:
        response = await self.pipeline.client.get(f"{API}/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    async def runs(self, job_id: int) -> list[dict[str, Any]]:
        response = await self.pipeline.client.get(f"{API}/jobs/{job_id}/history")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def until(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        """The probe's first truthy answer, within STATE_DEADLINE_S."""
        try:
            async with asyncio.timeout(STATE_DEADLINE_S):
                while True:
                    if value := await probe():
                        return value
                    await asyncio.sleep(POLL_INTERVAL_S)
        except TimeoutError:
            raise AssertionError(f"{what}: not within {STATE_DEADLINE_S} s") from None


@pytest.fixture
def api_logs_apart() -> Iterator[None]:
    """The API's log lines go to the test's output, never into a command's: CliRunner swaps sys.stdout while a
    command runs, and structlog's default logger prints to the sys.stdout of the moment (a WriteLogger keeps the
    stream it was given)."""
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.stdout))
    yield
    structlog.configure(**saved)


@pytest.fixture
async def cli(database: Database, tokens: Tokens, api_logs_apart: None) -> AsyncIterator[Cli]:
    async with open_pipeline(database, tokens) as pipeline:
        port = free_port()
        async with HttpServer(pipeline.app, "127.0.0.1", port):
            env = {"SCHEDULER_API_URL": f"http://127.0.0.1:{port}", "SCHEDULER_API_TOKEN": tokens.make()}
            # Wide enough that tables print each row on one line.
            yield Cli(pipeline, env | {"COLUMNS": "250"})


def created_id(stdout: str) -> int:
    match = re.search(r"created job (\d+)", stdout)
    assert match, stdout
    return int(match.group(1))


def iso(instant: datetime) -> str:
    return instant.isoformat()


# --- the job's fields --------------------------------------------------------------------------------------------


async def test_create_and_update_set_the_run_control_fields(cli: Cli) -> None:
    stdout = await cli.ok(
        "create", "--task", "noop", "--every", "1h", "--name", "retried",
        "--max-retries", "3", "--retry-delay", "5", "--backoff", "1.5", "--retry-max-delay", "60",
        "--overlap", "queue", "--pause-after-failures", "4",
    )  # fmt: skip
    job_id = created_id(stdout)
    fields = ("maxRetries", "retryDelaySeconds", "retryBackoffFactor", "retryMaxDelaySeconds", "overlapPolicy")
    job = await cli.job(job_id)
    assert [job[name] for name in (*fields, "pauseAfterFailures")] == [3, 5, 1.5, 60, "queue", 4]

    await cli.ok("update", str(job_id), "--overlap", "replace", "--max-retries", "0", "--every", "30m")
    job = await cli.job(job_id)
    assert [job[name] for name in fields] == [0, 5, 1.5, 60, "replace"]
    assert (job["intervalHours"], job["intervalMinutes"]) == (None, 30)  # --every replaces the whole interval

    shown = json.loads(await cli.ok("show", str(job_id)))
    assert shown["overlapPolicy"] == "replace"
    assert shown["pausedReason"] is None


async def test_field_errors_print_the_api_reasons_and_exit_non_zero(cli: Cli) -> None:
    too_many = await cli.refused("create", "--task", "noop", "--every", "1h", "--max-retries", "11")
    assert "POST /jobs -> 422" in too_many
    assert re.search(r"^error: POST /jobs -> 422: maxRetries: .*10", too_many, flags=re.MULTILINE), too_many

    delays = ("--retry-delay", "600", "--retry-max-delay", "60")
    short = await cli.refused("create", "--task", "noop", "--every", "1h", *delays)
    assert "-> 422: retryMaxDelaySeconds: must not be less than retryDelaySeconds (600)" in short

    job_id = created_id(await cli.ok("create", "--task", "noop", "--every", "1h"))
    slow = await cli.refused("update", str(job_id), "--backoff", "0.5")
    assert f"PUT /jobs/{job_id} -> 422" in slow
    assert ": retryBackoffFactor: " in slow
    assert (await cli.job(job_id))["retryBackoffFactor"] == 2.0  # nothing written

    unknown = await cli("create", "--task", "noop", "--every", "1h", "--overlap", "sometimes")
    assert unknown.exit_code == 2  # a usage error: the CLI knows the three policies
    assert "sometimes" in unknown.output


# --- pause after failures -------------------------------------------------------------------------------------


async def test_a_job_that_paused_itself_says_why_until_resumed(cli: Cli) -> None:
    policy = ("--max-retries", "1", "--retry-delay", "0", "--pause-after-failures", "1")
    job_id = created_id(await cli.ok("create", "--task", "fail", "--every", "1h", *policy))
    await cli.ok("trigger", str(job_id))

    async def paused() -> dict[str, Any] | None:
        job = await cli.job(job_id)
        return job if job["isPaused"] else None

    job = await cli.until("the job pauses itself after its slot failed twice", paused)
    assert job["consecutiveFailures"] == 1

    shown = await cli("show", str(job_id))
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["pausedReason"] == job["pausedReason"]
    assert f"job {job_id} paused itself: paused after 1 consecutive failed run(s)" in shown.stderr
    assert "paused by failures" in await cli.ok("list", "--per-page", "100")

    runs = await cli.runs(job_id)
    first, second = sorted(runs, key=lambda run: run["attempt"])
    history = await cli.ok("history", str(job_id))
    assert f"2 of {first['executionId'][:8]}" in history
    assert second["firstExecutionId"] == first["executionId"]

    await cli.ok("resume", str(job_id))
    resumed = await cli("show", str(job_id))
    assert json.loads(resumed.stdout)["pausedReason"] is None
    assert "paused itself" not in resumed.stderr


# --- cancel and re-run ----------------------------------------------------------------------------------------


async def test_cancel_a_running_run_then_rerun_it(cli: Cli) -> None:
    job_id = created_id(await cli.ok("create", "--task", "sleep", "--every", "1h", "--params", '{"seconds": 60}'))
    triggered = await cli.ok("trigger", str(job_id))
    match = re.search(r"\(execution ([0-9a-f-]{36})\)", triggered)
    assert match, triggered
    execution_id = match.group(1)

    async def status_of(wanted: str, run_id: str) -> bool:
        return any(run["executionId"] == run_id and run["statusName"] == wanted for run in await cli.runs(job_id))

    await cli.until("the run starts", lambda: status_of("running", execution_id))
    assert execution_id in await cli.ok("history", str(job_id))
    cancelled = await cli.ok("cancel", str(job_id), execution_id)
    assert cancelled.startswith("Cancellation requested"), cancelled
    await cli.until("its executor cancels it", lambda: status_of("cancelled", execution_id))

    ended = await cli.refused("cancel", str(job_id), execution_id)
    assert "-> 409" in ended
    assert "has ended already" in ended

    rerun = await cli.ok("rerun", str(job_id), execution_id)
    match = re.search(rf"Run started again: run ([0-9a-f-]{{36}}) \(re-run of {execution_id}\)", rerun)
    assert match, rerun
    new_id = match.group(1)
    new_run = next(run for run in await cli.runs(job_id) if run["executionId"] == new_id)
    assert (new_run["rerunOf"], new_run["trigger"]) == (execution_id, "manual")

    not_ended = await cli.refused("rerun", str(job_id), new_id)
    assert "-> 409" in not_ended
    assert "has not ended yet" in not_ended
    await cli.ok("cancel", str(job_id), new_id)

    missing = await cli.refused("cancel", str(job_id), "00000000-0000-4000-8000-00000000dead", code=3)
    assert "-> 404" in missing


# --- backfill and preview -------------------------------------------------------------------------------------


async def test_backfill_creates_each_slot_once_and_prints_the_api_reasons(cli: Cli) -> None:
    job_id = created_id(await cli.ok("create", "--task", "noop", "--every", "1h"))
    now = datetime.now(UTC)
    past = ("--from", iso(now - timedelta(hours=3)), "--to", iso(now - timedelta(minutes=1)))

    first = await cli.ok("backfill", str(job_id), *past)
    counts = re.search(r"slots: (\d+), created: (\d+), existing: (\d+)", first)
    assert counts, first
    slots = int(counts.group(1))
    assert slots >= 2  # 3 hours of an hourly job, its next slot ahead
    assert counts.groups() == (str(slots), str(slots), "0")
    assert f"slots: {slots}, created: 0, existing: {slots}" in await cli.ok("backfill", str(job_id), *past)
    backfilled = [run for run in await cli.runs(job_id) if run["trigger"] == "backfill"]
    assert len(backfilled) == slots

    future = await cli.refused("backfill", str(job_id), "--from", iso(now), "--to", iso(now + timedelta(days=1)))
    assert "-> 422: to: must not be in the future" in future
    naive = await cli.refused("backfill", str(job_id), "--from", "2026-01-01T00:00:00", "--to", iso(now))
    assert "-> 422: from: " in naive

    every_minute = created_id(await cli.ok("create", "--task", "noop", "--every", "1m"))
    too_many = await cli.refused(
        "backfill", str(every_minute), "--from", iso(now - timedelta(days=2)), "--to", iso(now - timedelta(days=1))
    )
    assert "-> 422: to: the range holds more than 1000 slots" in too_many
    assert [run for run in await cli.runs(every_minute) if run["trigger"] == "backfill"] == []


async def test_preview_from_a_date_shows_the_spring_forward_day(cli: Cli) -> None:
    job_id = created_id(await cli.ok("create", "--task", "noop", "--cron", "0 2 * * *", "--timezone", "Europe/Berlin"))
    stdout = await cli.ok("preview", str(job_id), "--from", "2027-03-27T00:00:00+00:00", "--count", "3")
    instants = [parse_instant(value) for value in re.findall(r"^\s+\d+\. (\S+)$", stdout, flags=re.MULTILINE)]
    # 02:00 does not exist on 2027-03-28 in Berlin: that day's run is at the transition, 03:00 CEST.
    assert instants == [
        datetime(2027, 3, 27, 1, tzinfo=UTC),
        datetime(2027, 3, 28, 1, tzinfo=UTC),
        datetime(2027, 3, 29, 0, tzinfo=UTC),
    ]
    assert "(Europe/Berlin)" in stdout

    default = await cli.ok("preview", str(job_id))
    assert len(re.findall(r"^\s+\d+\. ", default, flags=re.MULTILINE)) == 5

    naive = await cli.refused("preview", str(job_id), "--from", "2027-03-27T00:00:00")
    assert "-> 422: from: " in naive
    too_many = await cli("preview", str(job_id), "--count", "51")
    assert too_many.exit_code == 2


# --- messages and exit codes ----------------------------------------------------------------------------------


async def test_the_api_reason_is_printed_verbatim_on_one_line_per_field(cli: Cli) -> None:
    both = await cli.refused("create", "--task", "noop", "--every", "5m", "--cron", "0 2 * * *")
    assert both == (
        "error: POST /jobs -> 422: cronExpression: give either a cron expression or an interval, not both "
        "(also got intervalMinutes)\n"
    )
    # Several fields refused at once: a line each (as many as the API names).
    bad = await cli.refused("create", "--task", "noop", "--every", "1h", "--max-retries", "11", "--backoff", "0.5")
    lines = bad.splitlines()
    assert lines[0].startswith("error: POST /jobs -> 422: "), bad
    assert any(": maxRetries: " in line for line in lines), bad


async def test_each_kind_of_failure_has_its_exit_code_and_one_line(cli: Cli, tmp_path: Path) -> None:
    async def failed(code: int, *args: str, env: dict[str, str] | None = None) -> str:
        result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["jobs", *args], env=env or cli.env)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        assert result.stdout == "", result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: "), result.stderr
        return lines[0]

    # 2: usage, by click (unknown option) or by the CLI's own checks, before any request.
    assert "No such option" in (await cli("list", "--colour")).output
    assert (await cli("list", "--colour")).exit_code == 2
    every = await failed(2, "create", "--task", "noop", "--every", "1h30")
    assert every.startswith("error: --every: '1h30' is not a duration"), every
    assert "1h30m" in every
    assert await failed(2, "update", "1") == "error: nothing to change: give at least one option (see --help)"
    assert (await failed(2, "create", "--every", "1h")).startswith("error: --task is required")
    assert (await failed(2, "create", "--task", "noop", "--every", "1h", "--params", "{")).startswith(
        "error: --params: not JSON"
    )
    no_token = cli.env | {"SCHEDULER_API_TOKEN": "", "SCHEDULER_JWT_SECRET": "", "SCHEDULER_DATA_DIR": str(tmp_path)}
    assert (await failed(2, "list", env=no_token)).startswith("error: no token: set SCHEDULER_API_TOKEN")

    # 1: the API refused the request (its reason); 3: what the command names does not exist.
    job_id = created_id(await cli.ok("create", "--task", "noop", "--every", "1h"))
    priority = await failed(1, "update", str(job_id), "--priority", "-99")
    assert priority.startswith(f"error: PUT /jobs/{job_id} -> 422: priority: "), priority
    assert (await failed(3, "show", "999999")).startswith("error: GET /jobs/999999 -> 404: ")
    assert (await failed(3, "trigger", "999999")).startswith("error: POST /jobs/999999/action -> 404: ")
    unknown_task = await failed(3, "create", "--task", "no_such_task", "--every", "1h")
    assert unknown_task.startswith("error: --task: no task function with key 'no_such_task' (known: "), unknown_task
    assert "noop" in unknown_task

    # 4: the token was refused; 5: the API cannot be reached.
    refused = await failed(4, "list", env=cli.env | {"SCHEDULER_API_TOKEN": "not-a-token"})
    assert refused.startswith("error: GET /jobs -> 401: "), refused
    nowhere = cli.env | {"SCHEDULER_API_URL": f"http://127.0.0.1:{free_port()}"}
    unreachable = await failed(5, "list", env=nowhere)
    assert unreachable.startswith(f"error: cannot reach the API at {nowhere['SCHEDULER_API_URL']}/api/v1/scheduler: ")


async def test_an_api_that_cannot_answer_is_exit_5_with_its_message() -> None:
    """A 5xx (here the API's answer while its database is down, from a listener this test starts) is exit 5, like
    an API that cannot be reached: retrying later may work."""
    body = b'{"error":"service_unavailable","message":"the database is not reachable; retry shortly","fields":[]}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        writer.write(head.encode() + b"\r\nconnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        env = {"SCHEDULER_API_URL": f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"}
        result = await asyncio.to_thread(
            CliRunner().invoke, cli_app, ["jobs", "list"], env=env | {"SCHEDULER_API_TOKEN": "t"}
        )
    assert result.exit_code == 5, result.output
    assert result.stderr == "error: GET /jobs -> 503: the database is not reachable; retry shortly\n"


# --- durations, statuses and triggers by name ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "fields"),
    [
        ("90s", {"intervalSeconds": 90}),
        ("2d", {"intervalDays": 2}),
        ("1h30m", {"intervalHours": 1, "intervalMinutes": 30}),
        ("1h30m15s", {"intervalHours": 1, "intervalMinutes": 30, "intervalSeconds": 15}),
        ("1d12h", {"intervalDays": 1, "intervalHours": 12}),
    ],
)
async def test_every_takes_compound_durations(cli: Cli, every: str, fields: dict[str, int]) -> None:
    job = await cli.job(created_id(await cli.ok("create", "--task", "noop", "--every", every)))
    interval = {name: job[name] for name in ("intervalDays", "intervalHours", "intervalMinutes", "intervalSeconds")}
    assert {name: value for name, value in interval.items() if value is not None} == fields


@pytest.mark.parametrize("every", ["1h30", "30x", "m5", "1m1h", "1h 30m", "", "h", "-5m", "1.5h"])
async def test_a_bad_duration_is_a_usage_error_that_shows_the_forms(cli: Cli, every: str) -> None:
    result = await cli("create", "--task", "noop", "--every", every)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: --every: {every!r} is not a duration"), result.stderr
    assert "e.g. 30s, 5m, 90s, 1h30m, 2d, 1h30m15s" in result.stderr


async def test_history_by_status_and_trigger_name(cli: Cli) -> None:
    failing = created_id(await cli.ok("create", "--task", "fail", "--every", "1h", "--max-retries", "0"))
    passing = created_id(await cli.ok("create", "--task", "noop", "--every", "1h"))
    await cli.ok("trigger", str(failing))
    await cli.ok("trigger", str(passing))
    now = datetime.now(UTC)
    await cli.ok("backfill", str(passing), "--from", iso(now - timedelta(hours=2)), "--to", iso(now))

    async def ended() -> bool:
        runs = await cli.runs(failing) + await cli.runs(passing)
        return len(runs) >= 3 and all(run["completedAt"] for run in runs)  # (a backfilled slot may be skipped)

    await cli.until("every run ends", ended)
    runs = {run["executionId"]: run for run in await cli.runs(failing) + await cli.runs(passing)}

    def shown(stdout: str) -> set[str]:
        return set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", stdout)) & set(runs)

    failed = {key for key, run in runs.items() if run["statusName"] == "failed"}
    assert failed
    assert shown(await cli.ok("history", "--status", "failed")) == failed
    assert shown(await cli.ok("history", "--status", "FAILED")) == failed
    assert shown(await cli.ok("history", "--status", "4")) == failed
    manual = {key for key, run in runs.items() if run["trigger"] == "manual"}
    backfilled = {key for key, run in runs.items() if run["trigger"] == "backfill"}
    assert backfilled
    assert shown(await cli.ok("history", "--trigger", "manual")) == manual
    assert shown(await cli.ok("history", str(passing), "--trigger", "backfill")) == backfilled
    assert shown(await cli.ok("history", "--trigger", "backfill", "--status", "failed")) == set()

    unknown = await cli("history", "--status", "exploded")
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        "error: --status: no status 'exploded'; known: pending (1), running (2), success (3), failed (4), "
        "missed (5), skipped (6), cancelled (7), waiting (8)\n"
    )
    assert (await cli("history", "--trigger", "cron")).exit_code == 2


# --- list and follow ----------------------------------------------------------------------------------------------


async def test_list_shows_each_jobs_last_outcome(cli: Cli) -> None:
    failing = created_id(await cli.ok("create", "--task", "fail", "--every", "1h", "--max-retries", "0"))
    passing = created_id(await cli.ok("create", "--task", "noop", "--every", "1h"))
    idle = created_id(await cli.ok("create", "--task", "noop", "--every", "1h"))
    for job_id in (failing, passing):
        await cli.ok("trigger", str(job_id))

    async def ended() -> list[dict[str, Any]] | None:
        last = [(await cli.runs(job_id))[0] for job_id in (failing, passing)]
        return last if all(run["completedAt"] for run in last) else None

    last_failing, last_passing = await cli.until("both runs end", ended)
    listed = await cli.ok("list", "--per-page", "100")
    assert "last outcome" in listed
    rows = {int(line.split("│")[1]): line for line in listed.splitlines() if re.match(r"^│\s*\d+\s*│", line)}
    assert f"failed {last_failing['completedAt']}" in rows[failing]
    assert f"success {last_passing['completedAt']}" in rows[passing]
    assert "failed" not in rows[idle]
    assert "success" not in rows[idle]


async def test_history_follow_prints_a_line_per_new_run_or_status_change(cli: Cli) -> None:
    job_id = created_id(await cli.ok("create", "--task", "noop", "--every", "1h"))
    await cli.ok("trigger", str(job_id))
    older = (await cli.until("a first run ends", lambda: ended_runs(cli, job_id, 1)))[0]
    await cli.ok("trigger", str(job_id))
    first = (await cli.until("a second run ends", lambda: ended_runs(cli, job_id, 2)))[0]
    assert first["executionId"] != older["executionId"]
    # --per-page 1: the newest run is printed; the older one is known but not shown (it does not change).
    command = [sys.executable, "-m", "scheduler_cli", "jobs", "history", str(job_id), "-f", "--poll", "0.1"]
    command += ["--per-page", "1"]
    process = await asyncio.create_subprocess_exec(
        *command, env=os.environ | cli.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    lines: list[str] = []

    async def read_until(wanted: Callable[[str], bool]) -> None:
        assert process.stdout is not None
        async with asyncio.timeout(STATE_DEADLINE_S * 2):  # the subprocess starts in seconds on a busy machine
            while not (lines and wanted(lines[-1])):
                line = await process.stdout.readline()
                assert line, (lines, await process.stderr.read() if process.stderr else b"")
                lines.append(line.decode().rstrip("\n"))

    try:
        await read_until(lambda line: first["executionId"] in line)
        assert lines[0].split() == ["job", "execution", "scheduled", "status", "try", "ms", "result", "/", "error"]
        assert re.match(rf"^\s+{job_id}\s+{first['executionId']}\s+\S+\s+success\s+1\s+\d+", lines[1]), lines
        await cli.ok("trigger", str(job_id))
        second = (await cli.until("the third run ends", lambda: ended_runs(cli, job_id, 3)))[0]
        await read_until(lambda line: second["executionId"] in line and " success " in line)
        await asyncio.sleep(0.5)  # several more polls: nothing changed, so nothing more is printed
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        rest, errors = await process.communicate()
    assert (process.returncode, errors.decode()) == (130, "")  # no traceback
    lines += rest.decode().splitlines()
    assert lines[0].startswith("   job  execution")
    assert sum(line == lines[0] for line in lines) == 1  # the header once, never a table again
    runs = [line.split()[1] for line in lines[1:]]
    statuses = [(line.split()[1], line.split()[3]) for line in lines[1:]]
    assert len(statuses) == len(set(statuses)), lines  # a line per new run or status change, not per poll
    assert set(runs) == {first["executionId"], second["executionId"]}
    assert runs[0] == first["executionId"]


async def ended_runs(cli: Cli, job_id: int, count: int) -> list[dict[str, Any]] | None:
    runs = await cli.runs(job_id)
    return runs if len(runs) >= count and all(run["completedAt"] for run in runs) else None
