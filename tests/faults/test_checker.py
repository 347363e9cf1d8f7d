"""The checker, proven on synthetic histories: a clean one passes, and each kind of anomaly is reported in its
category (and only there)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler_core.schedule import CronSchedule, IntervalSchedule
from scheduler_core.store.models import ExecutionStatus, Trigger
from tests.faults.checker import ExpectedJob, Report, RunRecord, TaskStart, check, read_starts

# Milliseconds each; the timeout keeps the whole faults suite's sum of timeouts under 10 minutes.
pytestmark = pytest.mark.timeout(1)

T0 = datetime(2030, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
S = timedelta(seconds=1)
SUCCESS, FAILED, MISSED, SKIPPED = (
    ExecutionStatus.SUCCESS,
    ExecutionStatus.FAILED,
    ExecutionStatus.MISSED,
    ExecutionStatus.SKIPPED,
)


def job(job_id: int = 1, *, slots: int = 5, period: int = 1, tracks_starts: bool = True) -> ExpectedJob:
    """A job with `slots` slots in its window: T0, T0 + period, ..."""
    return ExpectedJob(
        job_id,
        IntervalSchedule(period),
        first_slot=T0,
        until=T0 + (slots - 1) * period * S,
        tracks_starts=tracks_starts,
    )


def run(
    slot: int,
    *,
    job_id: int = 1,
    status: ExecutionStatus = SUCCESS,
    late: float = 0.2,
    trigger: str = Trigger.SCHEDULE,
    coalesced_count: int = 1,
    coalesced_from: datetime | None = None,
    error_message: str | None = None,
) -> tuple[RunRecord, TaskStart | None]:
    """A row for slot number `slot` (seconds after T0) and, for a started run, its start-log entry."""
    at = T0 + slot * S
    record = RunRecord(
        str(uuid.uuid4()),
        job_id,
        at,
        status,
        trigger=trigger,
        coalesced_count=coalesced_count,
        coalesced_from=coalesced_from,
        error_message=error_message,
        started_at=at + timedelta(seconds=late),
    )
    start = None
    if status in (SUCCESS, FAILED):
        start = TaskStart(record.execution_id, job_id, at, at + timedelta(seconds=late), pid=100)
    return record, start


def history(*runs: tuple[RunRecord, TaskStart | None]) -> tuple[list[RunRecord], list[TaskStart]]:
    return [r for r, _ in runs], [s for _, s in runs if s is not None]


def only(report: Report, category: str, count: int = 1) -> str:
    """Assert that exactly `count` findings are in `category` and none elsewhere; returns their text."""
    categories = {"lost": report.lost, "duplicated": report.duplicated, "unexpected": report.unexpected}
    categories["late"] = report.late
    for name, findings in categories.items():
        expected = count if name == category else 0
        assert len(findings) == expected, f"{name}: {findings}\n{report}"
    return "\n".join(str(f) for f in categories[category])


def test_a_clean_history_is_valid() -> None:
    records, starts = history(*(run(i) for i in range(5)))
    report = check([job()], records, starts, late_bound_s=1.0)
    assert report.valid, report
    assert report.expected == 5
    assert report.outcomes == {"success": 5}
    assert report.max_lateness_s is not None
    assert abs(report.max_lateness_s - 0.2) < 1e-6


def test_recorded_outcomes_with_reasons_account_for_their_slots() -> None:
    records, starts = history(
        run(0),
        run(1, status=FAILED, error_message="executor lost: the run's lock expired without being renewed"),
        run(2, status=MISSED, error_message="missed: picked up 9.0 s after its scheduled time"),
        run(3, status=SKIPPED, error_message="skipped: 1 run(s) of the job already running (max_instances=1)"),
        run(4),
    )
    report = check([job()], records, starts)
    assert report.valid, report
    assert report.outcomes == {"success": 2, "failed": 1, "missed": 1, "skipped": 1}


def test_a_coalesced_row_stands_for_its_slots() -> None:
    records, starts = history(run(0), run(3, coalesced_count=3, coalesced_from=T0 + S), run(4))
    report = check([job()], records, starts)
    assert report.valid, report
    assert report.outcomes == {"success": 5}


def test_a_coalesced_missed_row_stands_for_its_slots() -> None:
    records, starts = history(
        run(2, status=MISSED, coalesced_count=3, coalesced_from=T0, error_message="missed: 3 slots"),
        run(3),
        run(4),
    )
    report = check([job()], records, starts)
    assert report.valid, report
    assert report.outcomes == {"missed": 3, "success": 2}


# --- lost ---------------------------------------------------------------------------------------------------


def test_a_slot_without_a_row_is_lost() -> None:
    records, starts = history(run(0), run(1), run(3), run(4))
    text = only(check([job()], records, starts), "lost")
    assert "12:00:02.250000" in text
    assert "no execution row" in text


def test_a_row_still_pending_at_the_end_is_lost() -> None:
    records, starts = history(run(0), run(1), run(2, status=ExecutionStatus.PENDING), run(3), run(4))
    assert "still pending at the end" in only(check([job()], records, starts), "lost")


def test_a_row_still_running_at_the_end_is_lost() -> None:
    records, starts = history(run(0), run(1, status=ExecutionStatus.RUNNING), run(2), run(3), run(4))
    assert "still running at the end" in only(check([job()], records, starts), "lost")


def test_a_missed_row_without_a_reason_is_lost() -> None:
    records, starts = history(run(0), run(1), run(2, status=MISSED), run(3), run(4))
    assert "missed without a reason" in only(check([job()], records, starts), "lost")


def test_a_failed_row_without_a_reason_is_lost() -> None:
    records, starts = history(run(0), run(1), run(2, status=FAILED, error_message="  "), run(3), run(4))
    assert "failed without a reason" in only(check([job()], records, starts), "lost")


def test_a_success_whose_task_never_started_is_lost() -> None:
    records, starts = history(*(run(i) for i in range(5)))
    del starts[2]
    assert "never started" in only(check([job()], records, starts), "lost")
    # Unless the job's task does not log its starts.
    assert check([job(tracks_starts=False)], records, starts).valid


def test_a_coalesced_row_covering_too_few_slots_leaves_the_rest_lost() -> None:
    # The row claims 2 slots (2..3) while slot 1 has no row at all.
    records, starts = history(run(0), run(3, coalesced_count=2, coalesced_from=T0 + 2 * S), run(4))
    assert "12:00:01.250000" in only(check([job()], records, starts), "lost")


# --- duplicated ---------------------------------------------------------------------------------------------


def test_two_rows_for_one_slot_are_duplicated() -> None:
    records, starts = history(*(run(i) for i in range(5)), run(2, status=SKIPPED, error_message="skipped: x"))
    assert "2 execution rows" in only(check([job()], records, starts), "duplicated")


def test_a_coalesced_row_overlapping_another_row_is_duplicated() -> None:
    records, starts = history(run(0), run(1), run(3, coalesced_count=3, coalesced_from=T0 + S), run(4))
    assert "12:00:01.250000" in only(check([job()], records, starts), "duplicated")


def test_a_task_started_twice_for_one_row_is_duplicated() -> None:
    records, starts = history(*(run(i) for i in range(5)))
    again = starts[3]
    starts.append(TaskStart(again.execution_id, again.job_id, again.scheduled_at, again.started + S, pid=200))
    text = only(check([job()], records, starts), "duplicated")
    assert "task started 2 times" in text
    assert "pid 200" in text


def test_a_manual_run_started_twice_is_duplicated() -> None:
    records, starts = history(*(run(i) for i in range(5)))
    manual, manual_start = run(10, trigger=Trigger.MANUAL)
    assert manual_start is not None
    records.append(manual)
    starts += [manual_start, manual_start]
    assert "task started 2 times" in only(check([job()], records, starts), "duplicated")


# --- unexpected ---------------------------------------------------------------------------------------------


def test_a_row_off_the_schedule_is_unexpected() -> None:
    records, starts = history(*(run(i) for i in range(5)))
    odd = RunRecord(str(uuid.uuid4()), 1, T0 + timedelta(seconds=2.5), SUCCESS)
    records.append(odd)
    starts.append(TaskStart(odd.execution_id, 1, odd.scheduled_at, odd.scheduled_at, pid=1))
    text = only(check([job()], records, starts), "unexpected")
    assert "not on the job's schedule" in text


def test_a_row_for_an_unknown_job_is_unexpected() -> None:
    records, starts = history(*(run(i) for i in range(5)))
    stray, _ = run(1, job_id=99, status=MISSED, error_message="missed: x")
    records.append(stray)
    assert "job not in the history" in only(check([job()], records, starts), "unexpected")


def test_a_manual_trigger_is_not_unexpected() -> None:
    records, starts = history(*(run(i) for i in range(5)), run(7, trigger=Trigger.MANUAL, late=30))
    assert check([job()], records, starts, late_bound_s=1).valid


def test_a_coalesced_count_that_does_not_match_the_schedule_is_unexpected() -> None:
    # Says 4 slots from slot 1 to slot 3: the schedule has 3 there. Its slots are then not covered.
    records, starts = history(run(0), run(3, coalesced_count=4, coalesced_from=T0 + S), run(4))
    report = check([job()], records, starts)
    assert "stands for 4 slots" in "\n".join(map(str, report.unexpected))
    assert len(report.lost) == 3


def test_a_start_without_a_row_is_unexpected() -> None:
    records, starts = history(*(run(i) for i in range(5)))
    starts.append(TaskStart(str(uuid.uuid4()), 1, T0 + 9 * S, T0 + 9 * S, pid=1))
    assert "which has no row" in only(check([job()], records, starts), "unexpected")


def test_a_start_for_a_run_recorded_missed_is_unexpected() -> None:
    records, starts = history(*(run(i) for i in range(4)), run(4, status=MISSED, error_message="missed: late"))
    starts.append(TaskStart(records[4].execution_id, 1, T0 + 4 * S, T0 + 4 * S, pid=1))
    assert "recorded missed" in only(check([job()], records, starts), "unexpected")


def test_rows_on_the_schedule_after_the_window_are_neither_expected_nor_unexpected() -> None:
    records, starts = history(*(run(i) for i in range(7)))
    report = check([job(slots=5)], records, starts)
    assert report.valid, report
    assert report.expected == 5


# --- late ---------------------------------------------------------------------------------------------------


def test_a_run_started_past_the_bound_is_late() -> None:
    records, starts = history(run(0), run(1), run(2, late=3.5), run(3), run(4))
    text = only(check([job()], records, starts, late_bound_s=2.0), "late")
    assert "started 3.500 s after its slot" in text
    assert check([job()], records, starts).valid, "no bound, no late findings"


def test_lateness_falls_back_to_the_database_start_when_the_task_does_not_log() -> None:
    records, _ = history(run(0), run(1, late=5.0))
    report = check([job(slots=2, tracks_starts=False)], records, [], late_bound_s=2.0)
    assert len(report.late) == 1
    assert report.max_lateness_s == 5.0


# --- schedules and the log format ---------------------------------------------------------------------------


def test_cron_schedules_give_their_slots() -> None:
    first = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    cron = ExpectedJob(
        1, CronSchedule("*/15 * * * *"), first_slot=first, until=first + timedelta(hours=1), tracks_starts=False
    )
    slots = [first + timedelta(minutes=15 * i) for i in range(5)]
    records = [RunRecord(str(uuid.uuid4()), 1, at, SUCCESS) for at in slots if at.minute != 30]
    report = check([cron], records, [], late_bound_s=None)
    assert report.expected == 5
    assert [f.scheduled_at for f in report.lost] == [first + timedelta(minutes=30)]


def test_read_starts_parses_the_record_task_log(tmp_path: Path) -> None:
    log = tmp_path / "starts.log"
    execution_id = str(uuid.uuid4())
    log.write_text(f"{execution_id} 7 2030-01-01T12:00:00.250000+00:00 1893499200.500000 4242\n\n")
    [start] = read_starts(log, tmp_path / "missing.log")
    assert start == TaskStart(
        execution_id,
        7,
        T0,
        datetime(2030, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC),
        4242,
    )


# --- attempt chains (retries) --------------------------------------------------------------------------------------


def retried(slot: int, outcomes: list[ExecutionStatus]) -> tuple[list[RunRecord], list[TaskStart]]:
    """A slot run in attempts ending in `outcomes` (every one but the last failed), each linked to the next, each
    started once, each later than its slot."""
    at = T0 + slot * S
    ids = [str(uuid.uuid4()) for _ in outcomes]
    records, starts = [], []
    for index, (execution_id, status) in enumerate(zip(ids, outcomes, strict=True)):
        started = at + (1 + 5 * index) * S
        next_id = ids[index + 1] if index + 1 < len(ids) else None
        reason = "boom" if status == FAILED else None
        records.append(
            RunRecord(
                execution_id,
                1,
                at,
                status,
                error_message=reason,
                started_at=started,
                attempt=index + 1,
                retried_by=next_id,
            )
        )
        starts.append(TaskStart(execution_id, 1, at, started, pid=100))
    return records, starts


def test_a_slot_retried_until_it_succeeds_is_one_outcome_and_never_late() -> None:
    records, starts = history(*(run(i) for i in range(4)))
    chain, chain_starts = retried(4, [FAILED, FAILED, SUCCESS])
    report = check([job()], records + chain, starts + chain_starts, late_bound_s=1.5)
    assert report.valid, report
    assert report.outcomes == {"success": 5}


def test_a_slot_whose_retries_all_failed_ends_failed() -> None:
    records, starts = history(*(run(i) for i in range(4)))
    chain, chain_starts = retried(4, [FAILED, FAILED])
    report = check([job()], records + chain, starts + chain_starts)
    assert report.valid, report
    assert report.outcomes == {"success": 4, "failed": 1}


def test_a_retry_still_waiting_at_the_end_loses_its_slot() -> None:
    records, starts = history(*(run(i) for i in range(4)))
    chain, chain_starts = retried(4, [FAILED, ExecutionStatus.WAITING])
    text = only(check([job()], records + chain, starts + chain_starts[:1]), "lost")
    assert "still waiting" in text


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ("second attempt 2", "an attempt twice"),
        ("gap", "not 1..2"),
        ("wrong link", "links to"),
        ("retried success", "was retried but ended success"),
        ("dangling link", "has no row"),
    ],
)
def test_attempts_that_do_not_form_one_chain_are_unexpected(change: str, found: str) -> None:
    records, starts = history(*(run(i) for i in range(4)))
    chain, chain_starts = retried(4, [FAILED, SUCCESS])
    first, second = chain
    if change == "second attempt 2":
        chain.append(replace(second, execution_id=str(uuid.uuid4())))
    elif change == "gap":
        chain[1] = replace(second, attempt=3)
    elif change == "wrong link":
        chain[0] = replace(first, retried_by=str(uuid.uuid4()))
    elif change == "retried success":
        chain[0] = replace(first, status=SUCCESS)
    else:
        chain[1] = replace(second, retried_by=str(uuid.uuid4()))
    text = only(check([job()], records + chain, starts + chain_starts), "unexpected")
    assert found in text


def test_an_attempt_whose_task_started_twice_is_duplicated() -> None:
    records, starts = history(*(run(i) for i in range(4)))
    chain, chain_starts = retried(4, [FAILED, SUCCESS])
    again = replace(chain_starts[1], started=chain_starts[1].started + S, pid=300)
    text = only(check([job()], records + chain, starts + chain_starts + [again]), "duplicated")
    assert "task started 2 times" in text
