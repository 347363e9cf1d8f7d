"""Service roles as real processes (`python -m scheduler_cli <role>`), for kill and restart scenarios."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
TEST_TASK_MODULES = ["scheduler_core.tasks.builtin", "tests.support.tasks"]
# The JWT secret of role processes started here (an api process refuses to start without one).
TEST_JWT_SECRET = "fault-scenarios-secret-of-at-least-32-bytes"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(database_url: str, amqp_url: str, queue_name: str, **extra: str) -> dict[str, str]:
    """Environment of a role process: fast heartbeats so that failures are detected in seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SCHEDULER_DATABASE_URL": database_url,
            "SCHEDULER_AMQP_URL": amqp_url,
            "SCHEDULER_QUEUE_NAME": queue_name,
            "SCHEDULER_TASK_MODULES": json.dumps(TEST_TASK_MODULES),
            "SCHEDULER_HEARTBEAT_INTERVAL": "0.5",
            "SCHEDULER_INSTANCE_TIMEOUT": "2",
            "SCHEDULER_LOCK_TTL": "3",
            "SCHEDULER_SWEEP_INTERVAL": "0.5",
            "SCHEDULER_OUTBOX_DELAY": "1",
            "SCHEDULER_LOG_FORMAT": "json",
            "SCHEDULER_JWT_SECRET": TEST_JWT_SECRET,
        }
    )
    env.update(extra)
    return env


@dataclass
class RoleProcess:
    role: str
    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(f"{self.role} exited {self.process.returncode}: {self.log_tail()}")
                try:
                    response = await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{self.role} not ready after {timeout} s: {self.log_tail()}")
                await asyncio.sleep(0.1)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        self.process.send_signal(sig)

    async def stop(self, timeout: float = 30.0) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


async def start_role(role: str, env: Mapping[str, str], log_dir: Path, *args: str) -> RoleProcess:
    port = free_port()
    log_path = log_dir / f"{role}-{port}.log"
    handle = log_path.open("wb")
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scheduler_cli", role, "--port", str(port), *args,
            env=dict(env), stdout=handle, stderr=asyncio.subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    finally:
        handle.close()
    return RoleProcess(role, process, port, log_path)


def service_token() -> str:
    """A Super Admin token the api processes started here accept."""
    from scheduler_core.auth.tokens import mint_super_admin_token
    from scheduler_core.settings import Settings

    return mint_super_admin_token(Settings(jwt_secret=TEST_JWT_SECRET), TEST_JWT_SECRET)
