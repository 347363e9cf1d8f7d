"""The anomalies in a chaos run's facts, and its report: a plain-text table and a JSON document. Pure: the facts in,
the verdict out (the pytest tests plant anomalies in hand-made facts).

What is an anomaly, and why (the rules are the product's: scheduler_core.leases, the README's guarantees):

- the history checker's lost, duplicated and unexpected slots;
- two runs of a job's task code active at once beyond max_instances for longer than the watchdog interval plus
  one tick of the `work` task (the overlap bound, from the tasks' own activity log);
- a run failed for a reason other than its executor being lost, fenced or shut down; and a run failed for one
  of those reasons although its executor was never killed, paused, stopped, ended, or cut off from both servers
  at once (a cut of the database alone, or of the broker alone, shorter than the lease, must fail no run);
- an exit the harness did not cause, except an executor that exited 7 (fenced) or 4 (declared dead) with a run
  of its own it could not keep, right after it was paused; an exit it caused with the wrong code;
- a killed executor's runs failed later than the evidence bound allows, while every sweeper was unharmed;
- /status not listing every live process exactly once; a ghost (a live process whose instance rows are all
  stopped or silent, or that has two live rows);
- anything the harness could not do (a process that would not start).

Outages of the shared servers that the run did not inject (tests.chaos.servers) are no anomaly: they are
reported, named next to an anomalous exit, and excuse a slow detection."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from scheduler_core import leases
from tests.chaos.facts import Facts, InstanceFact, RunFact, Snapshot
from tests.chaos.plan import (
    EVERYONE,
    EXECUTORS,
    HEARTBEAT_S,
    INSTANCE_TIMEOUT_S,
    LOCK_TTL_S,
    SWEEP_S,
    SWEEPER_RECOVERY_S,
    TIMEKEEPERS,
    VARIANTS,
    WATCHDOG_S,
    WORK_TICK_S,
    Kind,
)
from tests.chaos.servers import Outage
from tests.faults.overlap import concurrency_breaches, longest_overlap

# Seconds. Two runs of a max_instances job may overlap this much: a paused executor's task in a thread runs at
# most one watchdog interval after it resumes, and the activity log sees it to within one tick.
OVERLAP_TOLERANCE_S: Final = WATCHDOG_S + WORK_TICK_S
# A killed executor's runs are failed within this (scheduler_timekeeper.recovery): its heartbeat is stale
# instance_timeout after its last one (at most a heartbeat before the kill), a sweep finds its presence mark
# absent, and a sweep PRESENCE_GRACE_S later fails its runs.
EVIDENCE_BOUND_S: Final = INSTANCE_TIMEOUT_S + HEARTBEAT_S + leases.PRESENCE_GRACE_S + 2 * SWEEP_S
# Whatever the evidence: the lease expires, and the next sweep fails the run.
LEASE_BOUND_S: Final = LOCK_TTL_S + HEARTBEAT_S + SWEEP_S
DETECTION_SLACK_S: Final = 1.0  # a sweep's own time on a loaded 2-core machine
# Failure reasons a fault explains (scheduler_core.verdicts), and the faults of the run's executor that do.
EXPECTED_FAILURES: Final = {
    "executor lost": frozenset({Kind.KILL, Kind.PAUSE, Kind.LONG_PAUSE}),
    "fenced": frozenset({Kind.PAUSE, Kind.LONG_PAUSE}),
    "executor shut down": frozenset({Kind.TERM}),
}
# A process cut off from both servers at once may have its runs failed either way: by its own fence (it can prove
# nothing) or by the sweep (stale heartbeat, presence mark gone).
PARTITION_EXPLAINS: Final = frozenset({"executor lost", "fenced"})
LINK_SERVERS: Final = {
    Kind.DATABASE_ONE: "postgresql",
    Kind.DATABASE_ALL: "postgresql",
    Kind.BROKER_ONE: "rabbitmq",
    Kind.BROKER_ALL: "rabbitmq",
}
FENCED_EXITS: Final = {leases.FENCED_EXIT_CODE: "fenced", 4: "declared dead"}
AFTER_PAUSE_S: Final = 5.0  # a fenced exit must come this soon after its process resumed
EXIT_CODES: Final = {"sigkill": -9, "sigterm": 0, "final stop": 0, "not ready": -9}
CONTEXT_S: Final = 10.0  # seconds of faults before an anomalous exit that its finding names
SHOWN: Final = 10  # findings of a kind shown in the text report (the JSON has them all)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NUMBER = re.compile(r"\d+(\.\d+)?")


@dataclass
class Verdict:
    anomalies: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # check, figure, ok / ANOMALY / blank
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.anomalies

    def check(self, name: str, figure: str, findings: list[str]) -> None:
        self.rows.append((name, figure, "ANOMALY" if findings else "ok"))
        self.anomalies += findings

    def figure(self, name: str, figure: str) -> None:
        self.rows.append((name, figure, ""))


def assess(facts: Facts) -> Verdict:
    verdict = Verdict()
    instances = {row.id: row for row in facts.instances}
    verdict.figure("jobs", ", ".join(f"{job.job_id} {job.name} (max {job.max_instances})" for job in facts.jobs))
    _faults(facts, verdict)
    _history(facts, verdict)
    _overlaps(facts, verdict)
    _failures(facts, instances, verdict)
    _exits(facts, instances, verdict)
    _detection(facts, instances, verdict)
    _lateness(facts, verdict)
    for snapshot in facts.snapshots:
        findings = status_findings(snapshot, INSTANCE_TIMEOUT_S)
        live = len(snapshot.live)
        verdict.check(
            f"/status, {snapshot.label}",
            f"{live} live processes; listed as live: {sum(1 for i in snapshot.listed if i['isLive'])} "
            f"(matched after {snapshot.waited_s:.1f} s)",
            [f"{snapshot.label}: {finding}" for finding in findings],
        )
        verdict.data.setdefault("snapshots", []).append(_snapshot_json(snapshot, findings))
    verdict.check("harness", f"{len(facts.problems)} problems", [f"harness: {p}" for p in facts.problems])
    _outages(facts, verdict)
    verdict.data["anomalies"] = verdict.anomalies
    verdict.data["notes"] = verdict.notes
    return verdict


# --- the parts ---------------------------------------------------------------------------------------------


def _faults(facts: Facts, verdict: Verdict) -> None:
    injected = [a for a in facts.applied if a.skipped is None and a.started is not None]
    kinds = Counter(a.fault.kind.value for a in injected)
    variants = {(a.fault.kind, a.fault.mode) for a in injected}
    missing = [
        f"{kind.value}{f' ({mode.value})' if mode else ''}" for kind, mode in VARIANTS if (kind, mode) not in variants
    ]
    verdict.figure(
        "faults",
        f"{len(injected)} injected of {len(facts.planned)} planned: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())),
    )
    for applied in facts.applied:
        if applied.skipped:
            verdict.notes.append(f"fault skipped: {applied.fault.describe()}: {applied.skipped}")
    if missing:
        verdict.notes.append(f"variants not injected in this run: {', '.join(missing)}")
    verdict.data["faults"] = [a.to_json() for a in facts.applied]
    restarts = [s.ready - s.requested for s in facts.starts if s.ready is not None]
    verdict.figure("starts", f"{len(facts.starts)} process starts, slowest to ready {max(restarts, default=0):.1f} s")
    verdict.data["starts"] = [vars(s) for s in facts.starts]


def _history(facts: Facts, verdict: Verdict) -> None:
    report = facts.history
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(report.outcomes.items()))
    verdict.figure("slots", f"{report.expected} expected ({outcomes}); {report.starts} task starts")
    for name in ("lost", "duplicated", "unexpected"):
        findings = [str(f) for f in getattr(report, name)]
        verdict.check(name, str(len(findings)), [f"{name}: {f}" for f in findings])
    verdict.data["history"] = {
        "expected": report.expected,
        "outcomes": dict(report.outcomes),
        "starts": report.starts,
        **{name: [str(f) for f in getattr(report, name)] for name in ("lost", "duplicated", "unexpected")},
    }


def _overlaps(facts: Facts, verdict: Verdict) -> None:
    limits = {job.job_id: job.max_instances for job in facts.jobs}
    work = {job.job_id for job in facts.jobs if job.task != "record"}
    breaches = concurrency_breaches(facts.activity, limits, OVERLAP_TOLERANCE_S)
    longest = longest_overlap(facts.activity, limits)
    runs = len({a.execution_id for a in facts.activity.values()})
    verdict.check(
        "overlaps (max_instances)",
        f"{len(breaches)} beyond {OVERLAP_TOLERANCE_S:.2f} s; longest {longest:.3f} s over {runs} runs of "
        f"{len(work)} multi-second jobs",
        [f"overlap: {breach}" for breach in breaches],
    )
    verdict.data["overlaps"] = {
        "tolerance_s": OVERLAP_TOLERANCE_S,
        "longest_s": round(longest, 3),
        "breaches": [str(b) for b in breaches],
    }


def reason_of(message: str | None) -> str:
    """A failure's reason without its ids and figures, to count failures by reason."""
    text = (message or "").strip().splitlines()[0] if (message or "").strip() else "(no reason)"
    return _NUMBER.sub("<n>", _UUID.sub("<id>", text))[:160]


