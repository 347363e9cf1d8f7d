"""The dashboard (a built single-page app) served at "/": files as they are, and index.html for any other path
that is not the API's, so that the app's client-side routes survive a reload. Without a build, "/" (and every
other page path) is an HTML page saying how to build it, never a JSON 404.

Where the build is found: SCHEDULER_DASHBOARD_DIR if set; else the copy inside this package (the wheel ships
services/dashboard/dist as scheduler_api/dashboard_dist: see services/api/hatch_build.py); else the source tree's
services/dashboard/dist (an editable install, `make run`, `uv run jobscheduler api`).

The build refers to its assets and the API by relative URLs (Vite `base: './'`), so it works under any path
prefix. index.html gets a `<base href>` naming where the dashboard is mounted, the gateway's prefix included
(scheduler_api.gateway sets root_path): relative URLs then resolve the same from a deep link (/scheduler/jobs/7)
as from the dashboard's root."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path, PurePosixPath
from typing import Final

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from scheduler_core.settings import Settings

INDEX: Final = "index.html"
# The build inside an installed wheel (services/api/hatch_build.py puts it there).
PACKAGED_DIST: Final = Path(__file__).resolve().parent / "dashboard_dist"
# services/dashboard/dist of the source tree this package lives in (services/api/src/scheduler_api/…).
SOURCE_TREE_DIST: Final = Path(__file__).resolve().parents[3] / "dashboard" / "dist"
# Methods a page path answers (StaticFiles' own): any other is a 405.
PAGE_METHODS: Final = frozenset({"GET", "HEAD"})
# Unknown paths under it are the API's 404s (JSON), never the dashboard.
API_ROOT: Final = "api"
# The opening <head> tag: <base> must precede every element that holds a URL.
_HEAD: Final = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)


def dashboard_candidates(settings: Settings) -> list[Path]:
    """Where the build is looked for, in order: only settings.dashboard_dir when it is set (an operator who names
    a directory means that one), else the package's copy, then the source tree's."""
    if settings.dashboard_dir is not None:
        return [settings.dashboard_dir]
    return [PACKAGED_DIST, SOURCE_TREE_DIST]


def dashboard_dir(settings: Settings) -> Path | None:
    """The first of dashboard_candidates that holds an index.html, or None."""
    return next((directory for directory in dashboard_candidates(settings) if (directory / INDEX).is_file()), None)


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """The build mounted at "/"; without one, the page that says how to make one answers whatever no route takes
    (the router's default, so that routes added later still match first)."""
    directory = dashboard_dir(settings)
    if directory is None:
        app.router.default = DashboardMissing(dashboard_candidates(settings))
    else:
        app.mount("/", SinglePageApp(directory), name="dashboard")


def _refuse_api_path(path: str) -> None:
    if path == API_ROOT or path.startswith(f"{API_ROOT}/"):
        raise HTTPException(status_code=404, detail=f"no such endpoint: /{path}")


class DashboardMissing:
    """Answers every page path (one the dashboard's index.html would answer) with a 503 HTML page naming where
    the build was looked for and how to make it (`make dashboard`); the API's paths, and paths of files (app.js),
    stay JSON 404s. 503: the page exists once built, nothing is wrong with the request."""

    def __init__(self, searched: list[Path]) -> None:
        places = "".join(f"<li><code>{html.escape(str(directory))}</code></li>" for directory in searched)
        self.page = (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>jobscheduler: the dashboard is not built</title></head>\n<body>\n"
            "<h1>The dashboard is not built</h1>\n"
            "<p>The API is running (its documentation is at <code>/docs</code>), but no built dashboard was found "
            "here:</p>\n"
            f"<ul>{places}</ul>\n"
            "<p>Build it from the repository root with <code>make dashboard</code> (it runs <code>npm ci</code> "
            "and <code>npm run build</code> in <code>services/dashboard</code>; Node.js 20+), then reload this page. "
            "Or point <code>SCHEDULER_DASHBOARD_DIR</code> at a built <code>dist</code> directory. "
            "The wheel and the container image ship the dashboard built.</p>\n</body></html>\n"
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        # The path below where the app is served, as StaticFiles reads it.
        path = get_route_path(scope).lstrip("/")
        _refuse_api_path(path)
        if PurePosixPath(path).suffix:  # an asset's path (app.js, openapi.json): a 404, as with a build
            raise HTTPException(status_code=404, detail=f"no such file: /{path}")
        if scope["method"] not in PAGE_METHODS:
            raise HTTPException(status_code=405, headers={"Allow": ", ".join(sorted(PAGE_METHODS))})
        body = b"" if scope["method"] == "HEAD" else self.page
        response = HTMLResponse(
            body, status_code=503, headers={"Cache-Control": "no-store", "Content-Length": str(len(self.page))}
        )
        await response(scope, receive, send)


class SinglePageApp(StaticFiles):
    """StaticFiles with the single-page-app fallback. A missing file that looks like an asset (its name has a
    suffix, e.g. app.js) stays a 404: serving index.html as JavaScript only hides the broken link."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True)
        self._index = os.path.realpath(directory / INDEX)
        self._index_cache: tuple[tuple[float, int], bytes] | None = None

    async def get_response(self, path: str, scope: Scope) -> Response:
        _refuse_api_path(path)
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or PurePosixPath(path).suffix:
                raise
            return await super().get_response(INDEX, scope)

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        if os.fspath(full_path) != self._index:
            return super().file_response(full_path, stat_result, scope, status_code)
        # Depends on the prefix of this request's gateway: never reused from a cache without asking again.
        return HTMLResponse(
            self._index_with_base(stat_result, scope.get("root_path", "") + "/"),
            status_code=status_code,
            headers={"Cache-Control": "no-cache"},
        )

    def _index_with_base(self, stat_result: os.stat_result, base: str) -> bytes:
        key = (stat_result.st_mtime, stat_result.st_size)
        if self._index_cache is None or self._index_cache[0] != key:
            # Read again only when the file changed (a rebuild): a few KB, from the page cache.
            self._index_cache = (key, Path(self._index).read_bytes())
        page = self._index_cache[1]
        head = _HEAD.search(page)
        if head is None:  # not a page Vite built: served as it is
            return page
        tag = f'<base href="{html.escape(base, quote=True)}">'.encode()
        return page[: head.end()] + tag + page[head.end() :]
