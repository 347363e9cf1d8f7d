"""What a chaos run does, decided by its seed alone: the cluster's settings, the job mix and the fault schedule.
Pure (no clock, no I/O): a seed replays the same jobs and the same faults at the same offsets (what the cluster
does in between still depends on the machine)."""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Final

# --- the cluster ---------------------------------------------------------------------------------------------

# The processes, by slot: a slot keeps its name across restarts of its process.
API: Final = "api"
TIMEKEEPERS: Final = ("timekeeper-1", "timekeeper-2")
EXECUTORS: Final = ("executor-1", "executor-2", "executor-3")
SLOTS: Final = (API, *TIMEKEEPERS, *EXECUTORS)


def role_of(slot: str) -> str:
    return slot.rsplit("-", 1)[0]


# Settings of every process (on top of tests.support.processes.service_env and cluster.CLUSTER_ENV), in seconds.
HEARTBEAT_S: Final = 0.5  # service_env's: a silent process is noticed within a second or two
INSTANCE_TIMEOUT_S: Final = 2.0  # service_env's: pauses of 1-6 s cross it, so the silence rules are exercised
# Longer than the longest cut injected (CUT_S) plus a heartbeat and a sweep: a cut of the database, of one process
# or of everyone, is ridden out without a lease expiring; only the long pauses (LONG_PAUSE_BEYOND_LEASE_S) outlast
# it, to exercise the lease-expiry path and the executor's self-fencing.
LOCK_TTL_S: Final = 12.0
SWEEP_S: Final = 0.5  # service_env's: the sweep acts within half a second of a verdict becoming due
# RabbitMQ drops a paused or stalled connection after about 2 heartbeats (2 s), well within the pauses and
# stalls injected: the presence evidence of death comes within them.
AMQP_HEARTBEAT_S: Final = 1
# Longer than the longest task of the mix (WORK_S) with room for a loaded machine: a SIGTERM fails no run.
SHUTDOWN_GRACE_S: Final = 8.0
WATCHDOG_S: Final = 0.1  # the product's default: the overlap bound after a pause is one tick of it
CHAOS_ENV: Final = {
    "SCHEDULER_HEARTBEAT_INTERVAL": str(HEARTBEAT_S),
    "SCHEDULER_INSTANCE_TIMEOUT": str(INSTANCE_TIMEOUT_S),
    "SCHEDULER_LOCK_TTL": str(LOCK_TTL_S),
    "SCHEDULER_SWEEP_INTERVAL": str(SWEEP_S),
    "SCHEDULER_AMQP_HEARTBEAT": str(AMQP_HEARTBEAT_S),
    "SCHEDULER_SHUTDOWN_GRACE": str(SHUTDOWN_GRACE_S),
    "SCHEDULER_WATCHDOG_INTERVAL": str(WATCHDOG_S),
}

# --- the job mix ---------------------------------------------------------------------------------------------

WORK_TICK_S: Final = 0.1  # seconds between a `work` task's activity lines (the overlap check's resolution)
WORK_S: Final = (1.5, 4.0)  # how long a multi-second task works: often longer than its interval


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    task: str  # record | work | work_in_thread
    interval_s: int
    max_instances: int = 1
    coalesce: bool = True
    grace_s: int = 60  # misfire_grace_time
    work_s: float = 0.0  # for work tasks: how long each run works
    first_in_s: float = 2.0  # its first slot, from its creation


