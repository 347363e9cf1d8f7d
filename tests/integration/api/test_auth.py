"""Super Admin auth: the matrix (no token, bad signature, expired, wrong role, right role) on every route of the
app, which is read from the app itself so a new route is covered automatically; then token shapes, issuer and
audience, and RS256/ES256 tokens verified against a JWKS served over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.routing import iter_route_contexts
from httpx import AsyncClient, Response
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_api.app import API_PREFIX, create_app
from scheduler_api.auth import AuthConfigError, TokenVerifier
from scheduler_core.auth.tokens import NoSecretConfigured, mint_super_admin_token
from scheduler_core.bootstrap import Database
from scheduler_core.settings import Settings
from tests.integration.api.support import API, INSTANCE_ID, OTHER_SECRET, SECRET, Tokens, api_settings, open_client
from tests.support.factories import task_function


def api_routes() -> list[tuple[str, str]]:
    """(method, path) of every route under the API prefix, from an app built only to be inspected."""
    app = create_app(api_settings(), instance_id=INSTANCE_ID)
    return sorted(
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path is not None and route.path.startswith(API_PREFIX)
        for method in route.methods or ()
    )


ROUTES = api_routes()


def test_the_matrix_sees_every_endpoint_of_the_reference() -> None:
    paths = {path.removeprefix(API_PREFIX) for _, path in ROUTES}
    assert paths >= {
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/action",
        "/jobs/{job_id}/history",
        "/history",
        "/status",
        "/cleanup",
        "/task-functions",
        "/job-types",
        "/execution-statuses",
    }
    assert len(ROUTES) >= 15


def database_of(engine: AsyncEngine) -> Database:
    return Database.of(engine)


@pytest.fixture(scope="module")
def postgres(engines: dict[str, AsyncEngine]) -> Database:
    """The PostgreSQL test database, as it is: auth answers do not depend on what the tables hold (401 and 403
    never reach them; past auth, job 1 may or may not exist), so this suite skips emptying them per test."""
    return database_of(engines["postgresql"])


@pytest.fixture(scope="module")
async def shared_client(postgres: Database) -> AsyncIterator[AsyncClient]:
    """One app for the matrix; each request brings its own token (or none)."""
    async with open_client(create_app(api_settings(), postgres, instance_id=INSTANCE_ID)) as client:
        yield client


async def call(client: AsyncClient, method: str, path: str, token: str | None) -> Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = path.replace("{job_id}", "1")
    body: dict[str, Any] | None = {} if method in {"POST", "PUT"} else None
    return await client.request(method, url, json=body, headers=headers)


MintToken = Callable[[Tokens], str | None]
UNAUTHENTICATED: dict[str, MintToken] = {
    "no-token": lambda tokens: None,
    "bad-signature": lambda tokens: tokens.make(secret=OTHER_SECRET),
    "expired": lambda tokens: tokens.make(expires_in=timedelta(minutes=-5)),
}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("case", sorted(UNAUTHENTICATED))
async def test_unauthenticated_requests_are_401(
    shared_client: AsyncClient, tokens: Tokens, method: str, path: str, case: str
) -> None:
    response = await call(shared_client, method, path, UNAUTHENTICATED[case](tokens))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert response.json()["message"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="scheduler"')


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_token_without_the_role_is_403(
    shared_client: AsyncClient, tokens: Tokens, method: str, path: str
) -> None:
    response = await call(shared_client, method, path, tokens.make(roles=("viewer", "admin")))

    assert response.status_code == 403, response.text
    assert response.json() == {
        "error": "forbidden",
        "message": "this endpoint requires the 'super_admin' role",
        "fields": [],
    }


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_super_admin_gets_through(shared_client: AsyncClient, tokens: Tokens, method: str, path: str) -> None:
    response = await call(shared_client, method, path, tokens.make())

    # Past auth the route answers for itself (200; 404 or 409 for job 1; 422 for an empty body): no 401/403/5xx.
    assert response.status_code in {200, 404, 409, 422}, response.text
    assert response.headers["content-type"] == "application/json"


async def test_challenges_follow_rfc_6750(shared_client: AsyncClient, tokens: Tokens) -> None:
    missing = await shared_client.get(f"{API}/status")
    invalid = await shared_client.get(f"{API}/status", headers=tokens.headers("not-a-jwt"))
    forbidden = await shared_client.get(f"{API}/status", headers=tokens.headers(tokens.make(roles=("viewer",))))

    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="scheduler"'
    assert 'error="invalid_token"' in invalid.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in forbidden.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "a bearer token is required"),
        ({"Authorization": "Bearer"}, "a bearer token is required"),
        ({"Authorization": "Bearer abc.def.ghi"}, "malformed token"),
    ],
)
async def test_malformed_authorization_is_401(shared_client: AsyncClient, headers: dict[str, str], reason: str) -> None:
    response = await shared_client.get(f"{API}/job-types", headers=headers)

    assert response.status_code == 401
    assert response.json()["message"].startswith(reason)


async def test_unsigned_and_unexpiring_tokens_are_401(shared_client: AsyncClient, tokens: Tokens) -> None:
    unsigned = jwt.encode({"sub": "x", "roles": ["super_admin"], "exp": 4_000_000_000}, "", algorithm="none")
    forever = tokens.make(expires_in=None)
    not_yet = tokens.make(extra={"nbf": 4_000_000_000})

    answers = [
        (await shared_client.get(f"{API}/job-types", headers=tokens.headers(token))).json()["message"]
        for token in (unsigned, forever, not_yet)
    ]

    assert answers[0] == "token algorithm 'none' is not accepted"
    assert answers[1] == "token has no 'exp' claim"
    assert answers[2].startswith("invalid token")


@pytest.mark.parametrize("roles", ["super_admin", "auditor super_admin", ["super_admin"], ["a", "super_admin"]])
async def test_the_role_claim_may_be_a_string_or_a_list(
    shared_client: AsyncClient, tokens: Tokens, roles: str | list[str]
) -> None:
    response = await shared_client.get(f"{API}/job-types", headers=tokens.headers(tokens.make(roles=roles)))

    assert response.status_code == 200


@pytest.mark.parametrize("roles", [None, "super_administrator", [], [["super_admin"]], {"super_admin": True}])
async def test_anything_else_in_the_role_claim_is_403(shared_client: AsyncClient, tokens: Tokens, roles: Any) -> None:
    response = await shared_client.get(f"{API}/job-types", headers=tokens.headers(tokens.make(roles=roles)))

    assert response.status_code == 403


async def test_the_cli_token_is_accepted(shared_client: AsyncClient) -> None:
    token = mint_super_admin_token(api_settings(), SECRET, subject="cli-user")

    assert (await shared_client.get(f"{API}/status", headers={"Authorization": f"Bearer {token}"})).status_code == 200


# --- configured issuer, audience and role claim -----------------------------------------------------


@pytest.fixture(scope="module")
async def strict_client(postgres: Database) -> AsyncIterator[AsyncClient]:
    settings = api_settings(
        jwt_issuer="https://gateway.example", jwt_audience="scheduler-api", role_claim="realm_access.roles"
    )
    async with open_client(create_app(settings, postgres, instance_id=INSTANCE_ID)) as client:
        yield client


def in_an_hour() -> int:
    """An `exp` within SCHEDULER_JWT_MAX_LIFETIME (a day by default)."""
    return int(time.time()) + 3_600


def strict_token(**overrides: Any) -> str:
    claims = {
        "sub": "u1",
        "iss": "https://gateway.example",
        "aud": "scheduler-api",
        "exp": in_an_hour(),
        "realm_access": {"roles": ["super_admin"]},
    } | overrides
    return jwt.encode({key: value for key, value in claims.items() if value is not None}, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("claims", "status", "message"),
    [
        ({}, 200, None),
        ({"aud": ["other", "scheduler-api"]}, 200, None),
        ({"iss": "https://evil.example"}, 401, "token issuer is not accepted"),
        ({"iss": None}, 401, "token has no 'iss' claim"),
        ({"aud": "other-api"}, 401, "token audience is not accepted"),
        ({"aud": None}, 401, "token has no 'aud' claim"),
        ({"realm_access": {"roles": ["viewer"]}}, 403, "this endpoint requires the 'super_admin' role"),
    ],
)
async def test_issuer_audience_and_nested_role_claim(
    strict_client: AsyncClient, claims: dict[str, Any], status: int, message: str | None
) -> None:
    response = await strict_client.get(
        f"{API}/job-types", headers={"Authorization": f"Bearer {strict_token(**claims)}"}
    )

    assert response.status_code == status, response.text
    if message is not None:
        assert response.json()["message"] == message


# --- RS256 / ES256 against the gateway's JWKS --------------------------------------------------------


class Gateway:
    """An API gateway's signing keys: an RSA and an EC key, published as a JWKS."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key())) | {"kid": "rsa-1", "alg": "RS256"}
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key())) | {"kid": "ec-1", "alg": "ES256"}
        self.jwks = {"keys": [rsa_jwk, ec_jwk]}

    def token(self, algorithm: str = "RS256", *, kid: str | None = None, key: Any = None, **claims: Any) -> str:
        signing_key = key or (self.rsa if algorithm == "RS256" else self.ec)
        payload = {"sub": "gateway-user", "exp": in_an_hour(), "roles": ["super_admin"]} | claims
        headers = {"kid": kid or ("rsa-1" if algorithm == "RS256" else "ec-1")}
        return jwt.encode(payload, signing_key, algorithm=algorithm, headers=headers)


