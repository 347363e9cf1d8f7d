"""`jobscheduler`: start a role, migrate, mint a token, operate jobs on a running API and read its audit trail.

Settings come from SCHEDULER_* environment variables (see the README); flags override the few that
differ per invocation (ports, data directory)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from scheduler_cli.audit import audit
from scheduler_cli.channels import channels_app
from scheduler_cli.jobs import jobs_app
from scheduler_cli.settings import load_settings

app = typer.Typer(
    name="jobscheduler",
    help="Distributed job scheduler: api, timekeeper and executor roles over PostgreSQL and RabbitMQ, "
    "or everything in one process (embedded).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(jobs_app, name="jobs")
app.add_typer(channels_app, name="channels")

PortOption = Annotated[int | None, typer.Option("--port", help="HTTP port (default: SCHEDULER_PORT).")]
HealthPortOption = Annotated[
    int | None, typer.Option("--port", help="Health/metrics port (default: SCHEDULER_HEALTH_PORT).")
]
HostOption = Annotated[str | None, typer.Option("--host", help="Bind address (default: SCHEDULER_HOST).")]
# Characters of a display name the audit trail keeps.
NAME_MAX_LENGTH = 255


def exit_codes() -> dict[type[Exception], int]:
    """How a role ends, as its process's exit code (the README lists them; 2 is a usage or settings error: an
    invalid value (settings.py), or one missing or naming what is not there (SettingsError); 7 an executor that
    stopped itself because it could no longer keep its runs' leases: see scheduler_core.leases). Imported here, not
    with the CLI: the broker and the store pull in aio_pika and sqlalchemy, which `--help` and the commands on a
    running API do without."""
    from scheduler_core.broker import BrokerUnavailable
    from scheduler_core.instance import InstanceLost
    from scheduler_core.settings import SettingsError
    from scheduler_core.store.engine import DatabaseUnavailable
    from scheduler_core.store.migration import SchemaNotReady

    return {
        SettingsError: 2,
        SchemaNotReady: 3,
        InstanceLost: 4,
        BrokerUnavailable: 5,
        DatabaseUnavailable: 6,
    }


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a role until it returns; the exceptions a role ends with become exit codes with a message."""
    # The garbage collector: what start-up imported and built (modules, models, the app) lives as long as the
    # process, so it is moved out of the collector's view, and a collection comes after 10,000 new container
    # objects rather than 700 (a run allocates dozens). Embedded at 1,000 runs/s (benchmarks.run): p99
    # lateness 100-132 ms -> 49-53 ms (full collections walked the start-up objects), 0.65 -> 0.59-0.63 s
    # CPU per 1,000 runs.
    import uvloop

    from scheduler_core.bootstrap import FORCED_EXIT_CODE, ShutdownForced, exit_now

    codes = exit_codes()
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        # uvloop: the roles spend most of their time in socket I/O (asyncpg, AMQP), where it is much faster.
        uvloop.run(coroutine)
    except KeyboardInterrupt:  # an interrupt before the role installed its signal handlers
        raise typer.Exit(FORCED_EXIT_CODE) from None
    except ShutdownForced as exc:
        # Recorded and cleaned up; a task's thread that cannot be stopped must not hold the exit (the interpreter
        # would join it), so the process ends here.
        exit_now(str(exc))
    except tuple(codes) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(next(code for kind, code in codes.items() if isinstance(exc, kind))) from None


@app.command()
def embedded(
    port: PortOption = None,
    host: HostOption = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="SQLite file and generated secret (default: ./data).")
    ] = None,
) -> None:
    """Run api + timekeeper + executor in one process (SQLite by default; no services needed)."""
    from scheduler_cli.embedded import serve_embedded

    run(serve_embedded(load_settings(port=port, host=host, data_dir=data_dir)))


@app.command()
def api(port: PortOption = None, host: HostOption = None) -> None:
    """Run the REST API (standalone: needs a migrated database)."""
    from scheduler_api.main import serve

    run(serve(load_settings(port=port, host=host)))


@app.command()
def timekeeper(
    port: HealthPortOption = None,
    host: HostOption = None,
) -> None:
    """Run a timekeeper: claims due jobs, writes and publishes their runs, sweeps lost runs."""
    from scheduler_timekeeper.main import serve

    run(serve(load_settings(health_port=port, host=host)))


@app.command()
def executor(
    port: HealthPortOption = None,
    host: HostOption = None,
) -> None:
    """Run an executor: consumes runs and executes their task functions."""
    from scheduler_executor.main import serve

    run(serve(load_settings(health_port=port, host=host)))


