"""The dashboard (a built single-page app) served at "/": files as they are, and index.html for any other path
that is not the API's, so that the app's client-side routes survive a reload."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Final

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from scheduler_core.settings import Settings

INDEX: Final = "index.html"
# services/dashboard/dist of the source tree this package lives in (services/api/src/scheduler_api/…).
SOURCE_TREE_DIST: Final = Path(__file__).resolve().parents[3] / "dashboard" / "dist"
# Unknown paths under it are the API's 404s (JSON), never the dashboard.
API_ROOT: Final = "api"


def dashboard_dir(settings: Settings) -> Path | None:
    """settings.dashboard_dir, else the source tree's services/dashboard/dist, if it holds an index.html."""
    directory = settings.dashboard_dir or SOURCE_TREE_DIST
    return directory if (directory / INDEX).is_file() else None


class SinglePageApp(StaticFiles):
    """StaticFiles with the single-page-app fallback. A missing file that looks like an asset (its name has a
    suffix, e.g. app.js) stays a 404: serving index.html as JavaScript only hides the broken link."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path == API_ROOT or path.startswith(f"{API_ROOT}/"):
            raise HTTPException(status_code=404, detail=f"no such endpoint: /{path}")
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or PurePosixPath(path).suffix:
                raise
            return await super().get_response(INDEX, scope)
