"""The API behind a gateway, over real HTTP: uvicorn serves the app on a loopback port (as `jobscheduler api` does)
and httpx connects either from 127.0.0.1 (the trusted proxy in these tests) or from 127.0.0.2 (an untrusted peer:
Linux routes all of 127.0.0.0/8 to the loopback interface). What the handlers see (request.client, the scheme,
root_path, the log context) is read from a route the test adds to the app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_api.app import create_app
from scheduler_api.gateway import CORS_METHODS
from scheduler_core.bootstrap import Database
from scheduler_core.observability.http_server import HttpServer
from tests.integration.api.support import API, INSTANCE_ID, Tokens, api_settings
from tests.support.processes import free_port

TRUSTED_PEER = "127.0.0.1"
UNTRUSTED_PEER = "127.0.0.2"
FORGED = "203.0.113.66"
APP_ORIGIN = "https://app.example.com"


@pytest.fixture
def database(engines: dict[str, AsyncEngine]) -> Database:
    # What is tested here is the HTTP edge, the same on both backends: SQLite is enough.
    return Database.of(engines["sqlite"])


def app_with_peer_route(database: Database, **settings: Any) -> FastAPI:
    app = create_app(api_settings(**settings), database, instance_id=INSTANCE_ID)

    @app.get("/test-peer")
    async def peer(request: Request) -> dict[str, Any]:
        assert request.client is not None
        return {
            "client": request.client.host,
            "scheme": request.url.scheme,
            "rootPath": request.scope.get("root_path", ""),
            "url": str(request.url),
            "logContext": structlog.contextvars.get_contextvars(),
        }

    return app


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    async with HttpServer(app, TRUSTED_PEER, port, lifespan="on"):
        yield f"http://{TRUSTED_PEER}:{port}"


def client_from(peer: str, base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=peer)
    return httpx.AsyncClient(transport=transport, base_url=base_url, timeout=10, **kwargs)


async def peer_view(base_url: str, peer: str, headers: dict[str, str], path: str = "/test-peer") -> dict[str, Any]:
    async with client_from(peer, base_url) as client:
        response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    seen: dict[str, Any] = response.json()
    seen["answeredRequestId"] = response.headers.get("X-Request-ID")
    return seen


# --- the trust list ------------------------------------------------------------------------------------------


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(database: Database) -> None:
    app = app_with_peer_route(database, forwarded_allow_ips=[TRUSTED_PEER])
    forged = {
        "X-Forwarded-For": FORGED,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Prefix": "/elsewhere",
        "X-Request-ID": "forged-request-id",
    }
    async with served(app) as url:
        seen = await peer_view(url, UNTRUSTED_PEER, forged)

    assert (seen["client"], seen["scheme"], seen["rootPath"]) == (UNTRUSTED_PEER, "http", "")
    # The request gets an id of its own, not the one the client chose; it is answered and on every log line.
    request_id = seen["answeredRequestId"]
    assert request_id
    assert request_id != "forged-request-id"
    assert seen["logContext"] == {"client": UNTRUSTED_PEER, "request_id": request_id}


async def test_x_forwarded_for_from_a_trusted_peer_names_the_client(database: Database) -> None:
    app = app_with_peer_route(database, forwarded_allow_ips=[TRUSTED_PEER, "10.0.0.0/8"])
    async with served(app) as url:
        direct = await peer_view(
            url, TRUSTED_PEER, {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https", "X-Request-ID": "gw-42"}
        )
        # A client-supplied entry on the left, then the address our gateway saw, then an inner trusted proxy:
        # the client is the right-most address that is not a trusted proxy, never the left-most one.
        chain = await peer_view(url, TRUSTED_PEER, {"X-Forwarded-For": f"198.51.100.9, {FORGED}, 10.1.2.3"})

    assert (direct["client"], direct["scheme"]) == (FORGED, "https")
    assert direct["url"].startswith("https://")
    # The gateway's request id is kept (and a malformed one would be replaced: test_request_ids_*).
    assert direct["logContext"] == {"client": FORGED, "request_id": "gw-42"}
    assert direct["answeredRequestId"] == "gw-42"
    assert (chain["client"], chain["scheme"]) == (FORGED, "http")


async def test_by_default_no_peer_is_trusted_not_even_loopback(database: Database) -> None:
    app = app_with_peer_route(database)
    async with served(app) as url:
        seen = await peer_view(url, TRUSTED_PEER, {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"})

    assert (seen["client"], seen["scheme"]) == (TRUSTED_PEER, "http")


async def test_rfc_7239_forwarded_is_read_only_when_configured_and_then_replaces_x_forwarded(
    database: Database,
) -> None:
    forwarded = {
        # A quoted IPv6 address with a port, and a proto for the hop our gateway received.
        "Forwarded": 'for=198.51.100.9;proto=http, for="[2001:db8::17]:4711";proto=https;host="gw.example"',
        "X-Forwarded-For": FORGED,
    }
    rfc7239 = app_with_peer_route(database, forwarded_allow_ips=[TRUSTED_PEER], forwarded_headers="forwarded")
    async with served(rfc7239) as url:
        trusted = await peer_view(url, TRUSTED_PEER, forwarded)
        untrusted = await peer_view(url, UNTRUSTED_PEER, forwarded)
        only_x_forwarded = await peer_view(url, TRUSTED_PEER, {"X-Forwarded-For": FORGED})
    x_forwarded = app_with_peer_route(database, forwarded_allow_ips=[TRUSTED_PEER])
    async with served(x_forwarded) as url:
        ignored = await peer_view(url, TRUSTED_PEER, {"Forwarded": "for=198.51.100.9;proto=https"})

    assert (trusted["client"], trusted["scheme"]) == ("2001:db8::17", "https")
    assert (untrusted["client"], untrusted["scheme"]) == (UNTRUSTED_PEER, "http")
    # In forwarded mode X-Forwarded-For is not believed even from the trusted proxy: it may be the client's own.
    assert only_x_forwarded["client"] == TRUSTED_PEER
    assert (ignored["client"], ignored["scheme"]) == (TRUSTED_PEER, "http")


# --- the path prefix ---------------------------------------------------------------------------------------


@pytest.fixture
def dashboard(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><script type="module" src="./assets/app.js"></script>'
        "</head><body></body></html>"
    )
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log('scheduler')")
    return tmp_path


def base_href(page: str) -> str:
    found: list[str] = re.findall(r'<base href="([^"]*)">', page)
    assert len(found) == 1, page
    return found[0]


async def test_a_gateway_that_strips_the_prefix_sends_it_in_x_forwarded_prefix(
    database: Database, tokens: Tokens, dashboard: Path
) -> None:
    prefix = {"X-Forwarded-Prefix": "/scheduler"} | tokens.headers()
    api_only = app_with_peer_route(database, forwarded_allow_ips=[TRUSTED_PEER])
    async with served(api_only) as api_url, client_from(TRUSTED_PEER, api_url, headers=prefix) as gateway:
        api = await gateway.get(f"{API}/job-types")
        docs = await gateway.get("/docs")
        spec = await gateway.get("/openapi.json")
        # Without a dashboard (which answers every other path), a trailing slash is redirected away.
        slash = await gateway.get(f"{API}/jobs/", follow_redirects=False)
        seen = await gateway.get("/test-peer")
    with_dashboard = app_with_peer_route(database, forwarded_allow_ips=[TRUSTED_PEER], dashboard_dir=dashboard)
    async with served(with_dashboard) as url, client_from(TRUSTED_PEER, url, headers=prefix) as gateway:
        index = await gateway.get("/")
        deep_link = await gateway.get("/jobs/7")
        asset = await gateway.get("/assets/app.js")
        # The same app reached directly (no gateway): served at the root.
        async with client_from(TRUSTED_PEER, url) as direct:
            direct_index = await direct.get("/")

    assert api.status_code == 200
    # The docs page's links are relative: served at /scheduler/docs, it loads /scheduler/openapi.json.
    assert 'src="docs/init.js"' in docs.text
    assert spec.json()["servers"] == [{"url": "/scheduler"}]
    assert slash.status_code == 307
    assert slash.headers["location"] == f"{api_url}/scheduler{API}/jobs"
    assert seen.json()["rootPath"] == "/scheduler"
    assert seen.json()["url"].endswith("/scheduler/test-peer")
    assert index.status_code == deep_link.status_code == 200
    assert base_href(index.text) == base_href(deep_link.text) == "/scheduler/"
    assert index.headers["cache-control"] == "no-cache"
    assert asset.text == "console.log('scheduler')"
    assert base_href(direct_index.text) == "/"


async def test_root_path_serves_a_gateway_that_keeps_the_prefix_and_one_that_strips_it(
    database: Database, tokens: Tokens, dashboard: Path
) -> None:
    app = app_with_peer_route(database, root_path="/tools/scheduler/", dashboard_dir=dashboard)
    async with served(app) as url, client_from(UNTRUSTED_PEER, url, headers=tokens.headers()) as client:
        kept = await client.get(f"/tools/scheduler{API}/job-types")
        stripped = await client.get(f"{API}/job-types")
        docs = await client.get("/tools/scheduler/docs")
        index = await client.get("/tools/scheduler/")
        asset = await client.get("/tools/scheduler/assets/app.js")
        bare = await client.get("/tools/scheduler", follow_redirects=False)
        # SCHEDULER_ROOT_PATH is fixed: a prefix header (here from an untrusted peer) cannot move it.
        moved = await client.get("/tools/scheduler/", headers={"X-Forwarded-Prefix": "/elsewhere"})
        # Probes and scrapers keep working at the root.
        probes = [await client.get(path) for path in ("/healthz", "/tools/scheduler/healthz", "/metrics")]

    assert kept.status_code == stripped.status_code == 200
    assert kept.json() == stripped.json()
    assert 'src="docs/init.js"' in docs.text
    assert base_href(index.text) == base_href(moved.text) == "/tools/scheduler/"
    assert asset.status_code == 200
    assert bare.status_code == 307
    assert bare.headers["location"] == f"{url}/tools/scheduler/"
    assert [probe.status_code for probe in probes] == [200, 200, 200]


@pytest.mark.parametrize("header", ["//evil.example", "https://evil.example/x", "/a/../b", '/x"><script>'])
async def test_an_invalid_prefix_from_a_trusted_proxy_is_ignored(
    database: Database, dashboard: Path, header: str
) -> None:
    app = app_with_peer_route(database, forwarded_allow_ips=[TRUSTED_PEER], dashboard_dir=dashboard)
    async with served(app) as url, client_from(TRUSTED_PEER, url) as client:
        index = await client.get("/", headers={"X-Forwarded-Prefix": header})

    assert base_href(index.text) == "/"


# --- CORS ----------------------------------------------------------------------------------------------------


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


def preflight(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_an_allowed_origin_passes_the_preflight_and_reads_the_response(
    database: Database, tokens: Tokens
) -> None:
    app = app_with_peer_route(database, cors_origins=[APP_ORIGIN, "http://localhost:5173"])
    async with served(app) as url, client_from(UNTRUSTED_PEER, url) as client:
        allowed = await client.options(f"{API}/jobs", headers=preflight(APP_ORIGIN))
        call = await client.get(f"{API}/job-types", headers={"Origin": APP_ORIGIN} | tokens.headers())
        refused_token = await client.get(f"{API}/job-types", headers={"Origin": APP_ORIGIN})

    assert allowed.status_code == 200, allowed.text
    granted = cors_headers(allowed)
    assert granted["access-control-allow-origin"] == APP_ORIGIN
    assert {"authorization", "content-type"} <= set(granted["access-control-allow-headers"].lower().split(", "))
    assert {"GET", "POST", "PUT", "DELETE"} <= set(granted["access-control-allow-methods"].split(", "))
    assert "access-control-allow-credentials" not in granted  # bearer tokens: no cookies, no credentials mode
    assert call.status_code == 200
    assert cors_headers(call)["access-control-allow-origin"] == APP_ORIGIN
    assert "date" in cors_headers(call)["access-control-expose-headers"].lower()
    # A 401 is readable by the allowed app too (it must see why, and the challenge).
    assert refused_token.status_code == 401
    assert cors_headers(refused_token)["access-control-allow-origin"] == APP_ORIGIN
    assert "www-authenticate" in cors_headers(refused_token)["access-control-expose-headers"].lower()


def test_the_preflight_allows_every_method_of_the_api(database: Database) -> None:
    operations = app_with_peer_route(database).openapi()["paths"].values()
    assert {method.upper() for operation in operations for method in operation} <= set(CORS_METHODS)


async def test_other_origins_get_no_cors_headers(database: Database, tokens: Tokens) -> None:
    app = app_with_peer_route(database, cors_origins=[APP_ORIGIN])
    async with served(app) as url, client_from(UNTRUSTED_PEER, url) as client:
        other_preflight = await client.options(f"{API}/jobs", headers=preflight("https://evil.example"))
        other_call = await client.get(f"{API}/job-types", headers={"Origin": "https://evil.example"} | tokens.headers())
        # The allowed origin with a header the API does not accept.
        odd_header = await client.options(f"{API}/jobs", headers=preflight(APP_ORIGIN, headers="x-custom"))
        # An origin that differs only by scheme or port is another origin.
        near_miss = await client.options(f"{API}/jobs", headers=preflight("http://app.example.com"))

    for refused in (other_preflight, odd_header, near_miss):
        assert refused.status_code == 400
        assert cors_headers(refused) == {}
        assert refused.json()["error"] == "cors_preflight_refused"
    assert "origin" in other_preflight.json()["message"]
    assert "headers" in odd_header.json()["message"]
    assert other_call.status_code == 200  # the server answers; the browser withholds it from the page
    assert cors_headers(other_call) == {}
    assert "origin" in other_call.headers["vary"].lower()


async def test_without_an_allow_list_no_origin_gets_cors_headers(database: Database, tokens: Tokens) -> None:
    app = app_with_peer_route(database)
    async with served(app) as url, client_from(UNTRUSTED_PEER, url) as client:
        asked = await client.options(f"{API}/jobs", headers=preflight(APP_ORIGIN))
        call = await client.get(f"{API}/job-types", headers={"Origin": APP_ORIGIN} | tokens.headers())

    assert cors_headers(asked) == {}
    assert asked.status_code >= 400
    assert call.status_code == 200
    assert cors_headers(call) == {}
