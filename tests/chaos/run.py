"""One chaos run: a fresh database and queue, the cluster, the seed's job mix and faults, then the settling, the
reading back and the verdict."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.auth.tokens import mint_super_admin_token
from scheduler_core.settings import Settings
from scheduler_core.store.engine import create_engine
from tests.chaos.facts import Facts, JobFact, Snapshot, read_instances, read_runs, snapshot
from tests.chaos.injector import Injector
from tests.chaos.plan import (
    API,
    CHAOS_ENV,
    INSTANCE_TIMEOUT_S,
    TIMEKEEPERS,
    WORK_TICK_S,
    JobSpec,
    plan_faults,
    plan_jobs,
)
from tests.chaos.servers import ServerWatch
from tests.chaos.verdict import Verdict, assess, render, status_findings
from tests.faults.history import history_report
from tests.faults.overlap import read_segments
from tests.support.cluster import CLUSTER_ENV, Cluster, JobRef, create_job, register_test_tasks, settle
from tests.support.databases import fresh_postgres_database, postgres_server
from tests.support.processes import ROOT
from tests.support.rabbit import RabbitAdmin

# Seconds.
SETTLE_S: Final = 10.0  # from the last fault lifted and every process ready to the first look at /status
STATUS_WAIT_S: Final = 5.0  # /status must match the live processes within this
RUNS_END_S: Final = 60.0  # after the timekeepers stopped, for every run to end
OVERHEAD_S: Final = 420.0  # the whole run's bound beyond its fault window: starts, settling, checks, stops
# A run's activity cut where it logged nothing this long (its process was frozen): 10 ticks.
SILENCE_S: Final = 10 * WORK_TICK_S
DEFAULT_AMQP_URL: Final = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass(frozen=True, slots=True)
class Options:
    seed: int
    seconds: float
    out: Path  # the JSON report
    run_dir: Path  # process logs and task logs

    @classmethod
    def of(cls, seed: int, seconds: float, out: Path | None) -> Options:
        root = ROOT / "test-output" / "chaos"
        return cls(seed, seconds, out or root / f"{seed}.json", root / str(seed))


def replay_command(options: Options) -> str:
    return f"make chaos CHAOS_SEED={options.seed} CHAOS_SECONDS={options.seconds:g}"


def progress() -> Callable[[str], None]:
    """A printer of progress lines, each with the seconds since it was made."""
    started = time.monotonic()

    def say(line: str) -> None:
        print(f"[chaos {time.monotonic() - started:7.1f} s] {line}", flush=True)

    return say


async def run(options: Options) -> tuple[Verdict, str]:
    """The run, bounded by its window plus OVERHEAD_S; returns the verdict and the text report."""
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main.cancel)  # `timeout` ends us: clean up the processes first
    if options.run_dir.exists():
        shutil.rmtree(options.run_dir)
    (options.run_dir / "logs").mkdir(parents=True)
    async with asyncio.timeout(options.seconds + OVERHEAD_S):
        facts = await _observe(options, progress())
    verdict = assess(facts)
    verdict.data = {**_header_json(options), "job_ids": _jobs_json(facts), **verdict.data}
    text = render(verdict, _header(options))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(verdict.data, indent=2, default=str))
    return verdict, text


async def _observe(options: Options, say: Callable[[str], None]) -> Facts:
    plan, jobs = plan_faults(options.seed, options.seconds), plan_jobs(options.seed)
    run_dir = options.run_dir
    logs = {name: run_dir / f"{name}.log" for name in ("record", "start", "activity")}
    secret = secrets.token_urlsafe(32)
    token = mint_super_admin_token(Settings(jwt_secret=secret), secret)
    amqp_url = os.environ.get("SCHEDULER_TEST_AMQP_URL", DEFAULT_AMQP_URL)
    queue = f"chaos-{options.seed}-{uuid.uuid4().hex[:8]}"
    say(f"{len(plan)} faults planned over {options.seconds:g} s; {len(jobs)} jobs; logs in {run_dir}")
    async with postgres_server() as server, fresh_postgres_database(server) as database_url:
        engine = create_engine(database_url, pool_size=2)
        cluster = Cluster(database_url, amqp_url, queue, run_dir / "logs", env={**CLUSTER_ENV, **CHAOS_ENV})
        injector = Injector(cluster, {"api": {"SCHEDULER_JWT_SECRET": secret}, "timekeeper": {}, "executor": {}})
        injector.say = say
        watch = ServerWatch(database_url, amqp_url)
        watching = asyncio.create_task(watch.run())
        try:
            await register_test_tasks(engine)
            say("starting api, 2 timekeepers, 3 executors")
            await injector.start_all()
            refs = [await _create(engine, spec, logs) for spec in jobs]
            say("jobs created; faults begin")
            window_start = time.time()
            await injector.inject(plan, time.monotonic())
            say(f"faults over, every process ready: settling {SETTLE_S:g} s")
            await asyncio.sleep(SETTLE_S)
            snapshots = [await _look(engine, injector, token, "after the faults")]
            say("stopping the timekeepers; waiting for every run to end")
            await injector.stop(list(TIMEKEEPERS))
            await settle(engine, RUNS_END_S, strict=False)
            snapshots.append(await _look(engine, injector, token, "at the end"))
            history = await history_report(engine, refs, [logs["record"], logs["start"]])
            runs, instances = await read_runs(engine), await read_instances(engine)
            (run_dir / "runs.json").write_text(json.dumps([asdict(r) for r in runs], default=str, indent=0))
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
            say("stopping every process")
            await injector.close()
            await engine.dispose()
            with contextlib.suppress(Exception):
                await RabbitAdmin(amqp_url).delete_queues([queue])
    return Facts(
        seed=options.seed,
        seconds=options.seconds,
        planned=plan,
        jobs=[
            JobFact(ref.job_id, spec.name, spec.task, spec.max_instances) for ref, spec in zip(refs, jobs, strict=True)
        ],
        history=history,
        activity=read_segments(logs["activity"], silence=SILENCE_S),
        runs=runs,
        instances=instances,
        applied=injector.applied,
        exits=injector.exits,
        starts=injector.starts,
        snapshots=snapshots,
        problems=injector.problems,
        log_dir=str(run_dir / "logs"),
        window_start=window_start,
        outages=watch.outages,
    )


async def _create(engine: AsyncEngine, spec: JobSpec, logs: dict[str, Path]) -> JobRef:
    if spec.task == "record":
        parameters: dict[str, Any] = {"log": str(logs["record"])}
    else:
        parameters = {
            "log": str(logs["activity"]),
            "start_log": str(logs["start"]),
            "seconds": spec.work_s,
            "tick": WORK_TICK_S,
        }
    return await create_job(
        engine,
        task=spec.task,
        interval_seconds=spec.interval_s,
        first_in=spec.first_in_s,
        parameters=parameters,
        name_en=spec.name,
        max_instances=spec.max_instances,
        coalesce=spec.coalesce,
        misfire_grace_time=spec.grace_s,
    )


async def _look(engine: AsyncEngine, injector: Injector, token: str, label: str) -> Snapshot:
    live = injector.live()
    api = live.get(API)
    url = f"http://127.0.0.1:{api.port}" if api is not None else "http://127.0.0.1:9"  # no api: /status fails
    return await snapshot(
        engine,
        url,
        token,
        label,
        {slot: process.pid for slot, process in live.items()},
        status_findings,
        instance_timeout=INSTANCE_TIMEOUT_S,
        wait=STATUS_WAIT_S,
    )


def _commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() or "unknown"
    return "unknown"


def _header(options: Options) -> list[str]:
    return [
        f"chaos seed {options.seed}, {options.seconds:g} s of faults, commit {_commit()}",
        f"replay: {replay_command(options)}",
        f"process and task logs: {options.run_dir}; JSON report: {options.out}",
    ]


def _header_json(options: Options) -> dict[str, Any]:
    return {
        "seed": options.seed,
        "seconds": options.seconds,
        "commit": _commit(),
        "replay": replay_command(options),
        "run_dir": str(options.run_dir),
        "settings": dict(CHAOS_ENV),
        "jobs": [asdict(spec) for spec in plan_jobs(options.seed)],
    }


def _jobs_json(facts: Facts) -> list[dict[str, Any]]:
    return [asdict(job) for job in facts.jobs]
