"""The chaos run's own pieces, without a cluster: a seed plans the same jobs and faults every time, the plan keeps
its promises (every variant, one fault per process at a time, everything within the window), and the verdict
flags each kind of anomaly planted in otherwise clean facts, and nothing in clean ones."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.chaos.facts import Facts, InstanceFact, JobFact, RunFact, Snapshot
from tests.chaos.injector import Applied, Exit
from tests.chaos.plan import (
    DETECTION_WINDOW_S,
    EVERYONE,
    EXECUTORS,
    SLOTS,
    TIMEKEEPERS,
    VARIANTS,
    Fault,
    Kind,
    Mode,
    plan_faults,
    plan_jobs,
)
from tests.chaos.servers import Outage
from tests.chaos.verdict import EVIDENCE_BOUND_S, assess
from tests.faults.checker import Finding, Report
from tests.faults.overlap import Activity

KILLED_AT = 1_000.0  # unix seconds: the clean facts' kill of executor-1


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


# --- the plan ------------------------------------------------------------------------------------------------


def test_a_seed_plans_the_same_jobs_and_faults_every_time_and_another_seed_others() -> None:
    assert plan_faults(7, 180) == plan_faults(7, 180)
    assert plan_jobs(7) == plan_jobs(7)
    assert plan_faults(7, 180) != plan_faults(8, 180)
    assert plan_jobs(7) != plan_jobs(8)


@pytest.mark.parametrize("seconds", [90.0, 180.0])
def test_every_variant_is_planned_and_no_process_has_two_faults_at_once(seconds: float) -> None:
    for seed in range(40):
        plan = plan_faults(seed, seconds)
        assert {(fault.kind, fault.mode) for fault in plan} == set(VARIANTS), f"seed {seed}"
        assert all(fault.at + fault.seconds < seconds for fault in plan), f"seed {seed}"
        for slot in SLOTS:
            busy = sorted((f.at, f.at + f.occupies()) for f in plan if slot in f.targets)
            for (_, end), (start, _) in itertools.pairwise(busy):
                assert start >= end, f"seed {seed}: {slot} has two faults at once"
        assert all(f.targets == SLOTS for f in plan if f.kind in EVERYONE)
        kills = [f for f in plan if f.kind == Kind.KILL and f.targets[0] in EXECUTORS]
        assert kills, f"seed {seed}: no executor killed"
        for kill in kills:  # no timekeeper, nor everyone, harmed while its runs are being detected
            harm = [f for f in plan if f.kind in EVERYONE or set(f.targets) & set(TIMEKEEPERS)]
            for other in harm:
                assert not (other.at < kill.at + DETECTION_WINDOW_S and kill.at < other.at + other.occupies()), (
                    f"seed {seed}: {other.describe()} during the detection of {kill.describe()}"
                )


def test_the_job_mix_has_what_the_run_needs() -> None:
    jobs = plan_jobs(3)
    assert {job.task for job in jobs} == {"record", "work", "work_in_thread"}
    assert {job.max_instances for job in jobs if job.task != "record"} == {1, 2}
    assert {job.interval_s for job in jobs} <= {1, 2, 3}
    assert any(not job.coalesce for job in jobs)
    assert any(job.grace_s <= 2 for job in jobs)
    assert all(job.work_s >= 1.5 for job in jobs if job.task != "record")


# --- the verdict ---------------------------------------------------------------------------------------------


def clean() -> Facts:
    """A run in which executor-1 (pid 11) was killed, its run failed 3 s later, and everything else went right."""
    kill = Fault(5.0, Kind.KILL, ("executor-1",), 2.0)
    report = Report(expected=3, outcomes=Counter(success=2, failed=1), starts=3)
    return Facts(
        seed=1,
        seconds=90.0,
        planned=[kill],
        jobs=[JobFact(1, "work-1", "work", 1)],
        history=report,
        activity={
            "a/0": Activity("a", 1, 990.0, 993.0, True, 12),
            "b/0": Activity("b", 1, 998.0, 1_000.0, False, 11),
            "c/0": Activity("c", 1, 1_004.0, 1_007.0, True, 12),
        },
        runs=[
            RunFact("a", 1, at(990.0), "success", "schedule", at(990.0), at(993.0), None, "i12"),
            RunFact("b", 1, at(998.0), "failed", "schedule", at(998.0), at(KILLED_AT + 3.0), "executor lost: …", "i11"),
            RunFact("c", 1, at(1_004.0), "success", "schedule", at(1_004.0), at(1_007.0), None, "i12"),
        ],
        instances=[
            InstanceFact("i11", 11, "executor", "stopped", at(KILLED_AT - 0.2)),
            InstanceFact("i12", 12, "executor", "running", at(1_020.0)),
        ],
        applied=[Applied(kill, pids=[11], started=KILLED_AT, ended=KILLED_AT + 6.0)],
        exits=[Exit("executor-1", "executor", 11, -9, KILLED_AT + 0.1, "sigkill")],
        starts=[],
        snapshots=[
            Snapshot(
                "at the end",
                live={"executor-2": 12},
                listed=[{"id": "i12", "role": "executor", "processId": 12, "isLive": True, "status": "running"}],
                rows=[InstanceFact("i12", 12, "executor", "running", at(1_020.0))],
                db_now=at(1_020.5),
            )
        ],
        problems=[],
        log_dir="logs",
    )


def test_a_clean_run_has_no_anomaly() -> None:
    verdict = assess(clean())
    assert verdict.anomalies == []
    assert verdict.ok
    assert verdict.data["detection"]["runs"][0]["seconds"] == 3.0


def lost(facts: Facts) -> None:
    facts.history.lost.append(Finding(1, at(1_010.0), "no execution row"))


def duplicated(facts: Facts) -> None:
    facts.history.duplicated.append(Finding(1, at(1_010.0), "task started 2 times"))


def overlap(facts: Facts) -> None:
    facts.activity["d/0"] = Activity("d", 1, 1_005.0, 1_006.0, True, 13)  # during c, max_instances 1


def other_reason(facts: Facts) -> None:
    facts.runs.append(
        RunFact("e", 1, at(1_010.0), "failed", "schedule", at(1_010.0), at(1_011.0), "RuntimeError: boom", "i12")
    )


def unexplained(facts: Facts) -> None:
    facts.runs.append(
        RunFact("e", 1, at(1_010.0), "failed", "schedule", at(1_010.0), at(1_011.0), "fenced: the executor…", "i12")
    )


def timekeeper_died(facts: Facts) -> None:
    facts.exits.append(Exit("timekeeper-1", "timekeeper", 21, 1, 1_012.0, "own", ["Traceback …"]))


def fenced_without_a_pause(facts: Facts) -> None:
    words = ['{"event": "process_fenced", "reason": "run c must stop: heartbeats fail"}']
    facts.exits.append(Exit("executor-2", "executor", 12, 7, 1_006.0, "own", words))


def sigterm_exit_code(facts: Facts) -> None:
    facts.exits.append(Exit("executor-2", "executor", 12, 1, 1_012.0, "sigterm"))


def slow_detection(facts: Facts) -> None:
    late = KILLED_AT + EVIDENCE_BOUND_S + 5.0
    facts.runs[1] = RunFact("b", 1, at(998.0), "failed", "schedule", at(998.0), at(late), "executor lost: …", "i11")


def ghost(facts: Facts) -> None:
    facts.snapshots[0].rows = [InstanceFact("i12", 12, "executor", "stopped", at(1_020.0))]


def missing_from_status(facts: Facts) -> None:
    facts.snapshots[0].listed = []


def listed_twice(facts: Facts) -> None:
    facts.snapshots[0].listed *= 2


def harness_problem(facts: Facts) -> None:
    facts.problems.append("executor-3 pid 31 did not start")


@pytest.mark.parametrize(
    ("plant", "words"),
    [
        (lost, "lost: job 1"),
        (duplicated, "duplicated: job 1"),
        (overlap, "overlap: job 1"),
        (other_reason, "unexpected reason (1 runs): RuntimeError: boom"),
        (unexplained, "no fault of its executor"),
        (timekeeper_died, "timekeeper-1 pid 21 exited 1 on its own"),
        (fenced_without_a_pause, "fenced without a pause"),
        (sigterm_exit_code, "exited 1 after sigterm"),
        (slow_detection, "after the kill"),
        (ghost, "ghost: executor-2"),
        (missing_from_status, "lists executor-2 (pid 12) 0 times"),
        (listed_twice, "lists executor-2 (pid 12) 2 times"),
        (harness_problem, "harness: executor-3"),
    ],
)
def test_a_planted_anomaly_is_flagged(plant: Callable[[Facts], None], words: str) -> None:
    facts = clean()
    plant(facts)
    verdict = assess(facts)
    assert not verdict.ok
    assert any(words in anomaly for anomaly in verdict.anomalies), verdict.anomalies


def test_an_executor_fenced_right_after_its_pause_with_a_run_of_its_own_is_no_anomaly() -> None:
    facts = clean()
    pause = Fault(20.0, Kind.PAUSE, ("executor-2",), 4.0)
    facts.applied.append(Applied(pause, pids=[12], started=1_002.0, ended=1_006.0))
    words = ['{"event": "process_fenced", "reason": "run c must stop: its lease could not be renewed in time"}']
    facts.exits.append(Exit("executor-2", "executor", 12, 7, 1_006.1, "own", words))
    assert assess(facts).anomalies == []


def test_an_outage_of_a_shared_server_that_the_run_did_not_inject_is_reported_and_excuses_a_slow_detection() -> None:
    facts = clean()
    slow_detection(facts)
    facts.outages.append(Outage("rabbitmq", KILLED_AT + 1.0, KILLED_AT + 4.0))
    verdict = assess(facts)
    assert verdict.anomalies == []
    assert any("rabbitmq down from" in note for note in verdict.notes)


def test_a_run_fenced_while_its_executor_was_cut_off_from_both_servers_is_explained_but_not_from_one() -> None:
    facts = clean()
    unexplained(facts)  # run e on pid 12, held from 1_010 to 1_011
    database = Fault(30.0, Kind.DATABASE_ONE, ("executor-2",), 5.0, Mode.STALL)
    facts.applied.append(Applied(database, pids=[12], started=1_008.0, ended=1_013.0))
    assert not assess(facts).ok  # the database alone: the broker could vouch for it
    broker = Fault(31.0, Kind.BROKER_ALL, SLOTS, 5.0, Mode.CUT)
    facts.applied.append(Applied(broker, pids=[12, 21], started=1_009.0, ended=1_014.0))
    assert assess(facts).anomalies == []
