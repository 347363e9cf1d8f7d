"""Server-level faults for the fault scenarios that need the server itself: RabbitMQ's node crashed and restarted
(what a proxy cannot fake: messages surviving the broker's own restart), RabbitMQ's consumer timeout lowered.
Every other outage is a cut through proxies the test owns (tests/support/proxy.py). Each is a context manager
that always restores the server (and waits until it answers again) when the block ends, whatever happened
inside it.

These touch servers other test runs may share: keep the blocks to seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

# Seconds to wait for a server to come back before the restore is declared failed.
RESTORE_TIMEOUT_S = 120.0
# Seconds between readiness probes.
PROBE_INTERVAL_S = 0.1

# Restores still owed, by server: set when an outage begins, cleared once the block restored it. A test that times
# out inside an outage block never runs the block's `finally` (its coroutine is abandoned), so the fault suite's
# teardown hook calls restore_left_down() to do it synchronously.
_OWED: dict[str, Callable[[], None]] = {}


def restore_left_down() -> list[str]:
    """Synchronously restore every server an interrupted outage block left down; returns what was restored."""
    restored = []
    for name, restore in list(_OWED.items()):
        restore()
        _OWED.pop(name, None)
        restored.append(name)
    return restored


def _run(*args: str, timeout: float = 60.0) -> bool:
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _restore_rabbitmq_sync() -> None:
    deadline = time.monotonic() + RESTORE_TIMEOUT_S
    if not _run("rabbitmqctl", "-q", "status", timeout=30) and not _run("rabbitmqctl", "-q", "start_app"):
        _run("rabbitmq-server", "-detached")
    while not (_run("rabbitmqctl", "-q", "start_app") and _run("rabbitmqctl", "-q", "await_startup")):
        if time.monotonic() > deadline:
            raise RuntimeError("RabbitMQ could not be restored")
        time.sleep(1.0)


async def command(*args: str, timeout: float = 60.0, check: bool = True) -> str:
    """Run a command; its combined output. Raises RuntimeError if it fails and `check` is set."""
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace")
    if check and process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {process.returncode}: {text}")
    return text


@dataclass
class Outage:
    """When a server went down and came back, by the host's clock (seconds since the epoch)."""

    down_at: float = 0.0
    up_at: float | None = None

    @property
    def seconds(self) -> float:
        return (self.up_at or time.time()) - self.down_at


# --- RabbitMQ ------------------------------------------------------------------------------------------------


async def rabbitmq_ready(timeout: float = RESTORE_TIMEOUT_S) -> None:
    """Until the node runs its app again: `start_app` (a no-op on a running app; `await_startup` alone would
    wait forever for an app that was stopped with stop_app), then `await_startup`, retried while the node is
    still booting (after `rabbitmq-server -detached`)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await command("rabbitmqctl", "-q", "start_app", timeout=max(1.0, deadline - time.monotonic()))
            await command("rabbitmqctl", "-q", "await_startup", timeout=max(1.0, deadline - time.monotonic()))
        except (RuntimeError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)
        else:
            return


async def rabbitmq_node_pid() -> int:
    """OS pid of the RabbitMQ node (its beam.smp), as the node itself reports it."""
    output = await command("rabbitmqctl", "eval", "os:getpid().")
    return int(output.strip().strip('"'))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid)


def _proc_state(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"
    return next((line.lower() for line in status.splitlines() if line.startswith("State:")), "")


@asynccontextmanager
async def rabbitmq_killed() -> AsyncIterator[Outage]:
    """SIGKILL of the RabbitMQ node for the block (a crash: no connection is closed cleanly), then
    `rabbitmq-server -detached` and wait until it serves again."""
    outage = Outage()
    pid = await rabbitmq_node_pid()
    _OWED["rabbitmq"] = _restore_rabbitmq_sync
    try:
        os.kill(pid, signal.SIGKILL)
        outage.down_at = time.time()
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:  # noqa: ASYNC110 (another process's state)
            await asyncio.sleep(PROBE_INTERVAL_S)
        yield outage
    finally:
        if not await _rabbitmq_node_answers():
            await command("rabbitmq-server", "-detached", timeout=60)
        await rabbitmq_ready()
        outage.up_at = time.time()
        _OWED.pop("rabbitmq", None)


async def _rabbitmq_node_answers() -> bool:
    try:
        await command("rabbitmqctl", "-q", "status", timeout=30)
    except (RuntimeError, TimeoutError):
        return False
    return True


async def rabbit_env(key: str) -> str:
    """`application:get_env(rabbit, key)` as Erlang text, e.g. ``{ok,1800000}`` or ``undefined``."""
    return (await command("rabbitmqctl", "eval", f"application:get_env(rabbit, {key}).")).strip()


@asynccontextmanager
async def consumer_timeout_lowered(milliseconds: int) -> AsyncIterator[str]:
    """RabbitMQ's consumer_timeout set to `milliseconds` for the block, then restored; yields the previous value.

    A channel reads consumer_timeout when it is opened (RabbitMQ 3.10 rabbit_channel:init), so channels opened
    inside the block keep the low timeout after it: keep the block to the seconds it takes to open them, other
    clients of the broker open theirs with the normal value."""
    previous = await rabbit_env("consumer_timeout")
    _OWED["consumer_timeout"] = lambda: _restore_consumer_timeout_sync(previous)
    try:
        await command("rabbitmqctl", "eval", f"application:set_env(rabbit, consumer_timeout, {milliseconds}).")
        yield previous
    finally:
        await command("rabbitmqctl", "eval", _set_consumer_timeout_expression(previous))
        restored = await rabbit_env("consumer_timeout")
        if restored != previous:
            raise RuntimeError(f"consumer_timeout not restored: {restored} (was {previous})")
        _OWED.pop("consumer_timeout", None)


def _set_consumer_timeout_expression(previous: str) -> str:
    if previous.startswith("{ok,"):
        value = previous.removeprefix("{ok,").removesuffix("}")
        return f"application:set_env(rabbit, consumer_timeout, {value})."
    return "application:unset_env(rabbit, consumer_timeout)."


def _restore_consumer_timeout_sync(previous: str) -> None:
    if not _run("rabbitmqctl", "eval", _set_consumer_timeout_expression(previous)):
        raise RuntimeError(f"consumer_timeout could not be restored to {previous}")


# --- PostgreSQL ----------------------------------------------------------------------------------------------