def _expected_kind(message: str | None) -> str | None:
    return next((kind for kind in EXPECTED_FAILURES if (message or "").startswith(kind)), None)


def _failures(facts: Facts, instances: dict[str, InstanceFact], verdict: Verdict) -> None:
    failed = [run for run in facts.runs if run.status == "failed"]
    by_reason = Counter(reason_of(run.error_message) for run in failed)
    unexpected = [run for run in failed if _expected_kind(run.error_message) is None]
    unexplained = [run for run in failed if run not in unexpected and not _explained(run, facts, instances)]
    kinds = Counter(_expected_kind(run.error_message) or "other" for run in failed)
    verdict.figure("failed runs", f"{len(failed)}: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    verdict.check(
        "failed, other reasons",
        str(len(unexpected)),
        [f"failed for an unexpected reason ({count} runs): {reason}" for reason, count in
         Counter(reason_of(run.error_message) for run in unexpected).items()],
    )  # fmt: skip
    verdict.check(
        "failed, unexplained",
        f"{len(unexplained)} failed with no kill, pause, stop or exit of their executor",
        [f"failed with no fault of its executor to explain it: {_describe_run(run, instances)}" for run in unexplained],
    )
    verdict.data["failed"] = {
        "by_reason": dict(by_reason),
        "unexpected": [_describe_run(run, instances) for run in unexpected],
        "unexplained": [_describe_run(run, instances) for run in unexplained],
    }


