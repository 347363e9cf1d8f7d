"""Errors of the API and their one JSON body (`ErrorResponse`): every 4xx and 5xx answer is JSON.

The service layer raises `NotFound`, `Conflict` and `InvalidInput` (it knows nothing of HTTP); auth raises
`Unauthorized` and `Forbidden`. The handlers installed by `install_error_handlers` turn those, FastAPI's
request validation errors and Starlette's HTTP exceptions into `ErrorResponse` bodies. `error_responses`
documents them in the OpenAPI schema of each route."""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from scheduler_api.headers import security_headers
from scheduler_core.schemas import ErrorResponse, FieldError
from scheduler_core.schemas.documents import field_path, printable

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and an `ErrorResponse` body."""

    status_code: int = 500
    error: str = "internal_error"

    def __init__(
        self, message: str, *, fields: Sequence[FieldError] = (), headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)
        self.headers = dict(headers or {})

    def body(self) -> ErrorResponse:
        return ErrorResponse(error=self.error, message=self.message, fields=self.fields)


class NotFound(ApiError):
    status_code = 404
    error = "not_found"


class Conflict(ApiError):
    """The request is valid but makes no sense in the resource's current state."""

    status_code = 409
    error = "conflict"


class InvalidInput(ApiError):
    """One or more fields are invalid; nothing was written."""

    status_code = 422
    error = "validation_error"

    def __init__(self, fields: Sequence[FieldError]) -> None:
        names = ", ".join(dict.fromkeys(problem.field for problem in fields))
        super().__init__(f"invalid input: {names}", fields=fields)


class Unauthorized(ApiError):
    """No token, or a token that does not verify. RFC 6750: answered with `WWW-Authenticate: Bearer`."""

    status_code = 401
    error = "unauthorized"

    def __init__(self, message: str, *, invalid_token: bool = True) -> None:
        challenge = 'Bearer realm="scheduler"'
        if invalid_token:  # a request without any token gets the bare challenge (RFC 6750 section 3.1)
            challenge += f', error="invalid_token", error_description="{_quoted(message)}"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    """A valid token without the required role."""

    status_code = 403
    error = "forbidden"

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            headers={
                "WWW-Authenticate": f'Bearer realm="scheduler", error="insufficient_scope", '
                f'error_description="{_quoted(message)}"'
            },
        )


class RequestTooLarge(ApiError):
    """The request body is larger than SCHEDULER_MAX_REQUEST_BODY_BYTES; it was not read."""

    status_code = 413
    error = "request_too_large"


class ServiceUnavailable(ApiError):
    """A dependency the request needs (the gateway's key set) cannot be reached; retrying later may work."""

    status_code = 503
    error = "service_unavailable"


def _quoted(text: str) -> str:
    # Inside an RFC 7235 quoted-string: no double quotes or backslashes, and header values must be latin-1.
    return text.replace("\\", "").replace('"', "'").encode("latin-1", "replace").decode("latin-1")


# --- handlers ---------------------------------------------------------------------------------------

# Reasons in FastAPI's validation errors that read better in our words, by pydantic error type.
_REASONS: Final = {
    "extra_forbidden": "unknown field",
    "missing": "required",
    "json_invalid": "the body is not valid JSON",
}


# pydantic's length error types (a text's own, or any sized value's) -> (words, the bound's key in the context).
_LENGTH_BOUNDS: Final = {
    "too_short": ("at least", "min_length"),
    "string_too_short": ("at least", "min_length"),
    "too_long": ("at most", "max_length"),
    "string_too_long": ("at most", "max_length"),
}


def _length_reason(error: Mapping[str, Any]) -> str | None:
    """A length error in words: characters for a text, items for a list (pydantic says "items … after validation"
    for a constraint it checks after a validator, even of a text)."""
    kind, context, value = error.get("type"), error.get("ctx") or {}, error.get("input")
    if not isinstance(value, str | list):
        return None
    bound = _LENGTH_BOUNDS.get(str(kind))
    if bound is not None and bound[1] == "min_length" and context.get("min_length") == 1:
        return "must not be empty"
    if bound is None or bound[1] not in context:
        return None
    limit, size = bound[0], context[bound[1]]
    return f"must be {limit} {size} characters long" if isinstance(value, str) else f"must hold {limit} {size} items"


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """FastAPI's validation errors as (camelCase field, reason); `loc` is ("body"|"query"|"path", name, ...).
    Field names are cut short (an unknown key may be as long as the body) and never echo what UTF-8 cannot
    encode; reasons are pydantic's or ours, which never repeat the input."""
    problems = []
    for error in errors:
        location: list[str | int] = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        kind = error.get("type", "")
        if kind == "json_invalid" or len(location) < 2:
            field = str(location[0]) if location else "body"
        else:
            field = field_path(location[1:])
        reason = _REASONS.get(kind) or _length_reason(error) or str(error.get("msg", "invalid"))
        reason = printable(reason.removeprefix("Value error, "))
        problems.append(FieldError(field=field, reason=reason))
    return problems


