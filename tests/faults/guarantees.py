"""The README's guarantees table: each row's words, the scenarios that prove it, and its measured column as a
template filled from what those scenarios measured (tests/faults/measurements.py), never typed in by hand.

`{name:.2f}` in a template is the range of every value the row's tests recorded under `name` in the committed
measurements file, "min–max" (or the one value, when all runs agree), each number formatted with the spec.
scripts/guarantees_table.py renders the table into the README; tests/unit/test_guarantees_table.py fails when
the README's table is not exactly that rendering."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

FAULTS = "tests/faults"


@dataclass(frozen=True, slots=True)
class Row:
    numbers: str  # the design's guarantee numbers
    guarantee: str
    measured: str  # a template over the measurements of `tests`
    tests: tuple[str, ...]  # node ids (file::function), without parameters

    def proven_by(self) -> str:
        return ", ".join(f"`{test}`" for test in self.tests)


ROWS: Final = (
    Row(
        "1",
        "At most one execution per `(job_id, scheduled_at)`, whatever the number of timekeepers.",
        "3 timekeeper processes racing on 6 jobs that fire every second: {racing_slots:.0f} slots per run, "
        "{racing_duplicated:.0f} duplicated, 0 lost. Every run started within {racing_max_lateness_s:.2f} s of its "
        "slot (asserted: 3 s); {racing_timekeepers_writing:.0f} of the 3 timekeepers wrote rows.",
        (
            f"{FAULTS}/test_timekeepers.py::"
            "test_three_timekeepers_racing_on_one_second_schedules_write_and_start_each_slot_once",
        ),
    ),
    Row(
        "2",
        "Every due run is executed, or recorded with a reason (missed, skipped, coalesced), across timekeeper "
        "restarts …",
        "Timekeeper killed with SIGKILL and restarted {timekeeper_down_s:.1f} s later (at least 3 periods of 1 s); "
        "the restarted timekeeper wrote the catch-up {catch_up_after_ready_s:.2f} s after it was ready (asserted: "
        "2 s). `coalesce` on folded the missed slots into one run, off ran each slot; slots past a 1-s grace were "
        "recorded missed with the reason. 0 lost.",
        (
            f"{FAULTS}/test_timekeepers.py::"
            "test_a_timekeeper_down_for_three_periods_catches_up_by_misfire_grace_time_and_coalesce",
        ),
    ),
    Row(
        "2",
        "… and across broker restarts: runs written while the broker is down are published when it returns.",
        "RabbitMQ cut off from every process for {outage_s:.1f} s under load (6 jobs firing every second): 0 lost; "
        "the runs written during the outage were published after it, the last started "
        "{broker_back_last_written_run_started_after_s:.2f} s after the broker was back (asserted: 10 s); "
        "{broker_outage_strict_not_started:.0f} runs of the 2-s grace jobs were closed missed or skipped, with the "
        "reason.",
        (
            f"{FAULTS}/test_outages.py::"
            "test_rabbitmq_cut_off_under_load_loses_nothing_and_publishes_what_was_written_meanwhile",
        ),
    ),
    Row(
        "2",
        "(broker crash)",
        "SIGKILL of RabbitMQ's node, then `rabbitmq-server -detached`: outage of {outage_s:.1f} s, of which "
        "{outage_restoring_s:.1f} s restarting. 0 lost, 0 duplicated; the runs written during it started within "
        "{broker_back_last_written_run_started_after_s:.2f} s of the broker's return (asserted: 10 s); "
        "{broker_outage_strict_not_started:.0f} closed missed or skipped.",
        (
            f"{FAULTS}/test_outages.py::"
            "test_rabbitmq_killed_with_sigkill_under_load_loses_nothing_and_publishes_what_was_written_meanwhile",
        ),
    ),
    Row(
        "2",
        "… and a broker that is slow or down never holds a scheduling pass: slots are written on time, one row each.",
        "RabbitMQ cut (reset, then stalled) from the timekeeper for 2 × 6 s: the latest-written slot was written "
        "{broker_outage_slot_written_late_s:.2f} s from its due instant (negative: ahead of it, by the look-ahead; "
        "asserted: under 1 s after), none coalesced, and each ran once the broker was back.",
        (f"{FAULTS}/test_leases.py::test_a_broker_outage_never_holds_the_timekeepers_passes",),
    ),
    Row(
        "2",
        "… and when the broker loses a message it had confirmed: the run is recorded missed, with the reason.",
        "Queue purged with the confirmed message in it: the sweep recorded the run missed "
        "{lost_message_missed_after_slot_s:.2f} s after its slot (asserted: grace 1 s + 1 s + sweep 0.5 s + 1.5 s).",
        (
            f"{FAULTS}/test_lost_messages.py::"
            "test_a_run_whose_confirmed_message_was_lost_is_recorded_missed_after_its_grace_time",
        ),
    ),
    Row(
        "2",
        "… and a manual run whose confirmed message the broker lost is published again and runs once.",
        "Lost-message timeout 2 s: the run succeeded {lost_manual_run_ran_after_confirmation_s:.2f} s after its "
        "first confirmation (asserted: 2 + 0.5 + 1.5 s), with one task start.",
        (
            f"{FAULTS}/test_lost_messages.py::"
            "test_a_manual_run_whose_confirmed_message_was_lost_is_published_again_and_runs_once",
        ),
    ),
    Row(
        "3",
        "A message delivered twice starts the task once.",
        "20 runs, each message published 3 times onto a queue 2 executor processes consume: "
        "{duplicate_task_starts:.0f} task starts, {duplicate_copies_recognised:.0f} copies recognised as duplicates.",
        (f"{FAULTS}/test_duplicates.py::test_each_message_injected_three_times_starts_its_task_once",),
    ),
    Row(
        "4",
        "An executor killed mid-task: its run is failed with a reason within a stated bound, and the job keeps its "
        "schedule.",
        "Bound: instance timeout + heartbeat + presence grace + 2 sweeps = 2 + 0.5 + 2 + 1 = 5.5 s with the test "
        'settings (20 + 5 + 2 + 10 = 37 s with the defaults). Failed "executor lost" '
        "{killed_executor_detection_s:.2f} s after the SIGKILL, by the evidence of its vanished presence mark (its "
        "lease was 60 s); a later slot ran elsewhere, the killed task never started again.",
        (
            f"{FAULTS}/test_executors.py::"
            "test_sigkilled_executor_run_is_failed_within_the_bound_and_the_next_slot_runs_elsewhere",
        ),
    ),
    Row(
        "4, 7",
        "An executor paused past its lease: its run is failed when the lease expires, and it ends itself before its "
        "task runs on when it resumes (exit code 7).",
        "SIGSTOP mid-task, lease 3 s: failed {paused_executor_lease_detection_s:.2f} s after the stop (bound: lease + "
        "heartbeat + sweep = 4 s); after SIGCONT it exited {paused_executor_exit_after_resume_s:.2f} s later, its "
        "task never reaching its end.",
        (
            f"{FAULTS}/test_executors.py::"
            "test_an_executor_paused_past_its_lease_has_its_run_failed_and_ends_itself_when_it_resumes",
        ),
    ),
    Row(
        "7",
        "`max_instances` holds under pauses: no two runs of a `max_instances=1` job overlap by more than the "
        "watchdog interval (`SCHEDULER_WATCHDOG_INTERVAL`, 0.1 s).",
        "Executor paused for 6 s (twice its lease) while its task worked; another executor ran the next slots. "
        "Overlap from the tasks' own activity log: {paused_work_overlap_s:.3f} s for an async task (gated before "
        "every step), {paused_work_in_thread_overlap_s:.3f} s for a task in a thread (the watchdog); exit "
        "{paused_work_exit_after_resume_s:.3f} / {paused_work_in_thread_exit_after_resume_s:.3f} s after SIGCONT.",
        (f"{FAULTS}/test_leases.py::test_an_executor_paused_past_its_lease_never_runs_its_task_beside_the_next_run",),
    ),
    Row(
        "7",
        "… and under a partial partition: an executor cut from PostgreSQL alone stops its task before its lease "
        "ends, and is not declared dead while its broker connection vouches for it.",
        "Its own link reset: its task stopped {partitioned_work_cut_task_stopped_after_s:.2f} s after the cut "
        "(stalled link: {partitioned_work_stall_task_stopped_after_s:.2f} s; in a thread: "
        "{partitioned_work_in_thread_cut_task_stopped_after_s:.2f} s, by ending the process), within the 3-s lease; "
        "the run was failed {partitioned_work_cut_freed_after_s:.2f} s after the cut. 0 overlap beyond 0.15 s.",
        (
            f"{FAULTS}/test_leases.py::"
            "test_an_executor_cut_from_the_database_alone_stops_its_task_before_its_lease_ends",
        ),
    ),
    Row(
        "8",
        "A database outage of everyone fails no run and stops no executor; afterwards `/status` lists every live "
        "process exactly once within two heartbeats.",
        "Fault settings, 6-s cut (3 × the 2-s instance timeout): consistent {outage_status_consistent_after_s:.2f} s "
        "after. Default settings, 60-s cut for every process: {minute_outage_failed_runs:.0f} runs failed, no "
        "executor exited, tasks in flight ran to their end; consistent {minute_outage_status_consistent_after_s:.1f} s "
        "after (two heartbeats: 10 s).",
        (
            f"{FAULTS}/test_leases.py::"
            "test_after_a_database_outage_of_everyone_no_run_failed_no_executor_died_and_status_lists_each_process_once",
            f"{FAULTS}/test_outages.py::"
            "test_a_minute_without_postgresql_for_everyone_with_the_default_settings_fails_no_run_and_stops_no_executor",
        ),
    ),
    Row(
        "8",
        "(database cut under load) The services recover without a restart and no run is claimed twice.",
        "PostgreSQL cut from 2 timekeepers and 2 executors for {outage_s:.1f} s under load: 0 lost, 0 duplicated, no "
        "failed run, no process exited; the first run after it started {database_back_first_run_after_s:.2f} s after "
        "(asserted: 10 s).",
        (
            f"{FAULTS}/test_outages.py::"
            "test_postgresql_cut_off_from_everyone_under_load_services_recover_and_nothing_fails_or_runs_twice",
        ),
    ),
    Row(
        "8",
        "Start-up with the database unreachable retries it (`SCHEDULER_STARTUP_TIMEOUT`, a log line per try), then "
        "exits with code 6 and one line.",
        "Timeout 3 s: {startup_tries:.0f} tries, exit 6 after {startup_gave_up_after_s:.1f} s with one `error:` "
        "line and no traceback; with the database back within the timeout, the process starts.",
        (
            f"{FAULTS}/test_leases.py::"
            "test_start_up_retries_an_unreachable_database_then_exits_with_its_own_code_and_one_line",
        ),
    ),
    Row(
        "–",
        "A frozen executor sits on few runs: its prefetch window, handed back when RabbitMQ drops it.",
        "Frozen 8 s with 30 jobs due every 2 s (AMQP heartbeat 1 s): no run waited more than "
        "{frozen_executor_worst_lateness_s:.2f} s (asserted: 2 heartbeats + 3 s). 0 lost.",
        (
            f"{FAULTS}/test_leases.py::"
            "test_a_frozen_executor_sits_on_few_runs_and_hands_them_back_when_the_broker_drops_it",
        ),
    ),
    Row(
        "5",
        "Task code runs at most once per run (a retry is a new run of the slot, only for jobs with `maxRetries`).",
        "A task that always raises: failed with its exception and traceback, started once. A hanging task with "
        '`timeout_seconds=1`: failed "timed out after 1 s", recorded {timed_out_recorded_after_s:.2f} s after it '
        "started (asserted: 2.5 s).",
        (
            f"{FAULTS}/test_executors.py::"
            "test_a_crashing_task_and_a_hanging_task_are_failed_with_their_reason_and_never_retried",
        ),
    ),
    Row(
        "5",
        "With `maxRetries`, a run that fails, times out or is lost with its executor is retried after its backoff; "
        "every slot ends in exactly one final outcome and no attempt runs twice.",
        "3 jobs with retries on 3 executor processes, 4 of them SIGKILLed (seeded schedule, replayable with "
        "`FAULT_SEED`) and replaced: {retries_after_kills:.0f} retries; the checker read every slot's attempts as "
        "one chain: 0 lost, 0 duplicated, 0 unexpected, each attempt's task started once.",
        (f"{FAULTS}/test_retries.py::test_runs_lost_with_killed_executors_are_retried_and_every_slot_ends_once",),
    ),
    Row(
        "–",
        "A task may run longer than RabbitMQ's consumer timeout (the executor acks once the run is claimed).",
        "`consumer_timeout` 5 s: an unacked consumer's channel was closed {unacked_consumer_closed_after_s:.1f} s "
        "later (RabbitMQ checks on a 60-s tick); a task of {long_task_ran_s:.1f} s in that window succeeded, with one "
        "delivery and one start.",
        (
            f"{FAULTS}/test_consumer_timeout.py::"
            "test_a_task_longer_than_the_consumer_timeout_runs_to_success_while_an_unacked_consumer_is_closed",
        ),
    ),
    Row(
        "6",
        "Bad input gets a clear 4xx with a field-level message; nothing half-written. Hostile input (JSON nested "
        "hundreds of levels deep, lone surrogates, NaN and Infinity, booleans or strings for numbers, bodies of "
        "megabytes, unknown methods) never breaks the API, corrupts data or costs memory.",
        "API tests on PostgreSQL and SQLite: one per row of issue 16's table, counting rows before and after (422 "
        "naming the field; 413 over 1 MiB; 405 with `Allow`; 409 for a primary job's task and for a trigger at "
        "`max_instances`). A hypothesis fuzz test of every request model, {fuzz_requests:.0f} requests per "
        "backend: no 5xx, every created job reads back and lists. Schemathesis with every check and every phase "
        "(stateful included) over all {schemathesis_operations:.0f} operations: 0 failures, "
        "{schemathesis_seconds:.0f} s.",
        (
            "tests/integration/api/test_fuzz.py::test_hostile_requests_never_5xx_and_created_jobs_read_back_and_list",
            "tests/integration/test_schemathesis.py::test_every_check_over_every_operation_and_the_stateful_phase",
        ),
    ),
)


class Range:
    """The values recorded under one name, formatted as "min–max" (or the one value)."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def __format__(self, spec: str) -> str:
        low, high = format(min(self.values), spec), format(max(self.values), spec)
        return low if low == high else f"{low}–{high}"