def plan_jobs(seed: int) -> list[JobSpec]:
    """The job mix: multi-second `work` tasks (async) and `work_in_thread` tasks (which cannot be cancelled), with
    max_instances 1 and 2, and quick `record` jobs; intervals of 1-3 s, a few with coalesce off, a few with a short
    grace time."""
    rng = random.Random(f"jobs-{seed}")

    def work_s() -> float:
        return round(rng.uniform(*WORK_S), 1)

    def every() -> int:
        return rng.randint(1, 3)

    def first() -> float:
        return round(rng.uniform(2.0, 4.0), 2)

    return [
        JobSpec("work-1", "work", every(), 1, work_s=work_s(), first_in_s=first()),
        JobSpec("work-1-no-coalesce", "work", every(), 1, coalesce=False, work_s=work_s(), first_in_s=first()),
        JobSpec("work-2", "work", every(), 2, work_s=work_s(), first_in_s=first()),
        JobSpec("work-2-short-grace", "work", every(), 2, grace_s=1, work_s=work_s(), first_in_s=first()),
        JobSpec("thread-1", "work_in_thread", every(), 1, work_s=work_s(), first_in_s=first()),
        JobSpec(
            "thread-2-no-coalesce", "work_in_thread", every(), 2, coalesce=False, work_s=work_s(), first_in_s=first()
        ),
        JobSpec("record-1s", "record", 1, first_in_s=first()),
        JobSpec("record-no-coalesce", "record", every(), coalesce=False, first_in_s=first()),
        JobSpec("record-short-grace", "record", every(), grace_s=1, first_in_s=first()),
        JobSpec("record-strict", "record", every(), coalesce=False, grace_s=2, first_in_s=first()),
    ]


# --- the faults ----------------------------------------------------------------------------------------------


class Kind(StrEnum):
    KILL = "sigkill"  # SIGKILL, restarted after `seconds`
    TERM = "sigterm"  # SIGTERM (a graceful stop), restarted after `seconds`
    PAUSE = "sigstop"  # SIGSTOP for `seconds`, then SIGCONT
    LONG_PAUSE = "sigstop-past-lease"  # the same, for longer than the lease: the executor must fence itself
    DATABASE_ONE = "postgres-one"  # one process's link to PostgreSQL, for `seconds`
    DATABASE_ALL = "postgres-all"  # every process's
    BROKER_ONE = "rabbitmq-one"
    BROKER_ALL = "rabbitmq-all"


class Mode(StrEnum):
    CUT = "cut"  # connections reset, new ones refused (TcpProxy.cut)
    STALL = "stall"  # nothing passes, nothing is reset (TcpProxy.stall)


LINK_KINDS: Final = frozenset({Kind.DATABASE_ONE, Kind.DATABASE_ALL, Kind.BROKER_ONE, Kind.BROKER_ALL})
EVERYONE: Final = frozenset({Kind.DATABASE_ALL, Kind.BROKER_ALL})
RESTARTS: Final = frozenset({Kind.KILL, Kind.TERM})
# The faults that open every window (see plan_faults).
OPENING: Final = (Kind.LONG_PAUSE, Kind.KILL, Kind.TERM)
# Every variant a run must include, link faults in both modes.
VARIANTS: Final = tuple(
    (kind, mode) for kind in Kind for mode in ((Mode.CUT, Mode.STALL) if kind in LINK_KINDS else (None,))
)
# How often each kind of a single process is drawn once every variant has been placed.
WEIGHTS: Final = {
    Kind.KILL: 3,
    Kind.TERM: 2,
    Kind.PAUSE: 3,
    Kind.LONG_PAUSE: 1,
    Kind.DATABASE_ONE: 2,
    Kind.BROKER_ONE: 2,
}
# Which slots each kind of a single process may hit: the brief's SIGKILL and SIGTERM are of timekeepers and
# executors; pauses past the lease are of executors (the fencing they exercise is theirs).
ELIGIBLE: Final = {
    Kind.KILL: (*TIMEKEEPERS, *EXECUTORS),
    Kind.TERM: (*TIMEKEEPERS, *EXECUTORS),
    Kind.PAUSE: SLOTS,
    Kind.LONG_PAUSE: EXECUTORS,
    Kind.DATABASE_ONE: SLOTS,
    Kind.BROKER_ONE: SLOTS,
}

