"""The chaos run's processes, by slot, and the faults applied to them: each slot's process is started linked (its
own proxies to PostgreSQL and RabbitMQ), watched until it exits, and restarted when the harness killed it or it
exited on its own. Every exit, fault and restart is recorded with its time (unix seconds) for the verdict."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from tests.chaos.plan import EVERYONE, RESTARTS, SHUTDOWN_GRACE_S, SLOTS, Fault, Kind, Mode, role_of
from tests.support.cluster import Cluster
from tests.support.processes import RoleProcess
from tests.support.proxy import TcpProxy

# Seconds.
READY_TIMEOUT_S: Final = 60.0  # from a start to /readyz; longer is a failed start (killed, started again)
START_ATTEMPTS: Final = 3
RESTART_AFTER_OWN_EXIT_S: Final = 1.0  # as an orchestrator would, after a process exited on its own
TARGET_WAIT_S: Final = 15.0  # a fault waits this long for its targets to be free and ready, else is skipped
TERM_WAIT_S: Final = SHUTDOWN_GRACE_S + 20.0  # a SIGTERM'd process exits within its shutdown grace and some
# Events of a process's log that say why it ended itself.
LAST_WORDS: Final = ("process_fenced", "instance_declared_dead")


@dataclass
class Exit:
    slot: str
    role: str
    pid: int
    returncode: int
    at: float
    cause: str  # what the harness did to end it: sigkill, sigterm, final stop, not ready; "own": nothing
    last_words: list[str] = field(default_factory=list)  # its log lines that say why it ended itself
    log: str = ""


@dataclass
class Applied:
    """A planned fault and what became of it."""

    fault: Fault
    pids: list[int] = field(default_factory=list)
    started: float | None = None
    ended: float | None = None  # when it was lifted (SIGCONT, restore), or its process restarted
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "fault": self.fault.to_json(), "describe": self.fault.describe()}


@dataclass
class Start:
    slot: str
    pid: int
    requested: float
    ready: float | None = None
    failure: str | None = None


@dataclass
class Slot:
    name: str
    process: RoleProcess | None = None
    ready: bool = False
    held: bool = False  # a fault holds it
    starting: bool = False  # a start is under way (one at a time)
    expected: str | None = None  # why the harness expects its process to exit next


class Injector:
    def __init__(self, cluster: Cluster, env_by_role: Mapping[str, Mapping[str, str]]) -> None:
        self._cluster = cluster
        self._env = env_by_role
        self.slots = {name: Slot(name) for name in SLOTS}
        self.exits: list[Exit] = []
        self.applied: list[Applied] = []
        self.starts: list[Start] = []
        self.problems: list[str] = []  # what went wrong that is no fault of the plan: each is an anomaly
        self._everyone = 0  # faults of everyone in force
        self._nobody_cut = asyncio.Event()  # set while none is: starts wait for it
        self._nobody_cut.set()
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.say: Callable[[str], None] = lambda line: None  # progress lines, as things happen

    # --- processes ------------------------------------------------------------------------------------------

    async def start_all(self) -> None:
        await asyncio.gather(*(self._launch(slot) for slot in self.slots.values()))
        failed = [slot.name for slot in self.slots.values() if not slot.ready]
        if failed:
            raise RuntimeError(f"could not start {failed}: {self.problems}")

    def live(self) -> dict[str, RoleProcess]:
        """The running process of each slot that has one."""
        return {
            name: slot.process
            for name, slot in self.slots.items()
            if slot.process is not None and slot.process.process.returncode is None
        }

    async def _launch(self, slot: Slot) -> None:
        """Start the slot's process and wait until it is ready; a start that fails is tried again."""
        if slot.starting:
            return
        slot.starting = True
        try:
            await self._attempts(slot)
        finally:
            slot.starting = False

    async def _attempts(self, slot: Slot) -> None:
        for _ in range(START_ATTEMPTS):
            await self._nobody_cut.wait()  # a process started now would not be cut with everyone else
            if self._closing:
                return
            role = role_of(slot.name)
            [process] = await self._cluster.start(role, 1, self._env[role], linked=True, ready=False)
            start = Start(slot.name, process.pid, time.time())
            self.starts.append(start)
            slot.process = process
            self._spawn(self._watch(slot, process))
            try:
                await process.wait_ready(READY_TIMEOUT_S)
            except AssertionError as failure:  # exited (the watcher saw it), or not ready in time
                start.failure = str(failure).splitlines()[0]
                self.problems.append(f"{slot.name} pid {process.pid} did not start: {start.failure}")
                if process.process.returncode is None:
                    slot.expected = "not ready"
                    signal_process(process, signal.SIGKILL)
                    await process.process.wait()
                continue
            start.ready = time.time()
            slot.ready = True
            self.say(f"{slot.name} pid {process.pid} ready ({start.ready - start.requested:.1f} s)")
            return
        self.problems.append(f"{slot.name}: gave up after {START_ATTEMPTS} failed starts")

    async def _watch(self, slot: Slot, process: RoleProcess) -> None:
        returncode = await process.process.wait()
        cause = slot.expected or "own"
        if slot.process is process:
            slot.expected = None
            slot.ready = False
        self.exits.append(
            Exit(
                slot.name,
                process.role,
                process.pid,
                returncode,
                time.time(),
                cause,
                last_words(process) if cause == "own" else [],
                str(process.log_path),
            )
        )
        self.say(f"{slot.name} pid {process.pid} exited {returncode} ({cause})")
        await self._cluster.stop([process])  # it has exited: this closes its proxies
        # An exit during a start is the start's to handle; any other exit of its own is restarted, as an
        # orchestrator would.
        if cause == "own" and not self._closing and not slot.starting:
            await asyncio.sleep(RESTART_AFTER_OWN_EXIT_S)
            if slot.process is process:
                await self._launch(slot)

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- faults ---------------------------------------------------------------------------------------------

    async def inject(self, plan: list[Fault], window_start: float) -> None:
        """Apply every fault of the plan at its time (window_start: time.monotonic()), and return once all are
        over and every slot's process is ready again."""
        applying = [asyncio.create_task(self._apply(fault, window_start)) for fault in plan]
        await asyncio.gather(*applying)
        await self.wait_ready(READY_TIMEOUT_S * START_ATTEMPTS)

    async def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(slot.ready for slot in self.slots.values()):
            if time.monotonic() > deadline:
                down = [slot.name for slot in self.slots.values() if not slot.ready]
                self.problems.append(f"{down} still not ready {timeout:g} s after the last fault")
                return
            await asyncio.sleep(0.1)

    async def _apply(self, fault: Fault, window_start: float) -> None:
        applied = Applied(fault)
        self.applied.append(applied)
        await asyncio.sleep(max(0.0, window_start + fault.at - time.monotonic()))
        targets = [self.slots[name] for name in fault.targets]
        deadline = time.monotonic() + TARGET_WAIT_S
        while not all(slot.ready and not slot.held for slot in targets):
            if time.monotonic() > deadline:
                busy = [slot.name for slot in targets if not slot.ready or slot.held]
                applied.skipped = f"{busy} busy or not ready for {TARGET_WAIT_S:g} s"
                self.say(f"skipped: {fault.describe()}: {applied.skipped}")
                return
            await asyncio.sleep(0.05)
        for slot in targets:
            slot.held = True
        processes = [slot.process for slot in targets if slot.process is not None]
        applied.pids = [process.pid for process in processes]
        applied.started = time.time()
        self.say(f"{fault.describe()}: pids {applied.pids}")
        if any(process.process.returncode is not None for process in processes):
            applied.skipped = "a target exited as the fault began"
            for slot in targets:
                slot.held = False
            return
        try:
            if fault.kind in RESTARTS:
                await self._stop_and_restart(fault, targets[0], processes[0])
            elif fault.kind in (Kind.PAUSE, Kind.LONG_PAUSE):
                await self._pause(fault, processes[0])
            else:
                await self._cut(fault, processes)
        finally:
            applied.ended = time.time()
            for slot in targets:
                slot.held = False

    async def _stop_and_restart(self, fault: Fault, slot: Slot, process: RoleProcess) -> None:
        slot.expected = fault.kind.value
        signal_process(process, signal.SIGKILL if fault.kind == Kind.KILL else signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.process.wait()), TERM_WAIT_S)
        except TimeoutError:
            self.problems.append(f"{slot.name} pid {process.pid} still running {TERM_WAIT_S:g} s after SIGTERM")
            slot.expected = "sigterm, then sigkill"
            signal_process(process, signal.SIGKILL)
            await process.process.wait()
        await asyncio.sleep(fault.seconds)
        await self._launch(slot)

    async def _pause(self, fault: Fault, process: RoleProcess) -> None:
        signal_process(process, signal.SIGSTOP)
        try:
            await asyncio.sleep(fault.seconds)
        finally:
            signal_process(process, signal.SIGCONT)

    async def _cut(self, fault: Fault, processes: list[RoleProcess]) -> None:
        database = fault.kind in (Kind.DATABASE_ONE, Kind.DATABASE_ALL)
        proxies: list[TcpProxy] = [
            links.database if database else links.broker
            for process in processes
            if (links := self._cluster.links.get(process.pid)) is not None
        ]
        everyone = fault.kind in EVERYONE
        self._everyone += everyone
        if self._everyone:
            self._nobody_cut.clear()
        try:
            for proxy in proxies:
                if fault.mode == Mode.CUT:
                    proxy.cut()
                else:
                    proxy.stall()
            await asyncio.sleep(fault.seconds)
        finally:
            for proxy in proxies:
                proxy.restore()
            self._everyone -= everyone
            if not self._everyone:
                self._nobody_cut.set()

    # --- the end --------------------------------------------------------------------------------------------

    async def stop(self, names: list[str]) -> None:
        """Stop these slots' processes for good (SIGTERM; their exits are recorded as the final stop)."""
        processes = []
        for name in names:
            slot = self.slots[name]
            if slot.process is not None and slot.process.process.returncode is None:
                slot.expected = "final stop"
                processes.append(slot.process)
        await self._cluster.stop(processes, timeout=TERM_WAIT_S)
        await asyncio.sleep(0)  # let the watchers record the exits

    async def close(self) -> None:
        """Stop everything (no restarts from here on) and wait for the watchers."""
        self._closing = True
        self._nobody_cut.set()
        await self.stop(list(self.slots))
        await self._cluster.stop()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)


def signal_process(process: RoleProcess, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just exited
        process.kill(sig)


def last_words(process: RoleProcess) -> list[str]:
    """The lines of a process's log that say why it ended itself (the last few)."""
    if not process.log_path.exists():
        return []
    lines = process.log_path.read_text(errors="replace").splitlines()
    return [line.strip() for line in lines if any(f'"{event}"' in line for event in LAST_WORDS)][-5:]
