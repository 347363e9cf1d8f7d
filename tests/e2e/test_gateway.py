"""The product behind a real reverse proxy at a path prefix, in a real browser: nginx (Debian's nginx-light, run
unprivileged on loopback ports) in front of the embedded product, with two gateways:

- the shipped deploy/gateway/nginx.conf.template at /scheduler/, which strips the prefix and sends it in
  X-Forwarded-Prefix (the docker compose profile);
- a server block written here at /ops/scheduler/, which forwards the path as it is (as the Kubernetes routes do).

nginx connects to the api from 127.0.0.2 (proxy_bind), the one address in SCHEDULER_FORWARDED_ALLOW_IPS. In
Chromium the dashboard signs in, lists jobs, opens a job and triggers it, and /docs renders every operation
(services/dashboard/e2e/gateway.e2e.mjs). The product's own log then shows whom it took for the client."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx

from tests.support.gateway import render_nginx_template, running_nginx
from tests.support.processes import ROOT, free_port
from tests.support.product import API, clean_env, product, read_banner, token_from_banner, wait_ready

DASHBOARD = ROOT / "services/dashboard"
SCREENSHOTS = ROOT / "test-output/screenshots"
GATEWAY_PEER = "127.0.0.2"  # nginx -> api
SCRIPT_CLIENT = "127.0.0.3"  # this test's own requests through the gateway
FORGED = "203.0.113.66"  # what clients claim in X-Forwarded-For

KEEPING_GATEWAY = """
server {{
    listen 127.0.0.1:{port};
    location /ops/scheduler/ {{
        proxy_pass http://127.0.0.1:{api_port};
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Prefix /ops/scheduler;
    }}
    location / {{
        return 404;
    }}
}}
"""


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


async def test_dashboard_and_docs_through_nginx_at_a_path_prefix(tmp_path: Path) -> None:
    assert (DASHBOARD / "dist/index.html").exists(), "build the dashboard first (make test does)"
    api_port, strip_port, keep_port = free_port(), free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    stripping = f"http://127.0.0.1:{strip_port}/scheduler/"
    keeping = f"http://127.0.0.1:{keep_port}/ops/scheduler/"
    log = tmp_path / "embedded.log"
    env = clean_env(SCHEDULER_FORWARDED_ALLOW_IPS=GATEWAY_PEER)
    args = ["embedded", "--port", str(api_port), "--data-dir", str(tmp_path / "data")]
    site = render_nginx_template({"API_UPSTREAM": f"127.0.0.1:{api_port}", "GATEWAY_LISTEN": f"127.0.0.1:{strip_port}"})
    site += KEEPING_GATEWAY.format(port=keep_port, api_port=api_port)
    (tmp_path / "nginx").mkdir()

    async with product(args, env, log) as process:
        token = token_from_banner(await read_banner(process))
        await wait_ready(api_url, process=process)
        probe = f"http://127.0.0.1:{strip_port}/gateway-healthz"
        async with running_nginx(tmp_path / "nginx", site, probe, http_extra=f"proxy_bind {GATEWAY_PEER};") as nginx:
            transport = httpx.AsyncHTTPTransport(local_address=SCRIPT_CLIENT)
            headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": FORGED}
            async with httpx.AsyncClient(transport=transport, headers=headers, timeout=10) as client:
                ready = await client.get(f"{stripping}readyz")
                functions = (await client.get(f"{stripping}{API[1:]}/task-functions")).json()
                noop = next(f["id"] for f in functions if f["key"] == "noop")
                created = await client.post(
                    f"{keeping}{API[1:]}/jobs",
                    json={"taskFunctionId": noop, "nameEn": "behind the gateway", "intervalSeconds": 3600},
                )
                operations = sum(
                    len(item) for item in (await client.get(f"{stripping}openapi.json")).json()["paths"].values()
                )
                refused = await client.get(f"{stripping}{API[1:]}/status", headers={"Authorization": "Bearer nope"})
                outside = await client.get(f"http://127.0.0.1:{strip_port}{API}/status")
            # The api directly, from a peer it does not trust, claiming to be someone else.
            async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=SCRIPT_CLIENT)) as direct:
                await direct.get(
                    f"{api_url}{API}/status", headers={"Authorization": "Bearer nope", "X-Forwarded-For": FORGED}
                )
            assert created.status_code == 201, created.text
            browser_env = {
                **os.environ,
                "GATEWAY_URLS": f"{stripping} {keeping}",
                "TOKEN": token,
                "JOB_ID": str(created.json()["id"]),
                "OPERATIONS": str(operations),
                "FORGED_CLIENT": FORGED,
                "SCREENSHOT_DIR": str(SCREENSHOTS),
            }
            browser = await asyncio.create_subprocess_exec(
                "npm", "run", "--silent", "e2e:gateway",
                cwd=DASHBOARD, env=browser_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await asyncio.wait_for(browser.communicate(), timeout=100)
            access_log = (nginx / "access.log").read_text()

    assert browser.returncode == 0, output.decode(errors="replace")[-4000:]
    assert ready.status_code == 200
    assert refused.status_code == 401
    assert outside.status_code == 404, "the gateway routes only its prefix"
    assert "/scheduler/assets/" in access_log
    assert "/ops/scheduler/api/v1/scheduler/jobs" in access_log

    lines = log_lines(log)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    # Through the gateway: the client its X-Forwarded-For names (the address nginx saw), not nginx's own address
    # and not what the client claimed.
    [job_created] = by_event["job_created"]
    assert job_created["client"] == SCRIPT_CLIENT
    [job_triggered] = by_event["job_triggered"]
    assert job_triggered["client"] == "127.0.0.1"  # Chromium
    refusals = [line for line in by_event["http_request"] if line["status"] == 401]
    assert [line["client"] for line in refusals][:2] == [SCRIPT_CLIENT, SCRIPT_CLIENT], refusals
    assert refusals[0]["path"] == f"/scheduler{API}/status"
    # No line anywhere names the forged address or takes the gateway for the client.
    assert not [line for line in lines if FORGED in json.dumps(line)]
    assert not [line for line in lines if line.get("client") == GATEWAY_PEER]
