"""What the API puts between the network and its routes, installed by `install_security`: security headers on
every answer, 405 with `Allow` for a method a path does not take, the request's size and its JSON body checked
before any route reads them, and the documentation served with its own assets (or not at all)."""

from __future__ import annotations

from fastapi import FastAPI

from scheduler_api.docs import install_docs
from scheduler_api.headers import SecurityHeaders
from scheduler_api.methods import AllowedMethods
from scheduler_api.request_limits import RequestLimits
from scheduler_core.settings import Settings


def install_security(app: FastAPI, settings: Settings) -> None:
    """Middlewares, outermost first: headers (so every answer below gets them), the method check (before a
    body is read), the request's size and body. Call it before adding middlewares that must see every answer
    (metrics)."""
    install_docs(app, settings)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_request_body_bytes)
    app.add_middleware(AllowedMethods, routes=app.router.routes)
    app.add_middleware(SecurityHeaders)
