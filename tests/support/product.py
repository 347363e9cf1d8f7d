"""Driving a running product over HTTP the way an operator would: create a job, watch it run."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ROOT

API = "/api/v1/scheduler"


async def wait_ready(base_url: str, timeout: float = 60.0, process: asyncio.subprocess.Process | None = None) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            if process is not None and process.returncode is not None:
                raise AssertionError(f"the product exited with {process.returncode} before it was ready")
            try:
                if (await client.get("/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{base_url}/readyz not ready after {timeout} s")
            await asyncio.sleep(0.2)


async def run_an_interval_job(base_url: str, token: str, timeout: float = 30.0) -> dict[str, Any]:
    """Create a 1-s interval job on the noop task through the API; return its first successful execution."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url + API, headers=headers, timeout=10) as client:
        functions = (await client.get("/task-functions")).raise_for_status().json()
        noop = next(f for f in functions if f["key"] == "noop")
        created = await client.post(
            "/jobs", json={"taskFunctionId": noop["id"], "nameEn": "e2e heartbeat", "intervalSeconds": 1}
        )
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["jobTypeName"] == "interval"
        assert job["nextRunAt"] is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            history = (await client.get(f"/jobs/{job['id']}/history")).raise_for_status().json()
            done = [row for row in history["items"] if row["statusName"] == "success"]
            if done:
                return dict(done[0])
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no successful run of job {job['id']} after {timeout} s: {history}")
            await asyncio.sleep(0.3)


def token_from_banner(stdout: str) -> str:
    """The JWT the product prints on stdout at start (three base64url parts)."""
    for line in stdout.splitlines():
        candidate = line.strip()
        if candidate.count(".") == 2 and candidate.startswith("eyJ"):
            return candidate
    raise AssertionError(f"no token in the banner: {stdout!r}")


@asynccontextmanager
async def product(args: list[str], env: dict[str, str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scheduler_cli", *args,
            env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def read_banner(process: asyncio.subprocess.Process, timeout: float = 60) -> str:
    """Stdout until the token line has been printed."""
    assert process.stdout is not None
    text = ""
    async with asyncio.timeout(timeout):
        while "Press Ctrl-C" not in text:
            line = await process.stdout.readline()
            if not line:
                raise AssertionError(f"stdout closed before the banner: {text!r}")
            text += line.decode()
    return text


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env.update({"PYTHONPATH": str(ROOT), "SCHEDULER_LOG_FORMAT": "json", **extra})
    return env