@app.command()
def stack(
    port: PortOption = None,
    timekeepers: Annotated[int, typer.Option(min=1, help="Timekeeper processes.")] = 2,
    executors: Annotated[int, typer.Option(min=1, help="Executor processes.")] = 2,
    log_file: Annotated[Path | None, typer.Option(help="Also append every process's log here.")] = None,
) -> None:
    """Run api + timekeepers + executors as separate processes over PostgreSQL and RabbitMQ (development)."""
    from scheduler_cli.stack import serve_stack

    settings = load_settings(port=port)
    if settings.database_url is None or settings.database_url.startswith("sqlite"):
        typer.echo("error: SCHEDULER_DATABASE_URL must name a PostgreSQL database for the stack", err=True)
        raise typer.Exit(2)
    code = asyncio.run(serve_stack(settings, timekeepers=timekeepers, executors=executors, log_file=log_file))
    raise typer.Exit(code)


@app.command()
def migrate() -> None:
    """Bring the database at SCHEDULER_DATABASE_URL to the latest schema (one transaction), then register the
    task functions of SCHEDULER_TASK_MODULES, so that jobs can be created before an executor has started."""
    from scheduler_core.bootstrap import Database
    from scheduler_core.store.engine import open_engine
    from scheduler_core.store.migration import current_revision, head_revision, upgrade
    from scheduler_core.tasks import TaskRegistry

    settings = load_settings()

    async def _migrate() -> None:
        registry = TaskRegistry.from_modules(settings.task_modules)  # a bad module fails before connecting
        async with open_engine(settings.resolved_database_url(), pool_size=1) as engine:
            before = await current_revision(engine)
            await upgrade(engine)
            database = Database.of(engine)
            # What an executor does at start-up (and goes on doing at each start): the catalogue the API checks
            # a job's task and parameters against.
            async with database.sessionmaker.begin() as session:
                await database.store.lookups.upsert_task_functions(session, registry.specs())
        typer.echo(f"database migrated: {before or 'empty'} -> {head_revision()}", err=True)
        keys = ", ".join(definition.key for definition in registry.definitions())
        typer.echo(f"task functions registered: {keys or 'none'} (SCHEDULER_TASK_MODULES)", err=True)

    run(_migrate())


@app.command()
def token(
    subject: Annotated[
        str | None, typer.Option(help="`sub` claim, 36 characters at most (default: the OS user), e.g. alice.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Display name for the audit trail (default: the subject), e.g. 'Alice Example'."),
    ] = None,
    ttl_hours: Annotated[
        float | None,
        typer.Option(help="Lifetime in hours (default 12, or SCHEDULER_JWT_MAX_LIFETIME if shorter).", min=0.01),
    ] = None,
) -> None:
    """Print a Super Admin JWT (and nothing else) signed with SCHEDULER_JWT_SECRET, or with the secret embedded
    mode generated under the data directory: it never makes a secret up (the API would refuse its tokens). Its
    subject and name are who the audit trail records for changes made with it."""
    from scheduler_core.auth.tokens import (
        SECRET_FILE_NAME,
        SUBJECT_MAX_LENGTH,
        LifetimeTooLong,
        NoSecretConfigured,
        jwt_secret,
        mint_super_admin_token,
    )

    settings = load_settings()
    if subject is not None and not 0 < len(subject) <= SUBJECT_MAX_LENGTH:
        typer.echo(f"error: --subject: 1 to {SUBJECT_MAX_LENGTH} characters (it is stored as created_by_id)", err=True)
        raise typer.Exit(2)
    if name is not None and not 0 < len(name.strip()) <= NAME_MAX_LENGTH:
        typer.echo(f"error: --name: 1 to {NAME_MAX_LENGTH} characters", err=True)
        raise typer.Exit(2)
    try:
        secret = jwt_secret(settings, generate=False)
    except NoSecretConfigured:
        gateway = (
            "; the API takes tokens of the gateway's key set (SCHEDULER_JWKS_URL): get one from the gateway"
            if settings.jwks_url
            else ""
        )
        typer.echo(
            "error: no secret to sign with: set SCHEDULER_JWT_SECRET to the API's secret, or start embedded mode "
            f"(`jobscheduler embedded`, `make run`) once, which generates {settings.data_dir / SECRET_FILE_NAME}"
            f"{gateway}",
            err=True,
        )
        raise typer.Exit(2) from None
    ttl = None if ttl_hours is None else timedelta(hours=ttl_hours)
    try:
        token = mint_super_admin_token(settings, secret, subject=subject, name=name, ttl=ttl)
    except LifetimeTooLong as exc:
        typer.echo(f"error: --ttl-hours: {exc}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(token + "\n")


app.command()(audit)


def main() -> None:
    app()
