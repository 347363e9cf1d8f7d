"""The CLI imports what a command needs when the command runs: `jobscheduler --help` and the commands on a running
API never load the store, the broker or the API (sqlalchemy, aio_pika, fastapi and the services built on them),
which took seconds of a command's start on a busy machine. Checked in a fresh interpreter (this one has them all)."""

from __future__ import annotations

import json
import subprocess
import sys

# Modules the start of the CLI must not load (top-level packages, and the project's heavy ones).
HEAVY = (
    "sqlalchemy",
    "fastapi",
    "aio_pika",
    "aiormq",
    "asyncpg",
    "uvloop",
    "structlog",
    "scheduler_api",
    "scheduler_timekeeper",
    "scheduler_executor",
    "scheduler_core.store",
    "scheduler_core.broker",
    "scheduler_core.schemas",
)


def loaded_after(code: str) -> set[str]:
    """The heavy modules in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    return {name for name in modules if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY)}


def test_importing_the_cli_loads_no_store_broker_or_api() -> None:
    assert loaded_after("import scheduler_cli.main") == set()


def test_help_loads_no_store_broker_or_api() -> None:
    code = (
        "import contextlib, io\n"
        "from scheduler_cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app(['jobs', 'history', '--help'])"
    )
    assert loaded_after(code) == set()


def test_a_command_on_the_api_loads_no_store_broker_or_api() -> None:
    """Settings and the request's client only: `jobs list` against an address where nothing listens (it fails with
    exit 5 after loading everything a request needs)."""
    code = (
        "import contextlib, io, os\n"
        "os.environ |= {'SCHEDULER_API_URL': 'http://127.0.0.1:9', 'SCHEDULER_API_TOKEN': 'x'}\n"
        "from scheduler_cli.main import app\n"
        "with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app(['jobs', 'list'])"
    )
    assert loaded_after(code) == set()
