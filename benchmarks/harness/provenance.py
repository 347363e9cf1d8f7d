"""What a results file measured: the commit (full sha, and whether the product's code differed from it) and the
machine (CPU, cores, memory, kernel, Python, the servers' versions and the settings that move the figures)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import aiormq
import asyncpg

from benchmarks.harness import amqp, pg
from benchmarks.harness.procs import REPO_ROOT

#: the paths whose uncommitted changes make a run "dirty": the product's code and the bench itself
MEASURED_PATHS = ("libs", "services", "benchmarks", "pyproject.toml", "uv.lock")
# PostgreSQL settings that change what the bench measures (autovacuum: the soak's slope; the rest: commit cost).
PG_SETTINGS = ("autovacuum", "synchronous_commit", "fsync", "shared_buffers", "max_connections")


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False)
    return result.stdout.rstrip()  # not strip(): porcelain lines start with a space


def revision() -> dict[str, Any]:
    """The commit measured, with the uncommitted files under MEASURED_PATHS (results/ itself excluded)."""
    changed = [
        line[3:]
        for line in _git("status", "--porcelain", "--", *MEASURED_PATHS).splitlines()
        if line and not line[3:].startswith(("benchmarks/results/", "benchmarks/.work/"))
    ]
    return {
        "commit": _git("rev-parse", "HEAD").strip() or "unknown",
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD").strip(),
        "dirty": bool(changed),
        "dirty_files": changed[:50],
    }


def describe_revision(rev: dict[str, Any]) -> str:
    """'a4cb5f2' or 'a4cb5f2 + 3 uncommitted file(s)', for the reports."""
    text = str(rev.get("commit", "unknown"))[:7]
    if rev.get("dirty"):
        text += f" + {len(rev.get('dirty_files', []))} uncommitted file(s) (dirty)"
    return text


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


async def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }
    try:
        connection = await asyncpg.connect(pg.ADMIN_DSN, timeout=10)
        try:
            facts["postgres"] = await connection.fetchval("SHOW server_version")
            facts["postgres_settings"] = {name: await connection.fetchval(f"SHOW {name}") for name in PG_SETTINGS}
        finally:
            await connection.close()
    except (OSError, asyncpg.PostgresError) as exc:
        facts["postgres"] = f"unreachable: {exc}"
    try:
        connection = await aiormq.connect(amqp.AMQP_URL)
        try:
            version = connection.server_properties.get("version", b"?")
            facts["rabbitmq"] = version.decode() if isinstance(version, bytes) else str(version)
        finally:
            await connection.close()
    except (OSError, aiormq.exceptions.AMQPError) as exc:
        facts["rabbitmq"] = f"unreachable: {exc}"
    return facts


def describe_machine(facts: dict[str, Any]) -> str:
    settings = facts.get("postgres_settings") or {}
    pg_text = f"PostgreSQL {facts.get('postgres', '?')}"
    if settings:
        pg_text += " (" + ", ".join(f"{k} {v}" for k, v in settings.items()) + ")"
    return (
        f"{facts.get('cores', '?')} cores ({facts.get('cpu', '?')}), {facts.get('memory_gib', '?')} GiB, "
        f"Linux {facts.get('kernel', '?')}, Python {facts.get('python', '?')}, {pg_text}, "
        f"RabbitMQ {facts.get('rabbitmq', '?')}"
    )
