"""Prometheus metrics. Each service builds one `Metrics` on its own registry and passes it down, so tests
and the embedded mode (three roles in one process) never collide on a global registry.

Most metrics count what the process itself did. The scheduler's state (how far the timekeepers are behind, the
runs waiting for an executor, the live instances of each role) is no process's own: the API reads it from the
database when it is scraped (`SchedulerState`, given to `Metrics.set_state`), and only a process that has read it
exports it. The alert rules in deploy/observability/ read these names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

# Start lateness in seconds: the scheduler aims at milliseconds; catch-up after an outage is minutes.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The roles of scheduler instances (scheduler_instance.role). Series labelled by role exist for each from the
# start, at 0: an alert on their increase then sees the first loss, and "no live executor" is a 0, not a gap.
ROLES: Final = ("api", "timekeeper", "executor", "embedded")


@dataclass(frozen=True, slots=True)
class SchedulerState:
    """The scheduler's state at one instant, as the database (and the broker) showed it to the API."""

    timekeeper_lag_seconds: float  # how far past its slot the most overdue schedulable job is (0: none is due)
    queue_depth: int  # runs due and not claimed yet
    queue_age_seconds: float  # how long the oldest of them has been due (0: none)
    live_instances: Mapping[str, int]  # by role, every role of ROLES present
    queue_messages_ready: int | None = None  # messages ready in the broker's queue; None: the broker did not say