def _describe_run(run: RunFact, instances: dict[str, InstanceFact]) -> str:
    executor = instances.get(run.executor_id)
    where = f"pid {executor.pid}" if executor else f"instance {run.executor_id or '-'}"
    return (
        f"job {run.job_id} slot {run.scheduled_at.isoformat()} run {run.execution_id} on {where}, started "
        f"{_iso(run.started_at)}, {run.status} {_iso(run.completed_at)}: {run.error_message}"
    )


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at is not None else "-"


def _explained(run: RunFact, facts: Facts, instances: dict[str, InstanceFact]) -> bool:
    """A fault of the run's executor process, of a kind that explains its reason, while the run was held; or an
    exit of that process of its own."""
    executor = instances.get(run.executor_id)
    kind = _expected_kind(run.error_message)
    if executor is None or kind is None:
        return False
    held_from = (run.started_at or run.scheduled_at).timestamp() - 1.0
    held_to = (run.completed_at or run.scheduled_at).timestamp()
    for applied in facts.applied:
        if applied.fault.kind in EXPECTED_FAILURES[kind] and executor.pid in applied.pids:
            began, ended = applied.started or 0.0, applied.ended or applied.started or 0.0
            if began <= held_to and ended >= held_from:
                return True
    if kind in PARTITION_EXPLAINS and _partitioned(facts, executor.pid, held_from, held_to):
        return True
    return any(e.pid == executor.pid and e.cause == "own" and held_from <= e.at <= held_to for e in facts.exits)


