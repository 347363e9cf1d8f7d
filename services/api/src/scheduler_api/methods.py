"""405 with `Allow` for a method an existing path does not take (PATCH /jobs/3, PUT /jobs, OPTIONS, TRACE).

Starlette's router answers 405 only when no later route matches the request at all, and the dashboard is mounted
at "/" and matches everything; its `Allow` also names the methods of the first route of the path only (GET and POST
of /jobs are two routes). So the methods of a path are gathered here, from every route whose path matches."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from scheduler_api.errors import error_json
from scheduler_core.schemas import ErrorResponse


class AllowedMethods:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self._app = app
        self._routes = routes  # the application's routes: complete once it serves, so read at the first request
        self._table: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = self.methods_of(_route_path(scope))
            if allowed and scope["method"] not in allowed:
                listed = ", ".join(sorted(allowed))
                body = ErrorResponse(
                    error="method_not_allowed", message=f"{scope['method']} is not allowed here; allowed: {listed}"
                )
                await error_json(405, body, {"Allow": listed})(scope, receive, send)
                return
        await self._app(scope, receive, send)

    def methods_of(self, path: str) -> set[str]:
        """The methods of the routes whose path template matches `path` (empty: no route has this path)."""
        if self._table is None:
            self._table = [
                (compile_path(context.path)[0], frozenset(context.methods))
                for context in iter_route_contexts(self._routes)
                if context.path is not None and context.methods is not None  # mounts take any method
            ]
        methods: set[str] = set()
        for pattern, route_methods in self._table:
            if pattern.match(path):
                methods |= route_methods
        return methods


def _route_path(scope: Scope) -> str:
    """The path the routes see: without the root path a proxy mounted the application under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :] or "/"
    return path
