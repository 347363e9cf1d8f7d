"""Traces as the product turns them on: a timekeeper and an executor as processes (`python -m scheduler_cli`) with
OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver this test runs on 127.0.0.1. Each run is one trace
across the two processes (write and publish from the timekeeper, claim and task from the executor, each span the
parent of the next), and every executor log line about a run carries that trace's id."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler_core.observability.http_server import HttpServer
from scheduler_core.observability.tracing import SPAN_CLAIM, SPAN_PUBLISH, SPAN_TASK, SPAN_WRITE
from scheduler_core.store.models import ExecutionStatus
from tests.support.cluster import Cluster, create_job, eventually, executions, register_test_tasks
from tests.support.processes import free_port
from tests.support.rabbit import RabbitAdmin

RUNS = 3


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    execution_id: str | None


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP trace receiver (protobuf, as the product's exporter sends), keeping what it received."""

    port: int
    spans: list[ReceivedSpan]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    received = OtlpReceiver(free_port(), [])

    async def traces(request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value.string_value for a in span.attributes}
                    received.spans.append(
                        ReceivedSpan(
                            resource["service.name"],
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            attributes.get("scheduler.execution.id") or None,
                        )
                    )
        body = ExportTraceServiceResponse().SerializeToString()
        return Response(body, media_type="application/x-protobuf")

    app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
    async with HttpServer(app, "127.0.0.1", received.port):
        yield received


@pytest.mark.timeout(90)
async def test_each_run_is_one_trace_across_the_processes_and_its_log_lines_carry_its_id(
    pg_engine: AsyncEngine,
    postgres_url: str,
    amqp_url: str,
    rabbit: RabbitAdmin,
    receiver: OtlpReceiver,
    tmp_path: Path,
) -> None:
    queue = f"traces-{uuid.uuid4().hex}"
    rabbit.queue_names.append(queue)
    await register_test_tasks(pg_engine)
    cluster = Cluster(postgres_url, amqp_url, queue, tmp_path)
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds between exports (5000 by default)
        "SCHEDULER_LOG_LEVEL": "DEBUG",  # a successful run's line is at debug
    }
    try:
        [timekeeper] = await cluster.timekeepers(1, env=otel)
        [executor] = await cluster.executors(1, env=otel)
        job = await create_job(pg_engine, first_in=0.5, parameters={"log": str(tmp_path / "starts.log")})

        async def finished() -> list[str] | None:
            rows = await executions(pg_engine, job.job_id)
            done = [r.execution_id for r in rows if r.status_id == ExecutionStatus.SUCCESS]
            return done if len(done) >= RUNS else None

        done = await eventually(finished, 30, f"{RUNS} runs to succeed")
    finally:
        await cluster.stop()  # SIGTERM: each process exports what it still holds before it exits
    assert timekeeper.process.returncode == 0, timekeeper.log_tail()
    assert executor.process.returncode == 0, executor.log_tail()

    by_run: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in receiver.spans:
        if span.execution_id is not None:
            by_run[span.execution_id].append(span)
    lines = [json.loads(line) for line in executor.log_path.read_text().splitlines() if line.startswith("{")]
    for execution_id in done:
        spans = {span.name: span for span in by_run[execution_id]}
        assert sorted(spans) == sorted([SPAN_WRITE, SPAN_PUBLISH, SPAN_CLAIM, SPAN_TASK]), by_run[execution_id]
        write, publish, claim, task = (spans[name] for name in (SPAN_WRITE, SPAN_PUBLISH, SPAN_CLAIM, SPAN_TASK))
        assert (write.service, publish.service) == ("jobscheduler-timekeeper", "jobscheduler-timekeeper")
        assert (claim.service, task.service) == ("jobscheduler-executor", "jobscheduler-executor")
        assert len({write.trace_id, publish.trace_id, claim.trace_id, task.trace_id}) == 1
        assert (write.parent_id, publish.parent_id, claim.parent_id, task.parent_id) == (
            "",
            write.span_id,
            publish.span_id,
            claim.span_id,
        )
        about_run = [line for line in lines if line.get("execution_id") == execution_id]
        assert about_run, f"no executor log line about {execution_id}"
        assert {line.get("trace_id") for line in about_run} == {write.trace_id}, about_run
    assert len({by_run[e][0].trace_id for e in done}) == len(done)  # one trace per run