def _partitioned(facts: Facts, pid: int, begin: float, end: float) -> bool:
    """Whether the process was cut off from PostgreSQL and from RabbitMQ at once, at some time between begin and
    end: by faults of it or of everyone, or by outages of the shared servers."""
    links: dict[str, list[tuple[float, float]]] = {"postgresql": [], "rabbitmq": []}
    for applied in facts.applied:
        server = LINK_SERVERS.get(applied.fault.kind)
        if server is not None and pid in applied.pids and applied.started is not None:
            links[server].append((applied.started, applied.ended or end))
    for outage in facts.outages:
        links[outage.server].append((outage.began, outage.ended or end))
    return any(
        max(db_from, mq_from, begin) <= min(db_to, mq_to, end)
        for db_from, db_to in links["postgresql"]
        for mq_from, mq_to in links["rabbitmq"]
    )


def _exits(facts: Facts, instances: dict[str, InstanceFact], verdict: Verdict) -> None:
    findings = []
    causes: Counter[str] = Counter()
    for exit_ in facts.exits:
        causes[f"{exit_.cause} rc {exit_.returncode}"] += 1
        if exit_.cause != "own":
            expected = EXIT_CODES.get(exit_.cause)
            if expected is not None and exit_.returncode != expected:
                findings.append(f"{exit_.slot} pid {exit_.pid} exited {exit_.returncode} after {exit_.cause}")
            continue
        problem = _own_exit_problem(exit_.slot, exit_.pid, exit_.returncode, exit_.at, exit_.last_words, facts)
        if problem:
            findings.append(
                f"{exit_.slot} pid {exit_.pid} exited {exit_.returncode} on its own: {problem}; faults it had in the "
                f"{CONTEXT_S:g} s before: {_recent_faults(facts, exit_.pid, exit_.at) or 'none'}"
            )
    verdict.check("exits", ", ".join(f"{c} x{n}" for c, n in sorted(causes.items())) or "none", findings)
    verdict.data["exits"] = [vars(e) for e in facts.exits]


def _recent_faults(facts: Facts, pid: int, at: float) -> str:
    """The faults of this process, or of everyone, that were in force in the CONTEXT_S seconds before `at`."""
    injected = [
        f"{a.fault.describe()} ({_lifted(a.ended, at)})"
        for a in facts.applied
        if a.started is not None
        and (pid in a.pids or a.fault.kind in EVERYONE)
        and a.started <= at
        and (a.ended is None or a.ended >= at - CONTEXT_S)
    ]
    external = [
        f"NOT INJECTED: {_outage(o, facts)} ({_lifted(o.ended, at)})"
        for o in facts.outages
        if o.began <= at and (o.ended is None or o.ended >= at - CONTEXT_S)
    ]
    return "; ".join(injected + external)


def _outages(facts: Facts, verdict: Verdict) -> None:
    """Outages of the shared servers that the run did not inject: not anomalies of the product, but what happened
    during them is not what the plan says happened."""
    described = [_outage(outage, facts) for outage in facts.outages]
    verdict.figure("shared servers", "; ".join(described) or "no outage the run did not inject")
    if described:
        verdict.notes.append(
            "the shared servers went down during the run without the run injecting it (another user of this "
            "machine?): " + "; ".join(described) + ". Anomalies around these times may be their doing."
        )
    verdict.data["outages"] = [vars(outage) for outage in facts.outages]


def _outage(outage: Outage, facts: Facts) -> str:
    ended = outage.ended if outage.ended is not None else outage.began
    return f"{outage.server} down from t+{outage.began - facts.window_start:.1f} s for {ended - outage.began:.1f} s"


def _lifted(ended: float | None, at: float) -> str:
    return "in force" if ended is None or ended > at else f"lifted {at - ended:.1f} s before"


