"""Traces (scheduler_core.observability.tracing): one trace per run, its spans linked from the timekeeper's write
through the publish and the executor's claim to the task, over RabbitMQ and over the embedded in-process broker;
a run relayed from the outbox (a manual run) starts its trace at the publish; API requests get spans, with their
SQL statements inside. The roles run in this process with an in-memory span exporter; tests/integration/
test_traces_processes.py runs them as processes exporting over OTLP."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.broker import Broker, InMemoryBroker
from scheduler_core.observability.otel import OtelTracing
from scheduler_core.observability.tracing import SPAN_CLAIM, SPAN_PUBLISH, SPAN_TASK, SPAN_WRITE
from scheduler_core.store.models import ExecutionStatus
from tests.support.cluster import create_job, eventually, executions, register_test_tasks
from tests.support.pipeline import pipeline
from tests.support.processes import service_token
from tests.support.rabbit import RabbitAdmin

CHAIN = [SPAN_WRITE, SPAN_PUBLISH, SPAN_CLAIM, SPAN_TASK]
RUNS = 3


@pytest.fixture(params=["rabbitmq", "memory"])
def broker_factory(request: pytest.FixtureRequest, rabbit: RabbitAdmin) -> Callable[[], Broker]:
    if request.param == "rabbitmq":
        return rabbit.broker_factory()
    shared = InMemoryBroker()  # the embedded mode's: one broker that every role of the process shares
    return lambda: shared


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> OtelTracing:
    return OtelTracing.with_processor("jobscheduler-test", SimpleSpanProcessor(exporter))


def runs_spans(spans: Sequence[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    """The run spans, by the execution id they are about."""
    by_run: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        execution_id = (span.attributes or {}).get("scheduler.execution.id")
        if isinstance(execution_id, str):
            by_run[execution_id].append(span)
    return by_run


def chain_of(spans: list[ReadableSpan]) -> list[str]:
    """The run's spans as one chain from its root, each the parent of the next; fails if they are not one."""
    assert len({span.context.trace_id for span in spans}) == 1, f"spans of several traces: {spans}"
    by_parent = {span.parent.span_id if span.parent else None: span for span in spans}
    assert len(by_parent) == len(spans), f"not a chain: {[(s.name, s.parent) for s in spans]}"
    chain, current = [], by_parent.get(None)
    while current is not None:
        chain.append(current.name)
        current = by_parent.get(current.context.span_id)
    assert len(chain) == len(spans), f"not linked from one root: {[(s.name, s.parent) for s in spans]}"
    return chain


async def test_each_run_is_one_trace_from_the_timekeepers_write_to_its_task(
    pg_engine: AsyncEngine,
    postgres_url: str,
    broker_factory: Callable[[], Broker],
    tracing: OtelTracing,
    exporter: InMemorySpanExporter,
    tmp_path: Path,
) -> None:
    await register_test_tasks(pg_engine)
    async with pipeline(postgres_url, broker_factory, tracing) as built:
        await built.start_executor()
        await built.start_timekeeper()
        job = await create_job(pg_engine, first_in=0.3, parameters={"log": str(tmp_path / "starts.log")})

        async def finished() -> list[str] | None:
            done = [r.execution_id for r in await executions(pg_engine, job.job_id) if r.status_id == 3]
            return done if len(done) >= RUNS else None

        done = await eventually(finished, 20, f"{RUNS} runs to succeed")

    by_run = runs_spans(exporter.get_finished_spans())
    for execution_id in done:
        assert chain_of(by_run[execution_id]) == CHAIN, execution_id
        task = next(span for span in by_run[execution_id] if span.name == SPAN_TASK)
        assert (task.attributes or {})["scheduler.run.status"] == "success"
    # One trace per run: no two runs share one.
    assert len({by_run[e][0].context.trace_id for e in done}) == len(done)
    claims = [span for e in done for span in by_run[e] if span.name == SPAN_CLAIM]
    assert all((span.attributes or {})["scheduler.claim.outcome"] == "claimed" for span in claims)
    assert all(span.kind is SpanKind.CONSUMER for span in claims)


async def test_a_failed_runs_task_span_records_the_failure(
    pg_engine: AsyncEngine,
    postgres_url: str,
    rabbit: RabbitAdmin,
    tracing: OtelTracing,
    exporter: InMemorySpanExporter,
    tmp_path: Path,
) -> None:
    await register_test_tasks(pg_engine)
    async with pipeline(postgres_url, rabbit.broker_factory(), tracing) as built:
        await built.start_executor()
        await built.start_timekeeper()
        job = await create_job(pg_engine, task="crash", first_in=0.3, parameters={"log": str(tmp_path / "s.log")})

        async def failed() -> str | None:
            rows = [r for r in await executions(pg_engine, job.job_id) if r.status_id == ExecutionStatus.FAILED]
            return rows[0].execution_id if rows else None

        execution_id = await eventually(failed, 20, "a run to fail")

    spans = runs_spans(exporter.get_finished_spans())[execution_id]
    assert chain_of(spans) == CHAIN
    task = next(span for span in spans if span.name == SPAN_TASK)
    assert (task.attributes or {})["scheduler.run.status"] == "failed"
    assert task.status.description == "RuntimeError: this task always crashes"


async def test_a_manual_run_is_traced_from_its_publish_and_the_request_has_its_statements(
    pg_engine: AsyncEngine,
    postgres_url: str,
    rabbit: RabbitAdmin,
    tracing: OtelTracing,
    exporter: InMemorySpanExporter,
    tmp_path: Path,
) -> None:
    await register_test_tasks(pg_engine)
    async with pipeline(postgres_url, rabbit.broker_factory(), tracing) as built:
        port = await built.start_api()
        await built.start_executor()
        await built.start_timekeeper()
        job = await create_job(
            pg_engine, interval_seconds=3600, first_in=3600, parameters={"log": str(tmp_path / "starts.log")}
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            response = await client.post(
                f"/api/v1/scheduler/jobs/{job.job_id}/action",
                json={"action": "trigger"},
                headers={"Authorization": f"Bearer {service_token()}"},
            )
            assert response.status_code == 200, response.text
            await client.get("/metrics")  # a scrape: no span

        async def succeeded() -> str | None:
            rows = [r for r in await executions(pg_engine, job.job_id) if r.status_id == ExecutionStatus.SUCCESS]
            return rows[0].execution_id if rows else None

        execution_id = await eventually(succeeded, 20, "the manual run to succeed")

    finished = exporter.get_finished_spans()
    # Written by the api, published by the timekeeper's relay: the run's trace starts at its publish.
    spans = runs_spans(finished)[execution_id]
    assert chain_of(spans) == [SPAN_PUBLISH, SPAN_CLAIM, SPAN_TASK]
    assert (spans[0].attributes or {}).get("scheduler.run.relayed") is True
    requests = [span for span in finished if span.kind is SpanKind.SERVER]
    assert [span.name for span in requests] == ["POST /api/v1/scheduler/jobs/{job_id}/action"]
    [request] = requests
    statements = [
        span
        for span in finished
        if span.context.trace_id == request.context.trace_id and (span.attributes or {}).get("db.system")
    ]
    assert statements, "the request's SQL statements are not in its trace"
    # Statements outside any trace (heartbeats, passes, sweeps) are not sampled: each trace is a run's or a request's.
    roots = [span for span in finished if span.parent is None]
    assert {(span.name, span.kind) for span in roots} == {
        (SPAN_PUBLISH, SpanKind.PRODUCER),
        ("POST /api/v1/scheduler/jobs/{job_id}/action", SpanKind.SERVER),
    }
