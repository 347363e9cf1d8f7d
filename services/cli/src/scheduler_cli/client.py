"""The CLI's client of a running API: authenticated requests, and the API's errors as the operator reads them, each
ending the command with its exit code (`ExitCode`, listed in the README's CLI section).

Imports of httpx, the settings and the token code wait until a command makes a request: `jobscheduler --help` and
the role commands do not pay for them."""

from __future__ import annotations

import weakref
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from scheduler_cli.settings import load_settings

if TYPE_CHECKING:
    import httpx

    from scheduler_core.settings import Settings

API_PREFIX = "/api/v1/scheduler"
# Seconds a request may take before the command gives up.
REQUEST_TIMEOUT_S = 30


class ExitCode(IntEnum):
    """How a command on a running API ends (its process's exit code)."""

    OK = 0
    # The API refused the request (400, 409, 413, 422: its reasons are printed, one line per field).
    REJECTED = 1
    # A usage error: an unknown option or a bad value the CLI checks itself (click's own code), or a missing
    # setting (no token).
    USAGE = 2
    # What the command names does not exist (404: a job, a run; or a task function key, a status name).
    NOT_FOUND = 3
    # The token was refused (401) or lacks the role (403).
    UNAUTHORISED = 4
    # The API cannot be reached or cannot answer (connection refused, timeout, 5xx): retrying later may work.
    UNAVAILABLE = 5


def fail(message: str, code: ExitCode = ExitCode.REJECTED) -> NoReturn:
    """End the command: `error: <message>` on stderr, then exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(int(code))


def usage_error(message: str) -> NoReturn:
    fail(message, ExitCode.USAGE)


def exit_code_of(status: int) -> ExitCode:
    """The exit code of an API error answer's HTTP status."""
    if status == 404:
        return ExitCode.NOT_FOUND
    if status in (401, 403):
        return ExitCode.UNAUTHORISED
    if status >= 500:
        return ExitCode.UNAVAILABLE
    return ExitCode.REJECTED


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        import httpx

        self._base = settings.api_url.rstrip("/") + API_PREFIX
        token = settings.api_token or self._local_token(settings)
        # One connection for all the requests of a command (a list makes two or more).
        self._http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT_S)
        # Its connection is closed with the client (when the command is done with it, however it ended), not left
        # to the socket's finalizer.
        weakref.finalize(self, self._http.close)

    @staticmethod
    def _local_token(settings: Settings) -> str:
        from scheduler_core.auth.tokens import NoSecretConfigured, jwt_secret, mint_super_admin_token

        # Minted for the local OS user (mint_super_admin_token's default), so every call names the same actor.
        try:
            return mint_super_admin_token(settings, jwt_secret(settings, generate=False))
        except NoSecretConfigured:
            usage_error(
                "no token: set SCHEDULER_API_TOKEN (or SCHEDULER_JWT_SECRET, or run from the embedded data dir)"
            )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON; an error answer ends the command with the API's reasons and its exit code."""
        import httpx

        try:
            response = self._http.request(method, self._base + path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the API at {self._base}: {exc or type(exc).__name__}", ExitCode.UNAVAILABLE)
        if response.is_error:
            lines = describe_error(response)
            for line in lines[:-1]:
                typer.echo(f"error: {method} {path} -> {response.status_code}: {line}", err=True)
            fail(f"{method} {path} -> {response.status_code}: {lines[-1]}", exit_code_of(response.status_code))
        return response.json() if response.content else None


def describe_error(response: httpx.Response) -> list[str]:
    """The API's error body as the operator reads it, one line each: each field's reason verbatim as
    `field: reason` (the API's `{"error", "message", "fields": [{"field", "reason"}]}`), or its message when it
    names no field (FastAPI's `detail` forms too)."""
    try:
        body = response.json()
    except ValueError:
        return [one_line(response.text[:500]) or response.reason_phrase]
    if not isinstance(body, dict):
        return [one_line(str(body))]
    if "detail" in body:
        return _detail(body["detail"])
    reasons = [
        one_line(f"{item.get('field') or '?'}: {item.get('reason') or item.get('message')}")
        for item in body.get("fields") or []
        if isinstance(item, dict)
    ]
    return reasons or [one_line(str(body.get("message") or body.get("error") or body))]


def _detail(detail: Any) -> list[str]:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                field = item.get("field") or ".".join(str(p) for p in item.get("loc", []))
                parts.append(one_line(f"{field}: {item.get('message') or item.get('msg')}"))
            else:
                parts.append(one_line(str(item)))
        return parts or ["-"]
    if isinstance(detail, dict):
        return [one_line(str(detail.get("message") or detail))]
    return [one_line(str(detail))]


def one_line(text: str) -> str:
    """Text on one line (a reason with a line break would read as two errors)."""
    return " ".join(text.split())


def client() -> ApiClient:
    return ApiClient(load_settings())


def items_of(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict) and "items" in payload:
        return list(payload["items"])
    return list(payload)
