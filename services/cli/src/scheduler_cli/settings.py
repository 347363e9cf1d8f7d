"""The CLI's settings: SCHEDULER_* environment variables, with the flags of one invocation on top.

pydantic and the settings model are imported when a command loads its settings, not with the CLI (`--help`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from scheduler_core.settings import Settings


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the given flags on top (validated together, cross-field rules
    included); a bad value is a clear error, exit 2."""
    from pydantic import ValidationError

    from scheduler_core.settings import Settings

    try:
        return Settings(**{name: value for name, value in overrides.items() if value is not None})
    except ValidationError as exc:
        for error in exc.errors():
            if error["loc"]:
                name = "SCHEDULER_" + "_".join(str(part) for part in error["loc"]).upper()
                typer.echo(f"error: {name}: {error['msg']}", err=True)
            else:  # a rule between settings: its message names them
                typer.echo(f"error: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None
