"""Processes the runner starts: output to a log file, readiness by log line or HTTP, bounded graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_ROOT = REPO_ROOT / "benchmarks"
PRODUCT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The runner's environment without anything of the product's or the peers' own settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCHEDULER_", "CELERY", "VIRTUAL_ENV", "PYTHONPATH", "UV_"))
    }
    env.update(extra)
    return env


class ManagedProcess:
    """A child process in its own session (so its own children can be signalled with it)."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @classmethod
    async def spawn(
        cls, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, cwd: Path = REPO_ROOT
    ) -> ManagedProcess:
        log_path = log_dir / f"{name}.log"
        with log_path.open("wb") as handle:
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=dict(env),
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=handle,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, process, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _check_alive(self) -> None:
        if not self.alive:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")

    async def wait_for_log(self, pattern: str, timeout: float) -> None:
        """Until a line of the log matches `pattern` (a regular expression)."""
        regex = re.compile(pattern)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self._check_alive()
            if self.log_path.exists() and regex.search(self.log_path.read_text(errors="replace")):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self.name}: no /{pattern}/ in its log after {timeout:g} s:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    async def wait_http_ok(self, url: str, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self._check_alive()
            if await asyncio.to_thread(_http_ok, url):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self.name}: {url} not ready after {timeout:g} s:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    async def stop(self, timeout: float = 15.0, sig: signal.Signals = signal.SIGTERM) -> int:
        """Signal the process group, wait up to `timeout` s, then SIGKILL it."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                await self.process.wait()
        # Whatever the leader left in its group (worker threads' helpers): gone too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        returncode = self.process.returncode
        assert returncode is not None
        return returncode


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            status: int = response.status
            return status == 200
    except OSError:
        return False


async def run_checked(argv: Sequence[str], env: Mapping[str, str], timeout: float, cwd: Path = REPO_ROOT) -> str:
    """Run a command to completion; its output, or an error with the output if it failed or timed out."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"{argv[:4]} timed out after {timeout:g} s") from None
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv[:4]))} exited {process.returncode}:\n{text[-3000:]}")
    return text
