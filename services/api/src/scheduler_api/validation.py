"""Every problem of a request body in one 422.

FastAPI validates a body against its schema and stops there: the service's own checks (the rules between a
schedule's fields, the task catalogue, a task's parameters against its schema, bounds set by the deployment) never
see a body with one bad field, so a form with four mistakes learnt of them one or two at a time. A route whose
endpoint names a further check (`checked_further_by`) hands such a body to it: the check validates what it can of
the body (schemas.base.accepted_part) and returns the service's problems with the fields the schema accepted, and
the answer lists the schema's problems and those together. Nothing is written either way.

Installed as the route class of the routers with such endpoints (APIRouter(route_class=CompleteValidation))."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from scheduler_api.errors import InvalidInput, field_errors, in_body_order
from scheduler_core.schemas import FieldError

FurtherCheck = Callable[[Request, Mapping[str, Any]], Awaitable[list[FieldError]]]
"""The service's problems with a body (a JSON object) the schema refused in part; the request gives the services
and the path's parameters."""

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])
_CHECK: Final = "further_check"


def checked_further_by(check: FurtherCheck) -> Callable[[EndpointT], EndpointT]:
    """Marks an endpoint whose refused bodies also get `check` (its route must be a CompleteValidation)."""

    def mark(endpoint: EndpointT) -> EndpointT:
        setattr(endpoint, _CHECK, check)
        return endpoint

    return mark


class CompleteValidation(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        check: FurtherCheck | None = getattr(self.endpoint, _CHECK, None)
        if check is None:
            return handler

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except InvalidInput as invalid:  # the service's problems with a body the schema accepted
                try:
                    body = await request.json()  # read and parsed already: Request keeps it
                except ValueError:
                    raise invalid from None
                raise InvalidInput(in_body_order(body, invalid.fields)) from None
            except RequestValidationError as refused:
                # Only a body that is a JSON object can be checked field by field (a list, or no JSON, cannot).
                body = refused.body
                if not isinstance(body, Mapping):
                    raise
                further = await check(request, body)
                if not further:
                    raise
                raise InvalidInput(in_body_order(body, [*field_errors(refused.errors()), *further])) from None

        return handle