@contextmanager
def serve_jwks(jwks: dict[str, Any]) -> Iterator[str]:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the test output is the report
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="jwks-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture(scope="module")
async def jwks_client(gateway: Gateway, postgres: Database) -> AsyncIterator[AsyncClient]:
    with serve_jwks(gateway.jwks) as url:
        settings = api_settings(jwt_secret=None, jwks_url=url, jwt_algorithms=["RS256", "ES256"])
        async with open_client(create_app(settings, postgres, instance_id=INSTANCE_ID)) as client:
            yield client


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_gateway_tokens_verify_against_its_jwks(
    jwks_client: AsyncClient, gateway: Gateway, algorithm: str
) -> None:
    token = gateway.token(algorithm)

    response = await jwks_client.post(
        f"{API}/schedule/preview", json={"intervalSeconds": 5}, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200, response.text


async def test_gateway_tokens_still_need_the_role(jwks_client: AsyncClient, gateway: Gateway) -> None:
    token = gateway.token("ES256", roles="viewer")

    response = await jwks_client.get(f"{API}/status", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 403


async def test_tokens_not_signed_by_the_gateway_are_401(jwks_client: AsyncClient, gateway: Gateway) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "forged": gateway.token("RS256", key=impostor),
        "unknown-kid": gateway.token("RS256", kid="rsa-9"),
        "key-of-other-type": gateway.token("ES256", kid="rsa-1"),
        "hs256-without-secret": jwt.encode({"exp": 4_000_000_000, "roles": ["super_admin"]}, SECRET),
        "expired": gateway.token("RS256", exp=1_000_000_000),
    }

    statuses = {
        name: (await jwks_client.get(f"{API}/status", headers={"Authorization": f"Bearer {token}"})).status_code
        for name, token in cases.items()
    }

    assert statuses == dict.fromkeys(cases, 401)


async def test_an_unreachable_jwks_is_503(gateway: Gateway, postgres: Database) -> None:
    with serve_jwks({"keys": []}) as url:
        pass  # the port is closed again: nothing listens there any more
    settings = api_settings(jwt_secret=None, jwks_url=url, jwt_algorithms=["RS256"])
    async with open_client(create_app(settings, postgres, instance_id=INSTANCE_ID)) as client:
        response = await client.get(f"{API}/status", headers={"Authorization": f"Bearer {gateway.token()}"})

    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"


# --- configuration ---------------------------------------------------------------------------------


def test_a_jwks_url_needs_a_public_key_algorithm() -> None:
    with pytest.raises(AuthConfigError, match="no public-key algorithm"):
        TokenVerifier.from_settings(api_settings(jwks_url="https://gateway.example/jwks"), generate_secret=False)


def test_public_key_algorithms_need_a_jwks_url() -> None:
    with pytest.raises(AuthConfigError, match="need SCHEDULER_JWKS_URL"):
        TokenVerifier.from_settings(api_settings(jwt_algorithms=["RS256"]), generate_secret=False)


def test_standalone_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(NoSecretConfigured):
        create_app(Settings(jwt_secret=None, data_dir=tmp_path), instance_id=INSTANCE_ID)


async def test_embedded_mode_generates_the_secret_the_cli_signs_with(tmp_path: Path, postgres: Database) -> None:
    settings = api_settings(jwt_secret=None, data_dir=tmp_path)
    app = create_app(settings, postgres, instance_id=INSTANCE_ID, mode="embedded")
    secret = (tmp_path / "jwt-secret").read_text().strip()

    async with open_client(app) as client:
        token = mint_super_admin_token(settings, secret)
        response = await client.get(f"{API}/status", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["mode"] == "embedded"


async def test_a_long_subject_is_cut_to_the_audit_column(
    shared_client: AsyncClient, tokens: Tokens, postgres: Database
) -> None:
    async with postgres.sessionmaker.begin() as session:
        task_id = await task_function(session)
    subject = "auth0|" + "x" * 60
    response = await shared_client.post(
        f"{API}/jobs",
        json={"taskFunctionId": task_id, "intervalSeconds": 60},
        headers=tokens.headers(tokens.make(subject=subject)),
    )

    assert response.status_code == 201, response.text
    assert response.json()["createdById"] == subject[:36]
