"""The dashboard (a built single-page app) served at "/": files as they are, and index.html for any other path
that is not the API's, so that the app's client-side routes survive a reload.

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

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from scheduler_core.settings import Settings

INDEX: Final = "index.html"
# services/dashboard/dist of the source tree this package lives in (services/api/src/scheduler_api/…).
SOURCE_TREE_DIST: Final = Path(__file__).resolve().parents[3] / "dashboard" / "dist"
# Unknown paths under it are the API's 404s (JSON), never the dashboard.
API_ROOT: Final = "api"
# The opening <head> tag: <base> must precede every element that holds a URL.
_HEAD: Final = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)


def dashboard_dir(settings: Settings) -> Path | None:
    """settings.dashboard_dir, else the source tree's services/dashboard/dist, if it holds an index.html."""
    directory = settings.dashboard_dir or SOURCE_TREE_DIST
    return directory if (directory / INDEX).is_file() else None


class SinglePageApp(StaticFiles):
    """StaticFiles with the single-page-app fallback. A missing file that looks like an asset (its name has a
    suffix, e.g. app.js) stays a 404: serving index.html as JavaScript only hides the broken link."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True)
        self._index = os.path.realpath(directory / INDEX)
        self._index_cache: tuple[tuple[float, int], bytes] | None = None

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path == API_ROOT or path.startswith(f"{API_ROOT}/"):
            raise HTTPException(status_code=404, detail=f"no such endpoint: /{path}")
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
