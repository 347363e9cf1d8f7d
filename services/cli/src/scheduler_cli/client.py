"""The CLI's client of a running API: authenticated requests, and the API's errors as the operator reads them."""

from __future__ import annotations

from typing import Any, NoReturn

import httpx
import typer

from scheduler_cli.settings import load_settings
from scheduler_core.auth.tokens import NoSecretConfigured, jwt_secret, mint_super_admin_token
from scheduler_core.settings import Settings

API_PREFIX = "/api/v1/scheduler"
# Seconds a request may take before the command gives up.
REQUEST_TIMEOUT_S = 30


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self._base = settings.api_url.rstrip("/") + API_PREFIX
        self._token = settings.api_token or self._local_token(settings)

    @staticmethod
    def _local_token(settings: Settings) -> str:
        # Minted for the local OS user (mint_super_admin_token's default), so every call names the same actor.
        try:
            return mint_super_admin_token(settings, jwt_secret(settings, generate=False))
        except NoSecretConfigured:
            fail("no token: set SCHEDULER_API_TOKEN (or SCHEDULER_JWT_SECRET, or run from the embedded data dir)")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON; an error answer ends the command (exit 1) with the API's reasons."""
        try:
            response = httpx.request(
                method,
                self._base + path,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=REQUEST_TIMEOUT_S,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach the API at {self._base}: {exc}")
        if response.is_error:
            fail(f"{method} {path} -> {response.status_code}: {describe_error(response)}")
        return response.json() if response.content else None


def describe_error(response: httpx.Response) -> str:
    """The API's error body as the operator reads it: its message, then each field's reason on a line of its own
    (the API's `{"error", "message", "fields": [{"field", "reason"}]}`, and FastAPI's `detail` forms)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if not isinstance(body, dict):
        return str(body)
    if "detail" in body:
        return _detail(body["detail"])
    message = str(body.get("message") or body.get("error") or body)
    reasons = [
        f"  {item.get('field') or '?'}: {item.get('reason') or item.get('message')}"
        for item in body.get("fields") or []
        if isinstance(item, dict)
    ]
    return "\n".join([message, *reasons])


def _detail(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                field = item.get("field") or ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{field}: {item.get('message') or item.get('msg')}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, dict):
        return str(detail.get("message") or detail)
    return str(detail)


def client() -> ApiClient:
    return ApiClient(load_settings())


def items_of(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict) and "items" in payload:
        return list(payload["items"])
    return list(payload)
