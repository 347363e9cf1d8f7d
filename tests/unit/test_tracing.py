"""Traces are off unless the environment names an OTLP endpoint: then no exporter exists, neither the OpenTelemetry
SDK nor an exporter or instrumentation is imported, and the off `Tracing` hands every run back as it was. On, the
OTLP exporter is built from the standard variables, and SQL statements outside any trace are not sampled."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from scheduler_core.broker import RunMessage
from scheduler_core.observability.otel import OtelTracing
from scheduler_core.observability.tracing import Tracing
from scheduler_core.observability.tracing_setup import tracing_from_environment
from tests.support.processes import ROOT

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


def run_message() -> RunMessage:
    return RunMessage(str(uuid.uuid4()), 1, datetime(2030, 1, 1, tzinfo=UTC), 0)


OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Sets exactly these OTEL_* variables (the others unset) for the test."""

    def use(variables: dict[str, str]) -> None:
        for name in OTEL_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return use


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "  "},
        {**ENDPOINT, "OTEL_SDK_DISABLED": "true"},
        {**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_SERVICE_NAME": "named", "OTEL_TRACES_SAMPLER": "always_on"},  # no endpoint: nothing to send to
    ],
)
def test_traces_are_off_unless_an_endpoint_is_named(
    environment: Callable[[dict[str, str]], None], variables: dict[str, str]
) -> None:
    environment(variables)
    tracing = tracing_from_environment("jobscheduler-executor")
    assert type(tracing) is Tracing
    assert tracing.enabled is False
    assert tracing.provider is None


async def test_off_every_run_is_handed_back_as_it_was() -> None:
    tracing = Tracing()
    messages = [run_message(), run_message()]
    assert tracing.written(messages, 0) == messages
    with tracing.publishing(messages) as published:
        assert published == messages
    with tracing.task(None, 1, messages[0].execution_id) as span:
        assert span.trace_id is None
    assert tracing.claiming(messages).ended is not None
    await tracing.shutdown()


def test_off_no_exporter_exists_and_no_opentelemetry_module_is_loaded() -> None:
    # A fresh interpreter with no OTEL_* variable, as a role starts: the product's modules, its app, the decision.
    script = textwrap.dedent(
        """
        import sys
        from scheduler_api.app import create_app
        from scheduler_cli.main import app
        from scheduler_core.observability.tracing_setup import tracing_from_environment
        from scheduler_core.settings import Settings

        tracing = tracing_from_environment("jobscheduler-api")
        create_app(Settings(jwt_secret="x" * 32), instance_id="i", tracing=tracing)
        # FastAPI imports the OpenTelemetry API itself (no-op calls without an SDK): the SDK, exporters and
        # instrumentations are what traces add.
        heavy = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation")
        loaded = sorted(name for name in sys.modules if name.startswith(heavy))
        print(tracing.enabled, loaded)
        """
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False []"


async def test_on_spans_go_to_the_otlp_endpoint_under_the_roles_service_name(
    environment: Callable[[dict[str, str]], None],
) -> None:
    environment(ENDPOINT)
    tracing = tracing_from_environment("jobscheduler-executor")
    assert isinstance(tracing, OtelTracing)
    assert tracing.provider is not None
    processors = tracing.provider._active_span_processor._span_processors  # the SDK keeps them here
    assert [type(p) for p in processors] == [BatchSpanProcessor]
    assert isinstance(processors[0].span_exporter, OTLPSpanExporter)  # type: ignore[attr-defined]
    assert tracing.provider.resource.attributes["service.name"] == "jobscheduler-executor"
    await tracing.shutdown()

    environment({**ENDPOINT, "OTEL_SERVICE_NAME": "batch-executors"})
    named = tracing_from_environment("jobscheduler-executor")
    assert named.provider is not None
    assert named.provider.resource.attributes["service.name"] == "batch-executors"
    await named.shutdown()


def test_statements_outside_any_trace_are_not_sampled() -> None:
    exporter = InMemorySpanExporter()
    tracing = OtelTracing.with_processor("test", SimpleSpanProcessor(exporter))
    assert tracing.provider is not None
    tracer = tracing.provider.get_tracer("test")
    with (
        tracer.start_as_current_span("request", kind=SpanKind.SERVER),
        tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT),
    ):
        pass
    with tracer.start_as_current_span("heartbeat UPDATE", kind=SpanKind.CLIENT) as orphan:
        assert not orphan.get_span_context().trace_flags.sampled
        assert trace.get_current_span() is orphan
    assert sorted(span.name for span in exporter.get_finished_spans()) == ["SELECT", "request"]
