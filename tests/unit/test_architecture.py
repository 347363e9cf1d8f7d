"""The architecture, checked: services never import each other, libs never import services, and only the
db package speaks SQL (no SQLAlchemy statement building or raw SQL anywhere else)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "scheduler_api": ROOT / "services/api/src/scheduler_api",
    "scheduler_timekeeper": ROOT / "services/timekeeper/src/scheduler_timekeeper",
    "scheduler_executor": ROOT / "services/executor/src/scheduler_executor",
}
LIBS = ROOT / "libs/core/src/scheduler_core"
DB_PACKAGE = LIBS / "db"
# SQLAlchemy names that build or run SQL; models and sessions may be passed around, statements may not.
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "literal_column", "exists", "union"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def sql_names(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
            found.update(alias.name for alias in node.names if alias.name in SQL_BUILDERS)
    return found


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_services_never_import_each_other(service: str) -> None:
    others = set(SERVICES) - {service}
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in SERVICES[service].rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in others
    }
    assert not offenders


def test_libs_never_import_services() -> None:
    services = {*SERVICES, "scheduler_cli"}
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in LIBS.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in services
    }
    assert not offenders


def test_only_the_db_package_speaks_sql() -> None:
    sources = [*LIBS.rglob("*.py"), *(p for d in SERVICES.values() for p in d.rglob("*.py"))]
    sources += list((ROOT / "services/cli/src").rglob("*.py"))
    offenders = {
        f"{path.relative_to(ROOT)} uses {sorted(names)}"
        for path in sources
        if not path.is_relative_to(DB_PACKAGE) and (names := sql_names(path))
    }
    assert not offenders


def test_the_checks_see_the_code() -> None:
    """Guard against the globs above silently matching nothing after a move."""
    assert all(any(d.rglob("*.py")) for d in SERVICES.values())
    assert sql_names(DB_PACKAGE / "repository/jobs.py")
