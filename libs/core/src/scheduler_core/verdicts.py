"""Verdicts: the rules that decide how a run that will not run ends (missed, skipped, lost, timed out, abandoned),
and the reason each terminal row records, as pure functions.

Whoever applies a rule (the timekeeper's pass, the executor's claim, the sweep, the executor) takes it from
here, and SQL receives the reasons as parameters: a rule and its words exist once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

_SECOND: Final = timedelta(seconds=1)


def past_grace(lateness: timedelta, grace_s: int) -> bool:
    """The misfire rule: a scheduled run is missed once its lateness in whole seconds exceeds its job's
    misfire_grace_time (so grace 0 still tolerates sub-second lateness)."""
    return lateness // _SECOND > grace_s


def missed_at_pass(
    slot: datetime, now: datetime, grace_s: int, *, coalesced_from: datetime | None = None, coalesced_count: int = 1
) -> str:
    """Why slots the timekeeper reached past their grace time (after an outage of it) were not run."""
    late = (now - slot).total_seconds()
    if coalesced_count > 1 and coalesced_from is not None:
        return (
            f"missed: {coalesced_count} slots from {coalesced_from.isoformat()} to {slot.isoformat()} were past "
            f"the misfire grace time of {grace_s} s when the timekeeper reached them (latest {late:.1f} s late)"
        )
    return f"missed: the timekeeper reached this slot {late:.1f} s late, past the misfire grace time of {grace_s} s"


def missed_at_claim(lateness: timedelta, grace_s: int) -> str:
    """Why a run an executor picked up past its grace time (a backlog, an outage of the executors) was not run."""
    return (
        f"missed: picked up {lateness.total_seconds():.1f} s after its scheduled time, "
        f"past the job's misfire grace time of {grace_s} s"
    )


def missed_unclaimed(lateness: timedelta, grace_s: int) -> str:
    """Why the sweep closed a run nobody claimed within its grace time."""
    return (
        f"missed: not claimed by any executor within the job's misfire grace time of {grace_s} s (still pending "
        f"{lateness.total_seconds():.1f} s after its scheduled time: no executor was consuming, or the broker lost "
        "its message)"
    )


def skipped(max_instances: int) -> str:
    """Why a due run was not started: max_instances runs of its job were running."""
    return f"skipped: {max_instances} run(s) of the job already running (max_instances={max_instances})"


def trigger_refused(job_id: int, open_runs: int, max_instances: int) -> str:
    """Why a manual trigger was refused (409) rather than written: the run could only end skipped."""
    return (
        f"job {job_id} already has {open_runs} run(s) pending or running, its max_instances ({max_instances}): "
        "a run triggered now would be skipped; trigger it again once one has finished"
    )


def executor_lost(executor_id: str) -> str:
    """Why the sweep failed a running run whose executor's instance was declared stopped."""
    return f"executor lost: its instance {executor_id} stopped heartbeating while the run was in progress"


LEASE_EXPIRED: Final = "executor lost: the run's lock expired without being renewed"
"""Why the sweep failed a running run whose lock expired (or vanished) though its executor may still live."""


def timed_out(timeout_s: float) -> str:
    return f"timed out after {timeout_s:g} s"


def abandoned_at_shutdown(grace_s: float, *, forced: bool = False) -> str:
    """Why an executor that was asked to stop failed a run still going after its shutdown grace period, or when a
    second interrupt (Ctrl-C twice) forced the shutdown before the end of that period."""
    if forced:
        return (
            "executor shut down: shutdown forced by a second interrupt; the task was cancelled without waiting out "
            f"the {grace_s:g} s shutdown grace period"
        )
    return (
        f"executor shut down: the task did not finish within the {grace_s:g} s shutdown grace period and was cancelled"
    )


def fenced(reason: str) -> str:
    """Why an executor stopped a run's task itself: it could no longer prove it still held the run's lease."""
    return f"fenced: the executor stopped the task because {reason}"


def queued(max_instances: int, *, replacing: bool) -> str:
    """Why a due run waits rather than starting: its job's places under max_instances are taken."""
    if replacing:
        return (
            f"queued: replacing the oldest of the {max_instances} run(s) running (overlap policy replace); starts "
            "once it has stopped"
        )
    return f"queued: {max_instances} run(s) of the job running (max_instances={max_instances}); starts once one ends"


def replaced_by(execution_id: str) -> str:
    """Who cancelled a running run under overlap_policy replace (its cancelled_by)."""
    return f"replaced by run {execution_id}"


def cancelled(by: str) -> str:
    """Why a run ended cancelled: `by` is its cancelled_by (a user, or the run that replaced it)."""
    return f"cancelled: {by}"


def cancelled_by_user(user_id: str | None) -> str:
    """cancelled_by of a run an operator cancelled through the API or the CLI."""
    return f"user {user_id}" if user_id else "an operator"


def paused_after_failures(count: int) -> str:
    """Why a job paused itself (its paused_reason)."""
    return f"paused after {count} consecutive failed run(s) (pause_after_failures={count}); resume it to go on"


def retry_waiting(attempt: int, delay_s: float) -> str:
    """What a retry shows while it waits for its delay (its error_message until it runs)."""
    return f"retry: attempt {attempt} waits {delay_s:.1f} s after the previous one failed"


JOB_DELETED: Final = "cancelled: the job was deleted before the run started"
"""Why a deleted job's runs that had not started (waiting retries, queued runs) were cancelled."""
