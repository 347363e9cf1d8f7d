"""Issue 16's hardening items: security headers on every answer of the API and the dashboard, no server banner,
the JSON error shape on what the HTTP server answers itself (a 100 KB Authorization header, a malformed request),
/docs with its own assets and switchable off, tokens with a bounded lifetime and 401s in our own words."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from httpx import AsyncClient, Response
from typer.testing import CliRunner

from scheduler_api.app import create_app
from scheduler_api.headers import DATA_POLICY, PAGE_POLICY
from scheduler_cli.main import app as cli
from scheduler_core.auth.tokens import LifetimeTooLong, mint_super_admin_token
from scheduler_core.bootstrap import Database
from scheduler_core.observability.http_protocol import MAX_REQUEST_HEAD_BYTES
from scheduler_core.observability.http_server import HttpServer
from tests.integration.api.support import API, INSTANCE_ID, SECRET, Tokens, api_settings, open_client
from tests.integration.api.test_operability import status_of_broken_app
from tests.support.processes import free_port

COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def assert_hardened(response: Response, *, page: bool = False) -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    assert response.headers["content-security-policy"] == (PAGE_POLICY if page else DATA_POLICY)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    if response.headers.get("content-type", "").startswith("application/json"):
        assert response.headers["cache-control"] == "no-store", response.request.url
    assert "server" not in response.headers


@pytest.fixture
def dashboard(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<!doctype html><title>Scheduler</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log('scheduler')")
    return tmp_path


async def test_every_answer_carries_the_security_headers(database: Database, tokens: Tokens, dashboard: Path) -> None:
    app = create_app(
        api_settings(dashboard_dir=dashboard, max_request_body_bytes=1_024), database, instance_id=INSTANCE_ID
    )
    async with open_client(app, tokens.headers()) as client:
        answers = {
            "list": await client.get(f"{API}/jobs"),
            "404": await client.get(f"{API}/jobs/424242"),
            "405": await client.patch(f"{API}/jobs/1"),
            "413": await client.post(f"{API}/jobs", content=b"x" * 2_000, headers={"Content-Type": "application/json"}),
            "422": await client.post(f"{API}/jobs", json={}),
            "401": await client.get(f"{API}/jobs", headers={"Authorization": "Bearer x"}),
            "health": await client.get("/healthz"),
            "metrics": await client.get("/metrics"),
            "openapi": await client.get("/openapi.json"),
            "asset": await client.get("/assets/app.js"),
        }
        pages = {
            "dashboard": await client.get("/"),
            "route": await client.get("/jobs/7"),
            "docs": await client.get("/docs"),
        }

    for name, response in answers.items():
        assert response.status_code < 500, name
        assert_hardened(response)
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert_hardened(response, page=True)


async def test_a_500_carries_them_too(database: Database, tokens: Tokens) -> None:
    response = await status_of_broken_app(database, tokens, RuntimeError("bug"))

    assert response.status_code == 500
    assert_hardened(response)


# --- the HTTP server: no banner, its own answers in JSON ------------------------------------------------------


async def exchange(port: int, request: bytes, *, chunk: int | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes and read the whole answer. With `chunk`: in pieces of that many bytes with a pause between
    them, and only until the server's limit is passed by a piece (the server answers then, and closes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if chunk is None:
            writer.write(request)
        else:
            for start in range(0, MAX_REQUEST_HEAD_BYTES + chunk, chunk):
                writer.write(request[start : start + chunk])
                await writer.drain()
                await asyncio.sleep(0.01)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


async def test_the_server_answers_oversized_and_malformed_requests_in_json(database: Database) -> None:
    port = free_port()
    app = create_app(api_settings(), database, instance_id=INSTANCE_ID)
    huge = b"Bearer " + b"a" * 100_000
    request = b"GET " + API.encode() + b"/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: " + huge + b"\r\n\r\n"
    async with HttpServer(app, "127.0.0.1", port, lifespan="on"):
        answers = {
            "head in one piece": await exchange(port, request),
            "head in pieces": await exchange(port, request, chunk=4_096),
            "malformed": await exchange(port, b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n"),
            "normal": await exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        }

    # A head that arrives whole reaches the application (431 from it); one that trickles in is refused by the
    # server as soon as it passes the limit. Both answer in the API's error shape.
    for name in ("head in one piece", "head in pieces"):
        status, headers, body = answers[name]
        assert status == 431, name
        assert headers["content-type"] == "application/json", name
        assert body.startswith(b'{"error":') or body.startswith(b'{"error": '), body
        assert f"larger than {MAX_REQUEST_HEAD_BYTES} bytes".encode() in body
    status, headers, body = answers["malformed"]
    assert (status, headers["content-type"]) == (400, "application/json")
    assert b'"bad_request"' in body
    for _status, headers, _body in answers.values():
        assert "server" not in headers
        assert headers["x-content-type-options"] == "nosniff"
    assert answers["normal"][0] == 200


# --- /docs ----------------------------------------------------------------------------------------------------


async def test_docs_are_served_with_their_own_assets(anonymous: AsyncClient) -> None:
    page = await anonymous.get("/docs")
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)

    assert page.status_code == 200
    assert "http" not in page.text.lower().replace("http-equiv", "")  # nothing from another origin
    assert "<script>" not in page.text  # no inline script: the page's CSP allows none
    assert sorted(links) == [
        "docs/assets/favicon.png",
        "docs/assets/swagger-ui-bundle.js",
        "docs/assets/swagger-ui.css",
        "docs/init.js",
    ]
    for link in links:
        asset = await anonymous.get(f"/{link}")
        assert asset.status_code == 200, link
        assert len(asset.content) > 100 or link.endswith("init.js"), link
    init = (await anonymous.get("/docs/init.js")).text
    assert "validatorUrl: null" in init  # Swagger UI would otherwise send the document to a public validator
    assert 'new URL("openapi.json", document.baseURI)' in init


async def test_docs_can_be_switched_off(database: Database) -> None:
    app = create_app(api_settings(api_docs=False), database, instance_id=INSTANCE_ID)
    async with open_client(app) as client:
        answers = [
            await client.get(path)
            for path in ("/docs", "/openapi.json", "/docs/init.js", "/docs/assets/swagger-ui.css", "/redoc")
        ]

    files, pages = answers[1:4], [answers[0], answers[4]]
    assert [answer.status_code for answer in files] == [404] * 3
    assert all(answer.json()["error"] == "not_found" for answer in files)
    # Page paths are the dashboard's (here: the page saying it is not built), never Swagger UI or ReDoc.
    assert all(answer.headers["content-type"].startswith("text/html") for answer in pages)
    assert not any("swagger" in answer.text.lower() or "redoc" in answer.text.lower() for answer in pages)


# --- tokens -----------------------------------------------------------------------------------------------------


def token(claims: dict[str, Any]) -> str:
    return jwt.encode(claims | {"roles": ["super_admin"]}, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("lifetime", "issued_ago", "status"),
    [
        (3_600, 0, 200),
        (86_400, 0, 200),  # exactly the default maximum
        (86_400 + 3_600, 0, 401),
        (30 * 86_400, 0, 401),
        (86_400 + 3_600, 3_600, 401),  # measured from iat, not from now
    ],
)
async def test_a_token_may_live_at_most_the_maximum_lifetime(
    client: AsyncClient, lifetime: int, issued_ago: int, status: int
) -> None:
    issued = int(time.time()) - issued_ago
    response = await client.get(
        f"{API}/job-types", headers={"Authorization": f"Bearer {token({'iat': issued, 'exp': issued + lifetime})}"}
    )

    assert response.status_code == status, response.text
    if status == 401:
        assert (
            response.json()["message"]
            == "token lifetime exceeds the 86400 s this API accepts (SCHEDULER_JWT_MAX_LIFETIME)"
        )


async def test_without_iat_the_lifetime_counts_from_now_and_the_maximum_is_a_setting(database: Database) -> None:
    app = create_app(api_settings(jwt_max_lifetime=600.0), database, instance_id=INSTANCE_ID)
    now = int(time.time())
    async with open_client(app) as client:
        short = await client.get(f"{API}/job-types", headers={"Authorization": f"Bearer {token({'exp': now + 500})}"})
        long = await client.get(f"{API}/job-types", headers={"Authorization": f"Bearer {token({'exp': now + 3_600})}"})

    assert (short.status_code, long.status_code) == (200, 401)
    assert "600 s" in long.json()["message"]


def test_minted_tokens_carry_issuer_audience_and_a_lifetime_within_the_maximum() -> None:
    settings = api_settings(jwt_issuer="https://issuer.example", jwt_audience="scheduler", jwt_max_lifetime=3_600.0)

    claims = jwt.decode(mint_super_admin_token(settings, SECRET), SECRET, algorithms=["HS256"], audience="scheduler")

    assert (claims["iss"], claims["aud"]) == ("https://issuer.example", "scheduler")
    assert claims["exp"] - claims["iat"] == 3_600  # 12 hours by default, but no more than the maximum
    with pytest.raises(LifetimeTooLong, match="SCHEDULER_JWT_MAX_LIFETIME"):
        mint_super_admin_token(settings, SECRET, ttl=timedelta(hours=2))


def test_the_cli_refuses_to_mint_a_token_the_api_would_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_JWT_SECRET", SECRET)

    refused = CliRunner().invoke(cli, ["token", "--ttl-hours", "48"])
    minted = CliRunner().invoke(cli, ["token", "--ttl-hours", "2"])

    assert refused.exit_code == 2
    assert "SCHEDULER_JWT_MAX_LIFETIME" in refused.output
    assert minted.exit_code == 0
    assert jwt.decode(minted.output.strip(), SECRET, algorithms=["HS256"])["roles"] == ["super_admin"]


# What PyJWT or the JSON decoder say about a broken token, which a 401 must never repeat.
LIBRARY_WORDS = re.compile(
    r"segments|padding|Invalid (header|payload|crypto)|Expecting|Signature verification failed|decode|"
    r"utf-8|codec|b64|base64|JSON|Traceback",
    re.IGNORECASE,
)
OUR_REASONS = {
    "malformed token: not a JWS compact serialization",
    "token signature does not verify",
    "invalid token: its claims or encoding do not verify",
    "token has no 'exp' claim",
    "token expired",
}


@pytest.mark.parametrize(
    "credential",
    [
        "x",
        "a.b.c",
        "a.b",
        "!!!.???.***",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",  # a header, then a payload that is not JSON
        "eyJhbGciOiJIUzI1NiJ9.W10.c2ln",  # a payload that is a list
        "bm90IGpzb24.e30.c2ln",  # a header that is not JSON
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",  # a signature that does not match
        "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOiJzb29uIn0.c2ln",
    ],
)
async def test_401_bodies_never_echo_library_internals(client: AsyncClient, credential: str) -> None:
    response = await client.get(f"{API}/job-types", headers={"Authorization": f"Bearer {credential}"})

    assert response.status_code == 401
    message = response.json()["message"]
    assert message in OUR_REASONS, message
    assert not LIBRARY_WORDS.search(message), message
    assert not LIBRARY_WORDS.search(response.headers["www-authenticate"])
