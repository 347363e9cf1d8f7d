"""Hatch build hook: the api's wheel ships the built dashboard as scheduler_api/dashboard_dist, so that every
way of installing and starting the api serves it at "/" (scheduler_api.dashboard looks there first).

The build is services/dashboard/dist of the source tree (`make dashboard`), or, when the wheel is built from an
sdist, the copy the sdist carries as dashboard-dist/. A wheel or sdist without it is refused: an api package
without its dashboard is what this hook exists to prevent. Editable installs (`make install`, `uv sync`) are left
alone: they serve the source tree's build, whenever it is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Where the build goes in the wheel (package data of scheduler_api) and in the sdist.
WHEEL_DIR = "scheduler_api/dashboard_dist"
SDIST_DIR = "dashboard-dist"


class DashboardBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        root = Path(self.root)
        candidates = [root.parent / "dashboard" / "dist", root / SDIST_DIR]
        built = next((directory for directory in candidates if (directory / "index.html").is_file()), None)
        if built is None:
            raise RuntimeError(
                "the dashboard is not built (no index.html in "
                + " or ".join(str(directory) for directory in candidates)
                + "): run `make dashboard` at the repository root first; the api's package ships it"
            )
        build_data["force_include"][str(built)] = WHEEL_DIR if self.target_name == "wheel" else SDIST_DIR