# Seconds.
WARMUP_S: Final = 5.0  # from the first slots to the first fault: a baseline of the unharmed cluster
MEAN_GAP_S: Final = 2.5  # between faults of single processes (exponential), before waiting for their target
JITTER_S: Final = 1.5  # a fault that waited for its target starts up to this much after it is free
EVERYONE_EVERY_S: Final = 30.0  # one fault of everyone per this much of the window (4 at least: each variant)
PAUSE_S: Final = (1.0, 6.0)
LONG_PAUSE_BEYOND_LEASE_S: Final = (1.0, 4.0)  # a long pause lasts LOCK_TTL_S plus this
CUT_S: Final = (2.0, 10.0)
KILL_RESTART_S: Final = (1.0, 8.0)  # from the kill to the restart
TERM_RESTART_S: Final = (1.0, 4.0)  # from the exit to the restart
# What a restart may take on a loaded 2-core machine, from the command to /readyz (a slot is not planned busy
# with another fault meanwhile; if it takes longer, the injector waits for it).
START_ALLOWANCE_S: Final = 8.0
REST_S: Final = 1.0  # a slot's quiet time after a fault ends, before the next may hit it
# After a fault of a timekeeper (or of everyone) ends, its sweeps judge nothing until it has observed the database
# for instance_timeout again (scheduler_core.leases.observation_complete).
SWEEPER_RECOVERY_S: Final = INSTANCE_TIMEOUT_S + 2 * SWEEP_S
# A killed executor's runs are failed within a bound only while the sweepers are unharmed (tests.chaos.verdict):
# a kill of an executor waits until no timekeeper has had a fault for SWEEPER_RECOVERY_S, and neither timekeeper
# nor everyone gets one until this long after it, so that every such kill measures the detection bound (5.5 s).
DETECTION_WINDOW_S: Final = 8.0


@dataclass(frozen=True, slots=True)
class Fault:
    at: float  # seconds from the start of the fault window
    kind: Kind
    targets: tuple[str, ...]
    seconds: float  # how long it lasts (pause, cut), or the delay before the restart (kill, term)
    mode: Mode | None = None

    def describe(self) -> str:
        what = self.kind.value if self.mode is None else f"{self.kind.value} ({self.mode.value})"
        whom = "everyone" if self.kind in EVERYONE else ",".join(self.targets)
        how = f"restart after {self.seconds:.1f} s" if self.kind in RESTARTS else f"{self.seconds:.1f} s"
        return f"t+{self.at:.1f} s {what} of {whom}, {how}"

    def occupies(self) -> float:
        """Seconds its targets are planned busy with it."""
        if self.kind == Kind.TERM:
            return self.seconds + SHUTDOWN_GRACE_S / 2 + START_ALLOWANCE_S + REST_S
        if self.kind == Kind.KILL:
            return self.seconds + START_ALLOWANCE_S + REST_S
        return self.seconds + REST_S

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan_faults(seed: int, seconds: float) -> list[Fault]:
    """The faults of a window of `seconds`, in order of time: every variant at least once (in a seeded order), a
    process never has two faults at once, and a fault of everyone none with it.

    The faults that keep a process busy longest (OPENING) open the window, on distinct processes: they could
    fit nowhere else among the rest in a short window. Faults of everyone follow, one in each equal part of the
    rest of the window (each of their variants once, then drawn at random). Faults of single processes come at
    exponential gaps from the start (each remaining variant once, then kinds drawn by WEIGHTS), each delayed
    until its target is free and clear of the faults of everyone."""
    rng = random.Random(f"faults-{seed}")
    free_at = dict.fromkeys(SLOTS, WARMUP_S)
    planned: list[Fault] = []
    clock = WARMUP_S
    for kind in OPENING:  # its kill is of an executor: every run measures the detection of one at least
        fault = _single(rng, kind, None, clock, free_at, [], EXECUTORS if kind == Kind.KILL else None)
        if fault.at + fault.seconds < seconds:
            planned.append(fault)
            _occupy(free_at, fault)
        clock += rng.uniform(0.0, JITTER_S)
    everyone = _everyone(rng, max(free_at.values()), seconds)
    planned += everyone
    first = [variant for variant in VARIANTS if variant[0] not in EVERYONE and variant[0] not in OPENING]
    rng.shuffle(first)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    clock = WARMUP_S
    while True:
        clock += rng.expovariate(1.0 / MEAN_GAP_S)
        if clock >= seconds:
            break
        if first:
            kind, mode = first.pop()
        else:
            kind = rng.choices(kinds, weights)[0]
            mode = rng.choice((Mode.CUT, Mode.STALL)) if kind in LINK_KINDS else None
        fault = _single(rng, kind, mode, clock, free_at, everyone)
        if fault.at + fault.seconds >= seconds:  # would not end within the window
            if (kind, mode) not in {(f.kind, f.mode) for f in planned}:
                first.insert(0, (kind, mode))  # a variant not yet placed: try it again after the others
            continue
        planned.append(fault)
        _occupy(free_at, fault)
    return sorted(planned, key=lambda fault: (fault.at, fault.targets))