def _own_exit_problem(slot: str, pid: int, code: int, at: float, words: list[str], facts: Facts) -> str | None:
    """Why an exit the harness did not cause is an anomaly; None if it is the allowed kind."""
    if slot not in EXECUTORS or code not in FENCED_EXITS:
        return f"{' | '.join(words) or 'no last words in its log'}"
    ids = {row.id for row in facts.instances if row.pid == pid}
    mine = [run for run in facts.runs if run.executor_id in ids]
    if code == leases.FENCED_EXIT_CODE:
        named = {m for line in words for m in re.findall(r"run (\S+) must stop", line)}
        if not named or not any(run.execution_id in named for run in mine):
            return f"fenced without naming a run of its own: {' | '.join(words) or 'no process_fenced line'}"
    elif not any(run.status == "failed" for run in mine):
        return "declared dead without holding a run the sweep took"
    paused = [
        a for a in facts.applied
        if a.fault.kind in (Kind.PAUSE, Kind.LONG_PAUSE) and pid in a.pids and a.ended is not None
        and a.ended - 0.5 <= at <= a.ended + AFTER_PAUSE_S
    ]  # fmt: skip
    if not paused:
        return f"{FENCED_EXITS[code]} without a pause just before: {' | '.join(words)}"
    return None


def _sweeper_harmed(facts: Facts, begin: float, end: float) -> bool:
    """Whether a timekeeper (or everyone) had a fault, or was recovering from one, between begin and end."""
    for applied in facts.applied:
        sweepers = applied.fault.kind in EVERYONE or bool(set(applied.fault.targets) & set(TIMEKEEPERS))
        if not sweepers or applied.started is None:
            continue
        if applied.started <= end and (applied.ended or end) + SWEEPER_RECOVERY_S >= begin:
            return True
    if any(o.began <= end and (o.ended or end) + SWEEPER_RECOVERY_S >= begin for o in facts.outages):
        return True  # the shared servers went down: the sweeps stopped, or could not ask the broker
    return any(e.slot in TIMEKEEPERS and e.cause == "own" and e.at <= end for e in facts.exits)


def _detection(facts: Facts, instances: dict[str, InstanceFact], verdict: Verdict) -> None:
    rows: list[dict[str, Any]] = []
    times: list[float] = []
    findings = []
    for applied in facts.applied:
        if applied.fault.kind != Kind.KILL or applied.started is None or applied.fault.targets[0] not in EXECUTORS:
            continue
        killed = applied.started
        ids = {row.id for row in instances.values() if row.pid in applied.pids}
        for run in facts.runs:
            if run.executor_id not in ids or run.completed_at is None or run.completed_at.timestamp() < killed:
                continue
            seconds = run.completed_at.timestamp() - killed
            harmed = _sweeper_harmed(facts, killed, killed + seconds)
            times.append(seconds)
            rows.append({"execution_id": run.execution_id, "pid": applied.pids[0], "status": run.status,
                         "seconds": round(seconds, 3), "sweeper_harmed": harmed})  # fmt: skip
            if run.status != "failed":
                findings.append(f"run {run.execution_id} of killed pid {applied.pids[0]} ended {run.status}")
            elif seconds > EVIDENCE_BOUND_S + DETECTION_SLACK_S and not harmed:
                findings.append(
                    f"run {run.execution_id} of killed pid {applied.pids[0]} failed {seconds:.2f} s after the kill "
                    f"(bound {EVIDENCE_BOUND_S:g} s + {DETECTION_SLACK_S:g} s, no sweeper harmed meanwhile)"
                )
    unharmed = sorted(row["seconds"] for row in rows if not row["sweeper_harmed"])
    figure = (
        f"{len(rows)} runs of {len({row['pid'] for row in rows})} killed executors: {_spread(sorted(times))}; "
        f"{len(unharmed)} with every sweeper unharmed: {_spread(unharmed)} (bound {EVIDENCE_BOUND_S:g} s)"
    )
    verdict.check("detection (kill -> failed)", figure, findings)
    verdict.data["detection"] = {"bound_s": EVIDENCE_BOUND_S, "lease_bound_s": LEASE_BOUND_S, "runs": rows}


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    return f"min {values[0]:.2f} s, median {_percentile(values, 50):.2f} s, max {values[-1]:.2f} s"


