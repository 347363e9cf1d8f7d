"""Prometheus metrics. Each service builds one `Metrics` on its own registry and passes it down, so tests
and the embedded mode (three roles in one process) never collide on a global registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Start lateness in seconds: the scheduler aims at milliseconds; catch-up after an outage is minutes.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        r = self.registry
        self.runs = Counter(
            "scheduler_runs_total", "Runs that reached a final status, by status.", ["status"], registry=r
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
        self.missed = Counter(
            "scheduler_missed_runs_total", "Slots recorded as missed (past their grace time).", registry=r
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