def _clean_kill(kind: Kind, target: str) -> bool:
    return kind == Kind.KILL and target in EXECUTORS


def _occupy(free_at: dict[str, float], fault: Fault) -> None:
    free_at[fault.targets[0]] = fault.at + fault.occupies()
    if _clean_kill(fault.kind, fault.targets[0]):
        for timekeeper in TIMEKEEPERS:
            free_at[timekeeper] = max(free_at[timekeeper], fault.at + DETECTION_WINDOW_S)


def _everyone(rng: random.Random, start: float, seconds: float) -> list[Fault]:
    """Faults of everyone, one in each equal part of [start, seconds)."""
    count = max(len(EVERYONE) * len(Mode), int(seconds // EVERYONE_EVERY_S))
    variants = [variant for variant in VARIANTS if variant[0] in EVERYONE]
    rng.shuffle(variants)
    part = (seconds - start) / count
    placed = []
    for index in range(count):
        if index < len(variants):
            kind, mode = variants[index]
        else:
            kind, mode = rng.choice(sorted(EVERYONE)), rng.choice(list(Mode))
        longest = min(CUT_S[1], part - REST_S - JITTER_S)
        if longest < CUT_S[0]:
            continue  # a window too short for this many
        length = rng.uniform(CUT_S[0], longest)
        at = start + index * part + rng.uniform(0.0, part - length - REST_S)
        placed.append(Fault(_later(at), kind, SLOTS, round(length, 2), mode))
    return placed


def _single(
    rng: random.Random,
    kind: Kind,
    mode: Mode | None,
    clock: float,
    free_at: dict[str, float],
    everyone: list[Fault],
    among: tuple[str, ...] | None = None,
) -> Fault:
    eligible = among or ELIGIBLE[kind]
    idle = [slot for slot in eligible if free_at[slot] <= clock]
    target = rng.choice(idle) if idle else min(eligible, key=lambda slot: free_at[slot])
    if kind == Kind.PAUSE:
        seconds = rng.uniform(*PAUSE_S)
    elif kind == Kind.LONG_PAUSE:
        seconds = LOCK_TTL_S + rng.uniform(*LONG_PAUSE_BEYOND_LEASE_S)
    elif kind == Kind.KILL:
        seconds = rng.uniform(*KILL_RESTART_S)
    elif kind == Kind.TERM:
        seconds = rng.uniform(*TERM_RESTART_S)
    else:
        seconds = rng.uniform(*CUT_S)
    clean = _clean_kill(kind, target)
    earliest = free_at[target]
    if clean:
        earliest = max(earliest, *(free_at[timekeeper] + SWEEPER_RECOVERY_S for timekeeper in TIMEKEEPERS))
    at = clock if earliest <= clock else earliest + rng.uniform(0.0, JITTER_S)
    fault = Fault(_later(at), kind, (target,), round(seconds, 2), mode)
    recovery = SWEEPER_RECOVERY_S if clean else 0.0
    for other in sorted(everyone, key=lambda fault: fault.at):  # clear of each fault of everyone, or after it
        if fault.at < other.at + other.occupies() + recovery and other.at < fault.at + fault.occupies():
            after = other.at + other.occupies() + recovery + rng.uniform(0.0, JITTER_S)
            fault = Fault(_later(after), kind, (target,), fault.seconds, mode)
    return fault


def _later(at: float) -> float:
    """`at` rounded up to the hundredth of a second (never earlier than the instant a target is free)."""
    return math.ceil(at * 100 - 1e-9) / 100
