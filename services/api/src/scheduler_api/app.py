"""`create_app`: the API as a FastAPI application, built from explicit dependencies (nothing at import time).

Routes: every endpoint of the reference (and the schedule preview) under /api/v1/scheduler, each requiring a
Super Admin token; /healthz, /readyz and /metrics without auth; OpenAPI at /openapi.json with docs at /docs
(unless SCHEDULER_API_DOCS is off); the dashboard at / (or, unbuilt, a page saying how to build it).
`install_security` (security.py) adds the headers, the method and body checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from fastapi import APIRouter, Depends, FastAPI

from scheduler_api.auth import TokenVerifier
from scheduler_api.dashboard import install_dashboard
from scheduler_api.dependencies import refuse_unknown_query, require_super_admin
from scheduler_api.docs import docs_options
from scheduler_api.errors import error_responses, install_error_handlers
from scheduler_api.gateway import install_gateway
from scheduler_api.request_metrics import RequestMetrics
from scheduler_api.routers import audit, channels, cleanup, health, history, jobs, lookups, preview, status
from scheduler_api.security import install_security
from scheduler_api.services import ServiceConfig, build_services
from scheduler_api.state_metrics import QueueDepth, StateMetrics
from scheduler_core.bootstrap import Database, open_database
from scheduler_core.observability.health import ReadinessCheck
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing import Tracing
from scheduler_core.settings import Mode, Settings

API_PREFIX: Final = "/api/v1/scheduler"
# Paths no request span is made for (the instrumentation's comma-separated patterns): probes and scrapes, which
# come every few seconds and say nothing about the scheduler's work.
UNTRACED_PATHS: Final = "/healthz,/readyz,/metrics"


def _version() -> str:
    try:
        return version("jobscheduler-api")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0"


def create_app(
    settings: Settings,
    database: Database | None = None,
    *,
    instance_id: str,
    mode: Mode = "standalone",
    broker_ping: ReadinessCheck | None = None,
    queue_depth: QueueDepth | None = None,
    on_schedule_change: Callable[[], None] | None = None,
    metrics: Metrics | None = None,
    token_verifier: TokenVerifier | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    """The API application.

    database: the open database to use (its owner closes it); None: the app's lifespan opens the configured
        one (refusing an unmigrated schema) and closes it at shutdown.
    instance_id: the scheduler_instance id of the process serving the API (reported by /status).
    mode: "embedded" or "standalone" (reported by /status; embedded mode generates the JWT secret if needed).
    broker_ping: checked by /readyz besides the database; None: no broker to check.
    queue_depth: the broker queue's ready messages, reported by /metrics; None: not reported.
    on_schedule_change: called after a transaction that changed a job's schedule or state, or wrote a manual
        run, committed (embedded mode passes its timekeeper's wake-up; PostgreSQL NOTIFY covers the others).
    metrics: the registry /metrics exposes (shared with the other roles in embedded mode).
    token_verifier: overrides the verifier built from settings (SCHEDULER_JWT_* / SCHEDULER_JWKS_URL).
    tracing: when on, a span per request (the FastAPI instrumentation; not for probes and scrapes).
    """
    metrics = metrics or Metrics()
    verifier = token_verifier or TokenVerifier.from_settings(settings, generate_secret=mode == "embedded")
    config = ServiceConfig(
        mode=mode,
        instance_id=instance_id,
        instance_timeout=settings.instance_timeout,
        max_priority=settings.max_priority,
        audit_retention_days=settings.audit_retention_days,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            opened = database
            if opened is None:
                opened = await stack.enter_async_context(open_database(settings, migrate=False))
            app.state.services = build_services(
                opened.sessionmaker, opened.store, config, on_schedule_change=on_schedule_change, metrics=metrics
            )
            app.state.readiness = {"database": opened.ping} | ({"broker": broker_ping} if broker_ping else {})
            app.state.state_metrics = StateMetrics(
                opened.sessionmaker,
                opened.store,
                metrics,
                instance_timeout=settings.instance_timeout,
                queue_depth=queue_depth,
            )
            app.state.readiness_warnings = opened.readiness_warnings
            yield

    app = FastAPI(
        title="Job Scheduler API",
        version=_version(),
        description="Scheduled jobs, their runs and the scheduler's status. Every /api/v1/scheduler endpoint "
        "needs a bearer JWT with the Super Admin role.",
        lifespan=lifespan,
        **docs_options(settings),
    )
    app.state.verifier = verifier
    app.state.metrics = metrics
    install_error_handlers(app)
    install_security(app, settings)
    app.add_middleware(RequestMetrics, metrics=metrics)

    # Unknown query parameters are checked after the token: a caller without one learns nothing of the routes.
    api = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(require_super_admin), Depends(refuse_unknown_query)],
        responses=error_responses(401, 403, 422, 503),
    )
    for resource in (jobs, history, audit, preview, status, cleanup, lookups, channels):
        api.include_router(resource.router)
    app.include_router(api)
    app.include_router(health.router, dependencies=[Depends(refuse_unknown_query)], responses=error_responses(422))

    install_dashboard(app, settings)
    install_gateway(app, settings)
    if tracing is not None and tracing.enabled:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # only with traces on

        FastAPIInstrumentor.instrument_app(app, tracer_provider=tracing.provider, excluded_urls=UNTRACED_PATHS)
    return app
