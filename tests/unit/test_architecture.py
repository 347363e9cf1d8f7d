"""The architecture, checked by parsing the code it guards: services never import each other, libs never import
services, only the store package speaks SQL (no SQLAlchemy statement building, and no SQL text, anywhere else),
first-party modules import no cycle, and no module grows past what one reader holds in mind."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "scheduler_api": ROOT / "services/api/src/scheduler_api",
    "scheduler_timekeeper": ROOT / "services/timekeeper/src/scheduler_timekeeper",
    "scheduler_executor": ROOT / "services/executor/src/scheduler_executor",
    "scheduler_cli": ROOT / "services/cli/src/scheduler_cli",
}
LIBS = ROOT / "libs/core/src/scheduler_core"
STORE = LIBS / "store"
PACKAGES = {"scheduler_core": LIBS, **SERVICES}
# SQLAlchemy names that build or run SQL; models and sessions may be passed around, statements may not.
SQL_BUILDERS: Final = {"select", "insert", "update", "delete", "text", "func", "literal_column", "exists", "union"}
# SQL statements as text: a statement's verb followed by what makes it a statement, not an English phrase.
SQL_TEXT: Final = re.compile(
    r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bTRUNCATE\b"
    r"|\b(CREATE|DROP|ALTER)\s+(DATABASE|TABLE|INDEX|SCHEMA)\b|\bpg_\w+\(",
)
# Lines of a module (generated files aside: migrations are Alembic's own).
MAX_MODULE_LINES: Final = 400


def product_sources() -> list[Path]:
    return sorted(path for root in PACKAGES.values() for path in root.rglob("*.py"))


def module_name(path: Path) -> str:
    for package, root in PACKAGES.items():
        if path.is_relative_to(root):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise AssertionError(f"{path} is in no package")


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, list[str]]]:
    """(imported module, names) for every import of a module, lazy ones inside functions included; imports only
    made for the type checker are left out (they are no run-time dependency)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            yield base, [alias.name for alias in node.names]
        stack.extend(ast.iter_child_nodes(node))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def first_party_graph() -> dict[str, set[str]]:
    """Module -> the first-party modules it imports (`from package import submodule` counts as the submodule)."""
    paths = {module_name(path): path for path in product_sources()}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        edges: set[str] = set()
        for imported, names in imports(parsed(path), module, path.name == "__init__.py"):
            if imported.split(".")[0] not in PACKAGES:
                continue
            submodules = {f"{imported}.{name}" for name in names} & paths.keys()
            edges |= submodules or ({imported} & paths.keys())
        graph[module] = edges - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (documentation may quote SQL)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_texts(path: Path) -> list[str]:
    """String literals (f-strings' literal parts included) that are SQL statements."""
    tree = parsed(path)
    skipped = docstrings(tree)
    return [
        node.value.strip()[:60]
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and SQL_TEXT.search(node.value)
    ]


def sql_builders(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
            found.update(alias.name for alias in node.names if alias.name in SQL_BUILDERS)
    return found


# The CLI is the composition root (embedded mode, the role commands): it may import every service.
@pytest.mark.parametrize("service", sorted(set(SERVICES) - {"scheduler_cli"}))
def test_services_never_import_each_other(service: str) -> None:
    others = set(SERVICES) - {service}
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in SERVICES[service].rglob("*.py")
        for module, _ in imports(parsed(path), module_name(path), path.name == "__init__.py")
        if module.split(".")[0] in others
    }
    assert not offenders


def test_libs_never_import_services() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in LIBS.rglob("*.py")
        for module, _ in imports(parsed(path), module_name(path), path.name == "__init__.py")
        if module.split(".")[0] in SERVICES
    }
    assert not offenders


def test_only_the_store_builds_sql_statements() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} uses {sorted(names)}"
        for path in product_sources()
        if not path.is_relative_to(STORE) and (names := sql_builders(path))
    }
    assert not offenders


def test_no_sql_text_outside_the_store() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {text!r}"
        for path in product_sources()
        if not path.is_relative_to(STORE)
        for text in sql_texts(path)
    }
    assert not offenders


def test_first_party_modules_import_no_cycle() -> None:
    assert cycles(first_party_graph()) == []


def test_no_module_is_longer_than_a_reader_holds_in_mind() -> None:
    migrations = STORE / "migrations"
    long = {
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in product_sources()
        if not path.is_relative_to(migrations) and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long


def test_the_checks_see_the_code(tmp_path: Path) -> None:
    """Guard against the globs and parsers silently matching nothing: each check finds what it must."""
    assert all(any(root.rglob("*.py")) for root in PACKAGES.values())
    assert sql_builders(STORE / "portable/jobs.py")
    assert sql_texts(STORE / "postgres/claims.py")
    assert sql_texts(STORE / "postgres/admin.py")
    graph = first_party_graph()
    assert "scheduler_core.store.postgres.claims" in graph["scheduler_core.store.postgres"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    probe = tmp_path / "probe.py"
    probe.write_text(
        '"""SELECT x FROM y in a docstring is documentation."""\n'
        "def f() -> None:\n    from scheduler_cli import main\n"
        'QUERY = f"CREATE DATABASE {name}"\nPROSE = "select the jobs from the list"\n'
    )
    assert sql_texts(probe) == ["CREATE DATABASE"]
    assert ("scheduler_cli", ["main"]) in list(imports(parsed(probe), "scheduler_cli.probe", False))
