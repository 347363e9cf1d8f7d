"""CPU seconds and resident memory of a system's processes, of its PostgreSQL backends and of RabbitMQ.

CPU is user + system time from /proc (psutil), read at the start and the end of the measured window; a
background sampler also keeps the last value of every process seen in between, so a process (or database
backend) that exits inside the window still counts up to its last sample. PostgreSQL: the backends connected
to the system's own database plus the server's auxiliary processes (WAL writer, checkpointer, ...), never
the backends of other databases. RabbitMQ: the whole beam.smp process, which other users of the same broker
also load (the report says so)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import psutil

from benchmarks.harness.model import Roles
from benchmarks.harness.pg import ADMIN_DSN

GROUPS = ("system", "scheduler", "db", "broker", "machine", "harness")


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    at: float
    cpu: dict[str, dict[int, float]]

    def delta(self, later: CpuSnapshot, group: str) -> float:
        before = self.cpu[group]
        return sum(max(0.0, value - before.get(pid, 0.0)) for pid, value in later.cpu[group].items())


@dataclass(slots=True)
class _Peaks:
    system_rss: int = 0
    scheduler_rss: int = 0


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _tree(pids: tuple[int, ...]) -> list[psutil.Process]:
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            found[pid] = process
            for child in process.children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            continue
    return list(found.values())


def find_rabbitmq_pid() -> int | None:
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if process.info.get("name") == "beam.smp" and "rabbit" in cmdline:
            return int(process.pid)
    return None


@dataclass
class ResourceSampler:
    """Samples while running (`async with`); `snapshot()` reads everything now."""

    roles: Callable[[], Roles]
    database: str | None
    broker: bool
    interval: float = 0.5
    _last: dict[str, dict[int, float]] = field(default_factory=lambda: {g: {} for g in GROUPS})
    _peaks: _Peaks = field(default_factory=_Peaks)
    _db_pids: tuple[int, ...] = ()
    _broker_pid: int | None = None
    _task: asyncio.Task[None] | None = None
    _conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> ResourceSampler:
        if self.broker:
            self._broker_pid = find_rabbitmq_pid()
        if self.database is not None:
            self._conn = await asyncpg.connect(ADMIN_DSN)
            await self._refresh_db_pids()
        self._sample()
        self._task = asyncio.create_task(self._loop(), name="resource-sampler")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    def reset_peaks(self) -> None:
        self._peaks = _Peaks()

    @property
    def peak_system_rss_mb(self) -> float:
        return self._peaks.system_rss / 2**20

    @property
    def peak_scheduler_rss_mb(self) -> float:
        return self._peaks.scheduler_rss / 2**20

    async def snapshot(self) -> CpuSnapshot:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._refresh_db_pids()
        self._sample()
        return CpuSnapshot(asyncio.get_running_loop().time(), {g: dict(v) for g, v in self._last.items()})

    async def _loop(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(self.interval)
            ticks += 1
            if self._conn is not None and ticks % 4 == 0:
                with contextlib.suppress(Exception):
                    await self._refresh_db_pids()
            self._sample()

    async def _refresh_db_pids(self) -> None:
        """The database's backends now; reconnects if the (shared) server restarted meanwhile."""
        assert self._conn is not None
        if self._conn.is_closed():
            self._conn = await asyncpg.connect(ADMIN_DSN)
        rows = await self._conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE (datname = $1 OR datname IS NULL) AND pid <> pg_backend_pid()",
            self.database,
        )
        self._db_pids = tuple(int(row["pid"]) for row in rows)

    def _sample(self) -> None:
        roles = self.roles()
        scheduler = set(roles.scheduler)
        system_rss = scheduler_rss = 0
        for process in _tree(roles.all):
            try:
                with process.oneshot():
                    cpu = _cpu_s(process)
                    rss = int(process.memory_info().rss)
            except psutil.Error:
                continue
            self._last["system"][process.pid] = cpu
            system_rss += rss
            if process.pid in scheduler:
                self._last["scheduler"][process.pid] = cpu
                scheduler_rss += rss
        self._peaks.system_rss = max(self._peaks.system_rss, system_rss)
        self._peaks.scheduler_rss = max(self._peaks.scheduler_rss, scheduler_rss)
        for pid in self._db_pids:
            with contextlib.suppress(psutil.Error):
                self._last["db"][pid] = _cpu_s(psutil.Process(pid))
        if self._broker_pid is not None:
            with contextlib.suppress(psutil.Error):
                self._last["broker"][self._broker_pid] = _cpu_s(psutil.Process(self._broker_pid))
        # Everything the machine did, and the harness itself: what is left is other people's load.
        total = psutil.cpu_times()
        self._last["machine"][0] = float(total.user + total.nice + total.system + total.irq + total.softirq)
        self._last["harness"][0] = _cpu_s(psutil.Process())
