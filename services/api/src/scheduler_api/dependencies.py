"""FastAPI dependencies: the service and the verified caller, taken from what `create_app` put on app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_validation_alias
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scheduler_api.auth import Principal, TokenVerifier
from scheduler_api.errors import InvalidInput, Unauthorized
from scheduler_api.services import Services
from scheduler_api.services.actions import ActionService
from scheduler_api.services.audit import AuditService
from scheduler_api.services.channels import ChannelService
from scheduler_api.services.cleanup import CleanupService
from scheduler_api.services.history import HistoryService
from scheduler_api.services.jobs import JobService
from scheduler_api.services.lookups import LookupService
from scheduler_api.services.preview import PreviewService
from scheduler_api.services.runs import RunService
from scheduler_api.services.status import StatusService
from scheduler_core.schemas import FieldError
from scheduler_core.store import Actor

# auto_error=False: a missing token is answered by our own 401 (JSON body and WWW-Authenticate challenge).
bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A JWT carrying the Super Admin role (`jobscheduler token` mints one for local use).",
)


def get_services(request: Request) -> Services:
    services = getattr(request.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("the API's lifespan has not started: no services")
    return services


def _jobs(request: Request) -> JobService:
    return get_services(request).jobs


def _actions(request: Request) -> ActionService:
    return get_services(request).actions


def _history(request: Request) -> HistoryService:
    return get_services(request).history


def _status(request: Request) -> StatusService:
    return get_services(request).status


def _cleanup(request: Request) -> CleanupService:
    return get_services(request).cleanup


def _lookups(request: Request) -> LookupService:
    return get_services(request).lookups


def _preview(request: Request) -> PreviewService:
    return get_services(request).preview


def _runs(request: Request) -> RunService:
    return get_services(request).runs


def _audit(request: Request) -> AuditService:
    return get_services(request).audit


def _channels(request: Request) -> ChannelService:
    return get_services(request).channels


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


async def audit_actor(request: Request, caller: Annotated[Principal, Depends(require_super_admin)]) -> Actor:
    """Who makes a change, for the audit trail: the verified caller, the client's address (the real one behind a
    trusted gateway: scheduler_api.gateway resolved it) and the request id (scheduler_api.request_log)."""
    client = request.client
    request_id = getattr(request.state, "request_id", None)
    return Actor(caller.subject, caller.name, client.host if client else None, request_id)


async def refuse_unknown_query(request: Request) -> None:
    """A query parameter the endpoint does not declare is a 422 naming it (and what the endpoint takes), never
    ignored: `perPage=2` for `per_page` would otherwise answer 20 items as if it had been read. Every unknown one
    is named; the request's other problems come once the URL is right (nothing is run before)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = declared_query(route)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    if unknown:
        takes = f"this endpoint takes {', '.join(sorted(known))}" if known else "this endpoint takes none"
        raise InvalidInput([FieldError(field=name, reason=f"unknown query parameter; {takes}") for name in unknown])


def declared_query(route: APIRoute) -> frozenset[str]:
    """The names of the query parameters a route declares, its dependencies' included (a walk of a few nodes,
    each request: routes are not hashable, so not cached)."""
    return frozenset(_query_names(route.dependant))


def _query_names(dependant: Dependant) -> set[str]:
    names = {get_validation_alias(field) for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


Jobs = Annotated[JobService, Depends(_jobs)]
Actions = Annotated[ActionService, Depends(_actions)]
History = Annotated[HistoryService, Depends(_history)]
Status = Annotated[StatusService, Depends(_status)]
Cleanup = Annotated[CleanupService, Depends(_cleanup)]
Lookups = Annotated[LookupService, Depends(_lookups)]
Preview = Annotated[PreviewService, Depends(_preview)]
Runs = Annotated[RunService, Depends(_runs)]
Audit = Annotated[AuditService, Depends(_audit)]
Channels = Annotated[ChannelService, Depends(_channels)]
SuperAdmin = Annotated[Principal, Depends(require_super_admin)]
Caller = Annotated[Actor, Depends(audit_actor)]
