"""Whether this process traces, decided once at start-up from the environment (see tracing.py): the OpenTelemetry
SDK is imported only when it does."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Final

from scheduler_core.observability.tracing import Tracing

# The variables that switch traces on: either endpoint.
ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@contextlib.asynccontextmanager
async def process_tracing(service: str) -> AsyncIterator[Tracing]:
    """This process's traces, from the environment (see tracing_from_environment), shut down (flushed) at exit."""
    tracing = tracing_from_environment(service)
    try:
        yield tracing
    finally:
        await tracing.shutdown()


def tracing_from_environment(service: str) -> Tracing:
    """Traces on, exported over OTLP, if the environment names an OTLP endpoint (and OTEL_SDK_DISABLED is not
    true, nor OTEL_TRACES_EXPORTER none); otherwise off. `service` is the service.name unless OTEL_SERVICE_NAME
    (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise."""
    env = os.environ
    if not any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES):
        return Tracing()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Tracing()
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return Tracing()
    from scheduler_core.observability.otel import OtelTracing  # only now: off costs no import

    return OtelTracing.exporting(service)
