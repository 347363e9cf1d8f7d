"""Traces, optional: OpenTelemetry, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
is set, configured by the standard OTEL_* variables (service name, resource attributes, headers, sampler, batch
delays); spans go out over OTLP/HTTP (protobuf).

One trace per run, its spans linked parent to child across the processes:

    run.write    timekeeper: the pass that wrote the run (the root; a run relayed from the outbox starts at
                 run.publish instead, a manual run among them)
    run.publish  timekeeper: until the broker confirmed the run's message
    run.claim    executor: the claim, with its outcome (claimed, already handled, missed, skipped, ...)
    run.task     executor: the task function, with the run's final status

The context travels with the run as a W3C `traceparent` (RunMessage.traceparent, so through both brokers; a
RabbitMQ message of one run carries it as a header too), and the executor's log lines about the run carry its
`trace_id`. API requests get spans from the maintained FastAPI instrumentation, and SQL statements inside a span
from the SQLAlchemy one (statements outside any trace, such as heartbeats, are not sampled).

Off, `Tracing` is what every role gets: each method hands back what it was given or does nothing, and neither
the OpenTelemetry SDK, an exporter nor an instrumentation is imported (FastAPI imports the OpenTelemetry API
itself, whose calls are no-ops without an SDK). `tracing_setup.tracing_from_environment` decides, once per process,
at start-up, from os.environ (the SDK reads its own variables there too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from scheduler_core.broker.message import RunMessage

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

    from scheduler_core.store import ClaimResult, RunOutcome

SPAN_WRITE: Final = "run.write"
SPAN_PUBLISH: Final = "run.publish"
SPAN_CLAIM: Final = "run.claim"
SPAN_TASK: Final = "run.task"


class RunSpan:
    """The span of a run's task while it runs: its trace id (for the log lines) and where its outcome goes."""

    trace_id: str | None = None

    def finished(self, outcome: RunOutcome) -> None:
        """The task ended with this outcome."""


class ClaimSpans:
    """The claim spans of a batch of runs, ended one by one with their claim's outcome."""

    def ended(self, claim: ClaimResult) -> str | None:
        """End the run's claim span; returns its traceparent (the task's parent), None if it has none."""
        return None

    def trace_id(self, execution_id: str) -> str | None:
        return None

    def abandon(self, error: BaseException) -> None:
        """The claim failed: end the spans not ended yet, with the error."""


NO_CLAIM_SPANS: Final = ClaimSpans()
# Reusable (nullcontext only hands back its value): traces off cost a run no allocation here.
_NO_TASK_SPAN: Final = contextlib.nullcontext(RunSpan())


class Tracing:
    """Traces off."""

    enabled: bool = False
    provider: TracerProvider | None = None

    def written(self, messages: Sequence[RunMessage], started_ns: int) -> list[RunMessage]:
        """Runs a pass that started at `started_ns` (time.time_ns()) wrote and committed: each starts its trace
        with a run.write span, which the returned messages carry."""
        return list(messages)

    @contextlib.contextmanager
    def publishing(self, messages: Sequence[RunMessage]) -> Iterator[Sequence[RunMessage]]:
        """A run.publish span per run for the block (ended with the error if it raises); yields the messages to
        publish, carrying them."""
        yield messages

    def claiming(self, messages: Sequence[RunMessage]) -> ClaimSpans:
        """Start a run.claim span per run about to be claimed."""
        return NO_CLAIM_SPANS

    def task(
        self, traceparent: str | None, job_id: int, execution_id: str
    ) -> contextlib.AbstractContextManager[RunSpan]:
        """The run.task span, current for the block (the task's own SQL statements become its children)."""
        return _NO_TASK_SPAN

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """Trace the engine's SQL statements that run inside a trace."""

    async def shutdown(self) -> None:
        """Export what is buffered, then stop (at the end of the process)."""


def attributes_of(message: RunMessage) -> dict[str, Any]:
    """A run's span attributes."""
    return {
        "scheduler.job.id": message.job_id,
        "scheduler.execution.id": message.execution_id,
        "scheduler.run.scheduled_at": message.scheduled_at.isoformat(),
        "scheduler.run.priority": message.priority,
    }
