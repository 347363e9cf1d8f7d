"""Structured logging: one JSON object per line (or readable console lines), carrying the context bound with
`bind_run` (job_id, execution_id, and trace_id when traces are on) so every line about a run can be found by its
ids."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import structlog


def configure_logging(level: str = "INFO", fmt: Literal["json", "console"] = "json") -> None:
    """Route structlog and the standard library's logging through one renderer on stderr."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # filter_by_level first: an event below the level (the executor's per-run debug line) is dropped before
        # the other processors run, instead of being timestamped and then discarded by the stdlib logger.
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-request access lines and AMQP frame chatter drown the scheduler's own events.
    for noisy in ("uvicorn.access", "aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # aio-pika logs an ERROR traceback for every dropped connection although its robust connection restores
    # the channels itself; the broker logs the outage and the recovery once, as warnings.
    logging.getLogger("aio_pika.tools").setLevel(logging.CRITICAL)


@contextmanager
def bind_run(job_id: int | None, execution_id: str, trace_id: str | None = None) -> Iterator[None]:
    """Attach a run's ids to every log line emitted inside the block (contextvars: per asyncio task), and its trace
    id when it is traced (see tracing.py)."""
    if trace_id is None:
        with structlog.contextvars.bound_contextvars(job_id=job_id, execution_id=execution_id):
            yield
    else:
        with structlog.contextvars.bound_contextvars(job_id=job_id, execution_id=execution_id, trace_id=trace_id):
            yield
