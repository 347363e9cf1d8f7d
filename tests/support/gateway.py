"""nginx as the tests run it: the shipped gateway template (deploy/gateway/nginx.conf.template) rendered the way the
official nginx image renders it, checked with `nginx -t`, or run as an unprivileged foreground process on a
loopback port with everything it writes in a temporary directory. Debian's nginx-light provides the binary
(.ci/run installs it); without it these helpers fail, they never skip."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import httpx

from tests.support.processes import ROOT

NGINX_TEMPLATE: Final = ROOT / "deploy/gateway/nginx.conf.template"
# Where Debian puts it; /usr/sbin is not on every user's PATH.
NGINX_PATHS: Final = ("/usr/sbin/nginx", "/usr/bin/nginx")
_PLACEHOLDER: Final = re.compile(r"\$\{(\w+)\}")


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((path for path in NGINX_PATHS if os.access(path, os.X_OK)), None)
    assert found, "nginx is not installed: `apt-get install nginx-light` (.ci/run does)"
    return found


def render_nginx_template(environment: Mapping[str, str], template: Path = NGINX_TEMPLATE) -> str:
    """The template with ${NAME} replaced from `environment`, as the nginx image's envsubst step does (only the
    names it defines; nginx's own $variables have no braces there). A placeholder left unset is an error."""
    text = template.read_text()
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in environment})
    assert not missing, f"{template.name}: no value for {missing}"
    return _PLACEHOLDER.sub(lambda match: environment[match[1]], text)


def main_config(directory: Path, site: str, http_extra: str = "") -> Path:
    """An nginx.conf that runs without privileges: one foreground process, pid, logs and temporary files under
    `directory`, the site (a server block, like the image's conf.d/default.conf) included in http {}."""
    (directory / "site.conf").write_text(site)
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(
        f"""
daemon off;
master_process off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    {http_extra}
    include {directory}/site.conf;
}}
"""
    )
    return config


def check_nginx_config(directory: Path, site: str) -> None:
    """`nginx -t` on the site; fails with nginx's message."""
    config = main_config(directory, site)
    result = subprocess.run(
        [nginx_binary(), "-t", "-q", "-e", "stderr", "-p", str(directory), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"nginx -t refused the config:\n{result.stderr}"


@asynccontextmanager
async def running_nginx(directory: Path, site: str, probe_url: str, http_extra: str = "") -> AsyncIterator[Path]:
    """nginx serving `site` until the block ends; yields its directory (access.log and error.log are there).
    Ready once `probe_url` (a location nginx answers itself) answers."""
    config = main_config(directory, site, http_extra)
    with (directory / "stderr.log").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            nginx_binary(), "-e", "stderr", "-p", str(directory), "-c", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(20):
            while True:
                if process.returncode is not None:
                    raise AssertionError(f"nginx exited with {process.returncode}: {_logs(directory)}")
                try:
                    if (await client.get(probe_url)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        yield directory
    finally:
        if process.returncode is None:
            process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def _logs(directory: Path) -> str:
    return "\n".join(
        (directory / name).read_text(errors="replace")[-3000:]
        for name in ("stderr.log", "error.log")
        if (directory / name).exists()
    )
