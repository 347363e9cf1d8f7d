"""FastAPI dependencies: the service and the verified caller, taken from what `create_app` put on app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scheduler_api.auth import Principal, TokenVerifier
from scheduler_api.errors import Unauthorized
from scheduler_api.service import SchedulerService

# auto_error=False: a missing token is answered by our own 401 (JSON body and WWW-Authenticate challenge).
bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A JWT carrying the Super Admin role (`jobscheduler token` mints one for local use).",
)


def get_service(request: Request) -> SchedulerService:
    service = getattr(request.app.state, "service", None)
    if not isinstance(service, SchedulerService):
        raise RuntimeError("the API's lifespan has not started: no SchedulerService")
    return service


def get_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("create_app did not install a TokenVerifier")
    return verifier


async def require_super_admin(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    verifier: Annotated[TokenVerifier, Depends(get_verifier)],
) -> Principal:
    """The caller, who must present a valid bearer token with the Super Admin role (401 / 403 otherwise)."""
    if credentials is None:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <jwt>)", invalid_token=False)
    return await verifier.verify(credentials.credentials)


Service = Annotated[SchedulerService, Depends(get_service)]
SuperAdmin = Annotated[Principal, Depends(require_super_admin)]
