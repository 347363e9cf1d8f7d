"""Traces on: the OpenTelemetry SDK behind `Tracing` (see tracing.py for the trace of a run). Imported only when
the environment switches traces on.

The provider is this process's own, never the global one: embedded mode and the tests run several roles in one
process, and the instrumentations take it explicitly. SQL statements are traced per engine with the SQLAlchemy
instrumentation's EngineTracer (its instrumentor would patch SQLAlchemy for every engine of the process, and
declares SQLAlchemy below 2.1, which this product runs: the tracer itself works with it, as the trace tests show).
Statements outside any trace (heartbeats, idle passes, sweeps: several a second in all) are not sampled, so every
exported trace is a run's or a request's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.broker.message import RunMessage
from scheduler_core.observability.tracing import (
    SPAN_CLAIM,
    SPAN_PUBLISH,
    SPAN_TASK,
    SPAN_WRITE,
    ClaimSpans,
    RunSpan,
    Tracing,
    attributes_of,
)
from scheduler_core.store import ClaimOutcome, ClaimResult, RunOutcome
from scheduler_core.store.models import ExecutionStatus

# W3C trace context only: the run's `traceparent`, whatever OTEL_PROPAGATORS says for other libraries.
PROPAGATOR = TraceContextTextMapPropagator()
SCOPE = "scheduler_core.observability"


def context_of(traceparent: str | None) -> Context | None:
    """The context a W3C traceparent names (None: none, or not a valid one)."""
    if traceparent is None:
        return None
    context = PROPAGATOR.extract({"traceparent": traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def traceparent_of(span: Span) -> str | None:
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    return carrier.get("traceparent")


def trace_id_of(span: Span) -> str | None:
    context = span.get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


class NoOrphanStatements(Sampler):
    """`sampler`'s decision, except for a client span (a SQL statement) outside any trace: dropped."""

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind is SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self._sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"NoOrphanStatements{{{self._sampler.get_description()}}}"


class _OtelRunSpan(RunSpan):
    def __init__(self, span: Span) -> None:
        self._span = span
        self.trace_id = trace_id_of(span)

    def finished(self, outcome: RunOutcome) -> None:
        self._span.set_attribute("scheduler.run.status", outcome.status.name.lower())
        if outcome.status is ExecutionStatus.FAILED:
            self._span.set_status(Status(StatusCode.ERROR, outcome.error_message))


class _OtelClaimSpans(ClaimSpans):
    def __init__(self, spans: dict[str, Span]) -> None:
        self._spans = spans

    def ended(self, claim: ClaimResult) -> str | None:
        span = self._spans.pop(claim.execution_id, None)
        if span is None:
            return None
        span.set_attribute("scheduler.claim.outcome", claim.outcome.name.lower())
        if claim.reason:
            span.set_attribute("scheduler.claim.reason", claim.reason)
        parent = traceparent_of(span) if claim.outcome is ClaimOutcome.CLAIMED else None
        span.end()
        return parent

    def trace_id(self, execution_id: str) -> str | None:
        span = self._spans.get(execution_id)
        return None if span is None else trace_id_of(span)

    def abandon(self, error: BaseException) -> None:
        for span in self._spans.values():
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
            span.end()
        self._spans.clear()


class OtelTracing(Tracing):
    enabled = True

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = self._provider = provider
        self._tracer = provider.get_tracer(SCOPE)

    @classmethod
    def exporting(cls, service: str) -> OtelTracing:
        """Spans batched to the OTLP endpoint the environment names (OTLPSpanExporter and BatchSpanProcessor read
        their OTEL_EXPORTER_OTLP_* and OTEL_BSP_* variables themselves)."""
        return cls.with_processor(service, BatchSpanProcessor(OTLPSpanExporter()))

    @classmethod
    def with_processor(cls, service: str, processor: SpanProcessor) -> OtelTracing:
        """Spans to `processor`; the resource and the sampler from the environment, service.name `service` unless
        it names one."""
        env = os.environ
        named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
        provider = TracerProvider(resource=Resource.create({} if named else {"service.name": service}))
        # The sampler the environment chose (OTEL_TRACES_SAMPLER; by default parent-based, always on), set before
        # any tracer exists: each tracer takes the provider's sampler when it is created.
        provider.sampler = NoOrphanStatements(provider.sampler)
        provider.add_span_processor(processor)
        return cls(provider)

    def written(self, messages: Sequence[RunMessage], started_ns: int) -> list[RunMessage]:
        traced = []
        for message in messages:
            span = self._tracer.start_span(SPAN_WRITE, attributes=attributes_of(message), start_time=started_ns)
            traced.append(replace(message, traceparent=traceparent_of(span)))
            span.end()
        return traced

    @contextlib.contextmanager
    def publishing(self, messages: Sequence[RunMessage]) -> Iterator[Sequence[RunMessage]]:
        spans, traced = [], []
        for message in messages:
            # A run relayed from the outbox has lost its write span's context: its trace starts here.
            span = self._tracer.start_span(
                SPAN_PUBLISH,
                context=context_of(message.traceparent),
                kind=SpanKind.PRODUCER,
                attributes={**attributes_of(message), "scheduler.run.relayed": message.traceparent is None},
            )
            spans.append(span)
            traced.append(replace(message, traceparent=traceparent_of(span)))
        try:
            yield traced
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            ended = time.time_ns()
            for span in spans:
                span.end(ended)

    def claiming(self, messages: Sequence[RunMessage]) -> ClaimSpans:
        return _OtelClaimSpans(
            {
                message.execution_id: self._tracer.start_span(
                    SPAN_CLAIM,
                    context=context_of(message.traceparent),
                    kind=SpanKind.CONSUMER,
                    attributes=attributes_of(message),
                )
                for message in messages
            }
        )

    @contextlib.contextmanager
    def task(self, traceparent: str | None, job_id: int, execution_id: str) -> Iterator[RunSpan]:
        attributes: dict[str, Any] = {"scheduler.job.id": job_id, "scheduler.execution.id": execution_id}
        with self._tracer.start_as_current_span(
            SPAN_TASK, context=context_of(traceparent), attributes=attributes, record_exception=True
        ) as span:
            yield _OtelRunSpan(span)

    def instrument_engine(self, engine: AsyncEngine) -> None:
        from opentelemetry.instrumentation.sqlalchemy.version import __version__

        tracer = self._provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
        usage = NoOpMeterProvider().get_meter(SCOPE).create_up_down_counter("db.client.connections.usage")
        EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]

    async def shutdown(self) -> None:
        # Flushes the batch processor: a blocking call (the exporter's HTTP requests), off the event loop.
        await asyncio.to_thread(self._provider.shutdown)