class Missing(KeyError):
    """A template names a figure that no run of its tests recorded."""


def read_measurements(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _figures(row: Row, measurements: list[dict[str, object]]) -> dict[str, Range]:
    by_name: dict[str, list[float]] = defaultdict(list)
    for entry in measurements:
        test = str(entry["test"]).split("[")[0]
        if test in row.tests:
            value = entry["value"]
            assert isinstance(value, int | float)
            by_name[str(entry["name"])].append(float(value))
    return {name: Range(values) for name, values in by_name.items()}


def runs(measurements: list[dict[str, object]]) -> int:
    """How many test runs the measurements come from (a run: a distinct day-and-hour of recording)."""
    return len({int(float(str(entry["at"])) // 3600) for entry in measurements})


def render(measurements: list[dict[str, object]]) -> str:
    """The table, every measured column filled; raises Missing for a figure no run recorded."""
    lines = ["| # | Guarantee | Measured | Proven by |", "|---|-----------|----------|-----------|"]
    for row in ROWS:
        figures = _figures(row, measurements)
        try:
            measured = row.measured.format_map(figures)
        except KeyError as exc:
            raise Missing(f"no measurement {exc} for {row.tests[0]}") from None
        lines.append(f"| {row.numbers} | {row.guarantee} | {measured} | {row.proven_by()} |")
    return "\n".join(lines)
