"""The README documents what the code has: every setting (name and default) and every CLI command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer

from scheduler_cli.main import app
from scheduler_core.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def documented_settings() -> dict[str, str]:
    rows = re.findall(r"^\| `(SCHEDULER_[A-Z_]+)` \| (.+?) \| .+ \|$", README, flags=re.MULTILINE)
    return {name: default.strip("`") for name, default in rows}


def test_every_setting_is_documented_with_its_default() -> None:
    documented = documented_settings()
    expected = {}
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default is None else json.dumps(default) if isinstance(default, list) else str(default)
        expected[f"SCHEDULER_{name.upper()}"] = shown
    assert documented == expected


def test_every_cli_command_is_documented() -> None:
    command = typer.main.get_command(app)
    names = set(command.commands)  # type: ignore[attr-defined]
    assert names
    missing = {name for name in names if f"jobscheduler {name}" not in README}
    assert not missing