def _percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(values) * percent // 100))
    return values[int(rank) - 1]


def _lateness(facts: Facts, verdict: Verdict) -> None:
    late = sorted(
        (run.started_at - run.scheduled_at).total_seconds()
        for run in facts.runs
        if run.started_at is not None and run.trigger == "schedule"
    )
    figures = {f"p{p}": round(_percentile(late, p), 3) for p in (50, 90, 99)} if late else {}
    figures["max"] = round(late[-1], 3) if late else 0.0
    verdict.figure(
        "lateness (started runs)",
        f"{len(late)} runs: " + ", ".join(f"{name} {value:.3f} s" for name, value in figures.items()),
    )
    verdict.data["lateness"] = {"runs": len(late), **figures}


def status_findings(snapshot: Snapshot, instance_timeout: float) -> list[str]:
    """What is wrong with the cluster's picture of its processes: /status must list each live process exactly
    once as live, and nothing else; every live process must have exactly one live instance row (not stopped,
    heartbeat younger than instance_timeout)."""
    findings = []
    if snapshot.error:
        findings.append(f"/status could not be read: {snapshot.error}")
    else:
        listed = Counter(item["processId"] for item in snapshot.listed if item["isLive"])
        for slot, pid in sorted(snapshot.live.items()):
            if listed[pid] != 1:
                findings.append(f"/status lists {slot} (pid {pid}) {listed[pid]} times as live")
        for pid in sorted(set(listed) - set(snapshot.live.values())):
            findings.append(f"/status lists pid {pid} as live, but no such process runs")
    for slot, pid in sorted(snapshot.live.items()):
        rows = [row for row in snapshot.rows if row.pid == pid]
        alive = [row for row in rows if _row_live(row, snapshot.db_now, instance_timeout)]
        if not alive:
            states = ", ".join(f"{row.id[:8]} {row.status}" for row in rows) or "none"
            findings.append(f"ghost: {slot} (pid {pid}) runs, but has no live instance row (rows: {states})")
        elif len(alive) > 1:
            findings.append(f"{slot} (pid {pid}) has {len(alive)} live instance rows")
    return findings


def _row_live(row: InstanceFact, now: datetime | None, instance_timeout: float) -> bool:
    if row.status == "stopped" or now is None:
        return False
    return (now - row.last_heartbeat).total_seconds() < instance_timeout


def _snapshot_json(snapshot: Snapshot, findings: list[str]) -> dict[str, Any]:
    return {
        "label": snapshot.label,
        "live": snapshot.live,
        "listed": snapshot.listed,
        "waited_s": snapshot.waited_s,
        "error": snapshot.error,
        "findings": findings,
    }


# --- the report ----------------------------------------------------------------------------------------------


def render(verdict: Verdict, header: list[str]) -> str:
    width = max(len(name) for name, _, _ in verdict.rows) + 2
    lines = [*header, "", f"{'check':<{width}}{'verdict':<9}figure", "-" * (width + 9 + 60)]
    lines += [f"{name:<{width}}{mark:<9}{figure}" for name, figure, mark in verdict.rows]
    if verdict.anomalies:
        lines += ["", f"ANOMALIES ({len(verdict.anomalies)}):"]
        lines += [f"  {a}" for a in verdict.anomalies[:SHOWN]]
        if len(verdict.anomalies) > SHOWN:
            lines.append(f"  ... and {len(verdict.anomalies) - SHOWN} more (see the JSON report)")
    if verdict.notes:
        lines += ["", "notes:"] + [f"  {n}" for n in verdict.notes]
    lines += ["", "verdict: " + ("OK, no anomaly" if verdict.ok else f"FAILED, {len(verdict.anomalies)} anomalies")]
    return "\n".join(lines)