def in_body_order(body: Any, problems: list[FieldError]) -> list[FieldError]:
    """The problems in the order of the fields in the body, as a form lists them (a sort that keeps the order
    found among problems of one field); a problem with no field in the body (a required field missing, a query
    parameter) after them."""
    position = {key: index for index, key in enumerate(body)} if isinstance(body, Mapping) else {}
    return sorted(problems, key=lambda problem: position.get(problem.field.split(".", 1)[0], len(position)))


class ErrorJSONResponse(JSONResponse):
    """An error body, with the security headers (some errors are answered outside the middleware that adds them);
    text UTF-8 cannot encode (a lone surrogate echoed from the request) becomes '?' rather than a failure."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def error_json(status_code: int, body: ErrorResponse, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON answer of an error, as every error of the API is written."""
    response = ErrorJSONResponse(body.model_dump(mode="json"), status_code=status_code)
    for name, value in {**security_headers(response.media_type or ""), **(headers or {})}.items():
        response.headers[name] = value
    return response


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_json(exc.status_code, exc.body(), exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = in_body_order(exc.body, field_errors(exc.errors()))
    return error_json(422, InvalidInput(problems).body())


# Error kinds of plain HTTP exceptions (unknown path, wrong method, body too large), by status.
_HTTP_ERRORS: Final = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body" (not UTF-8): invalid input like bad JSON
        return error_json(422, InvalidInput([FieldError(field="body", reason=str(exc.detail))]).body())
    body = ErrorResponse(error=_HTTP_ERRORS.get(exc.status_code, "http_error"), message=str(exc.detail))
    return error_json(exc.status_code, body, exc.headers)


# The database cannot be reached (restarting, network, pool exhausted): worth retrying, not a bug.
DATABASE_UNAVAILABLE: Final = (OperationalError, InterfaceError, PoolTimeoutError, ConnectionError)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database_unavailable", path=request.url.path, error=str(exc), error_type=type(exc).__name__)
    body = ErrorResponse(error="service_unavailable", message="the database is not reachable; retry shortly")
    return error_json(503, body, {"Retry-After": "1"})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback as plain text: cheap to render whatever the logging setup (rich tracebacks with locals
    # take seconds), and one field in JSON logs.
    log.error(
        "request_failed",
        path=request.url.path,
        method=request.method,
        error=repr(exc),
        traceback="".join(traceback.format_exception(exc)),
    )
    return error_json(500, ErrorResponse(error="internal_error", message="internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)


# --- OpenAPI --------------------------------------------------------------------------------------

_DESCRIPTIONS: Final = {
    401: "No bearer token, or one that does not verify (signature, expiry, issuer, audience).",
    403: "The token is valid but does not carry the Super Admin role.",
    404: "No such job.",
    409: "The action makes no sense in the job's current state.",
    413: "The request body is larger than the API accepts (SCHEDULER_MAX_REQUEST_BODY_BYTES); it was not read.",
    422: "Invalid input: `fields` names every field of the body, path or query parameter that is invalid (a query "
    "parameter the endpoint does not take included) with the reason, all at once. Nothing was written.",
    503: "The database, or the gateway's key set (JWKS) needed to verify the token, cannot be reached.",
}
_CHALLENGE: Final = {"WWW-Authenticate": {"description": "Bearer challenge (RFC 6750).", "schema": {"type": "string"}}}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these statuses, each with the `ErrorResponse` body."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status_code in status_codes:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": _DESCRIPTIONS[status_code]}
        if status_code == 401:
            entry["headers"] = _CHALLENGE
        documented[status_code] = entry
    return documented