class StateCollector(Collector):
    """Exports the latest SchedulerState, if any was read (None: nothing, so no process reports a state it did not
    read)."""

    def __init__(self) -> None:
        self.state: SchedulerState | None = None

    def describe(self) -> Iterator[Metric]:
        # The families without samples: registering the collector does not call collect().
        yield from self._families(None)

    def collect(self) -> Iterator[Metric]:
        if self.state is not None:
            yield from self._families(self.state)

    @staticmethod
    def _families(state: SchedulerState | None) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "scheduler_timekeeper_lag_seconds",
            "Seconds the most overdue schedulable job's next slot is past (0 when none is due): how far the "
            "timekeepers are behind.",
        )
        depth = GaugeMetricFamily(
            "scheduler_queue_depth",
            "Runs due and not claimed by an executor yet (pending, their slot or release passed), from the database.",
        )
        age = GaugeMetricFamily(
            "scheduler_queue_age_seconds", "Seconds the oldest run waiting for an executor has been due (0 when none)."
        )
        live = GaugeMetricFamily(
            "scheduler_instances_live",
            "Instances of each role that are live (not stopped, heartbeat younger than the instance timeout).",
            labels=["role"],
        )
        ready = GaugeMetricFamily(
            "scheduler_queue_messages_ready",
            "Messages ready in the broker's run queue (not counting delivered ones); each carries one or more runs.",
        )
        if state is not None:
            lag.add_metric([], state.timekeeper_lag_seconds)
            depth.add_metric([], state.queue_depth)
            age.add_metric([], state.queue_age_seconds)
            for role, count in sorted(state.live_instances.items()):
                live.add_metric([role], count)
            if state.queue_messages_ready is not None:
                ready.add_metric([], state.queue_messages_ready)
        yield from (lag, depth, age, live)
        if state is None or state.queue_messages_ready is not None:
            yield ready


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        r = self.registry
        # Every outcome recorded is counted here under its status, by whoever records it: the executor (success,
        # failed, cancelled, and missed or skipped at the claim), the timekeeper's pass (missed) and sweep (missed,
        # failed and cancelled runs of lost executors), the API (runs cancelled before they started).
        self.runs = Counter(
            "scheduler_runs_total", "Runs that reached a final status, by status.", ["status"], registry=r
        )
        # The same outcomes by job, for a failure ratio per job. Counted where a run's end is decided: executors
        # (outcomes, and runs found missed or skipped at the claim), timekeepers (runs recorded missed, and runs the
        # sweep failed because their executor was lost). One series per job and status.
        self.job_runs = Counter(
            "scheduler_job_runs_total",
            "Runs that reached a final status, by job id and status.",
            ["job_id", "status"],
            registry=r,
        )
        self.start_lateness = Histogram(
            "scheduler_run_start_lateness_seconds",
            "Seconds between a run's scheduled time and its start.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.run_duration = Histogram(
            "scheduler_run_duration_seconds", "Seconds a task ran.", buckets=DURATION_BUCKETS, registry=r
        )
        self.published = Counter("scheduler_queue_published_total", "Run messages confirmed by the broker.", registry=r)
        self.publish_failures = Counter(
            "scheduler_queue_publish_failures_total", "Publish batches the broker did not confirm.", registry=r
        )
        self.consumed = Counter("scheduler_queue_consumed_total", "Run messages received by executors.", registry=r)
        self.duplicates = Counter(
            "scheduler_duplicate_deliveries_total", "Deliveries of runs that were already claimed.", registry=r
        )
        # Kept for dashboards that read it: always equal to scheduler_runs_total{status="missed"} (runs_recorded).
        self.missed = Counter(
            "scheduler_missed_runs_total",
            'Slots recorded as missed (past their grace time); the same as scheduler_runs_total{status="missed"}.',
            registry=r,
        )
        self.scheduled = Counter("scheduler_runs_scheduled_total", "Execution rows written for due slots.", registry=r)
        self.sweeps = Counter("scheduler_lock_sweeps_total", "Recovery sweeps run.", registry=r)
        self.orphans = Counter(
            "scheduler_orphaned_runs_total", "Runs failed by the sweep because their executor was lost.", registry=r
        )
        self.fenced = Counter(
            "scheduler_fenced_runs_total",
            "Runs an executor stopped itself because it could no longer keep their leases.",
            registry=r,
        )
        self.instances_lost = Counter(
            "scheduler_instances_lost_total",
            "Instances the sweep declared dead (their runs failed), by role.",
            ["role"],
            registry=r,
        )
        for role in ROLES:
            self.instances_lost.labels(role=role)
        self.notifications = Counter(
            "scheduler_notification_deliveries_total",
            "Notification delivery attempts by outcome: delivered (2xx), retrying (failed, tried again later), "
            "failed (failed, given up).",
            ["outcome"],
            registry=r,
        )
        self.running = Gauge("scheduler_runs_in_progress", "Runs this process is executing now.", registry=r)
        self.tick_seconds = Histogram(
            "scheduler_timekeeper_tick_seconds",
            "Seconds one timekeeper pass (claim, write, publish) took.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )

        # API requests, labelled by the route's handler name (a raw path would make one series per job id).
        self.http_requests = Counter(
            "scheduler_api_requests_total",
            "HTTP requests the API answered, by method, handler and status.",
            ["method", "handler", "status"],
            registry=r,
        )
        self.http_request_seconds = Histogram(
            "scheduler_api_request_duration_seconds",
            "Seconds the API took to answer a request.",
            ["method", "handler"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )

        self._job_run_children: dict[tuple[int, str], Counter] = {}

        self._state = StateCollector()
        r.register(self._state)

    def set_state(self, state: SchedulerState | None) -> None:
        """Export this state from now on (None: export none)."""
        self._state.state = state

    def job_run(self, job_id: int, status: str, count: int = 1) -> None:
        """Count `count` runs of the job that ended with `status` (lower-case, as scheduler_runs_total's)."""
        # Each (job, status) child looked up once: labels() validates, formats and locks on every call, which at a
        # thousand runs a second is a measurable share of the executor's CPU. Children are never removed here, so
        # this holds no more than the counter itself does.
        key = (job_id, status)
        child = self._job_run_children.get(key)
        if child is None:
            child = self._job_run_children[key] = self.job_runs.labels(job_id=str(job_id), status=status)
        child.inc(count)

    def runs_recorded(self, status: str, count: int = 1) -> None:
        """`count` runs recorded with this final status (lower-case name: "missed", "failed", ...)."""
        if count <= 0:
            return
        self.runs.labels(status=status).inc(count)
        if status == "missed":
            self.missed.inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
