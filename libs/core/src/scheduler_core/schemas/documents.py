"""JSON documents as the API accepts them: parsed strictly, then checked before anything is validated or stored.

Python's json module accepts what PostgreSQL, SQLite's JSON functions and the response encoder do not: `NaN`,
`Infinity` and numbers that overflow to infinity (`1e400`), strings holding a lone UTF-16 surrogate (`"\\ud800"`,
which UTF-8 cannot encode), the NUL character (which PostgreSQL text and jsonb cannot hold), and nesting deep
enough to exhaust the recursion limit of whatever reads the document next. `parse_document` refuses all of them,
naming where in the document the offence is, so that a request carrying one gets a 422 and nothing is written.
`check_value` applies the same rules to a value already parsed (a request model's JSON field)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, Final

# Levels of nesting a document may have: the body object is level 1, an object inside it level 2, and so on.
# The deepest document the API itself produces is 4 levels; 32 leaves room for task parameters.
MAX_DEPTH: Final = 32
# Characters of a field path repeated in an error (a key may be as long as the body).
MAX_PATH_CHARS: Final = 200
# Characters of one key in a field path.
MAX_KEY_CHARS: Final = 64

NUL: Final = "\x00"
_SURROGATES: Final = range(0xD800, 0xE000)


class DocumentRejected(ValueError):
    """A document the API refuses: `field` is the dotted path of the offending value ("body" for the whole
    document), `reason` a sentence."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class _NonFinite:
    """What the parser puts where a number is not finite, so that the walk can name its place."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _constant(text: str) -> _NonFinite:
    return _NonFinite(text)  # NaN, Infinity, -Infinity


def _number(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored (None if it can)."""
    if NUL in value:
        return "must not contain the NUL character (U+0000)"
    if any(ord(char) in _SURROGATES for char in value):
        return "must not contain a lone UTF-16 surrogate (U+D800 to U+DFFF): it is not Unicode text"
    return None


def field_path(parts: list[str | int], root: str = "") -> str:
    """A dotted field path, shortened so that an error never repeats a huge key, and printable as UTF-8."""
    names = [root] if root else []
    for part in parts:
        name = str(part)
        if len(name) > MAX_KEY_CHARS:
            name = name[:MAX_KEY_CHARS] + "…"
        names.append(name)
    path = ".".join(names) or "body"
    if len(path) > MAX_PATH_CHARS:
        path = path[:MAX_PATH_CHARS] + "…"
    return printable(path)


def printable(text: str) -> str:
    """`text` with lone surrogates replaced, so that it can be written as UTF-8 (e.g. echoed in an error)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def parse_document(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document in `raw` (UTF-8), or DocumentRejected naming the first offence."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentRejected("body", f"is not UTF-8 (invalid byte at position {exc.start})") from None
    try:
        document = json.loads(text, parse_constant=_constant, parse_float=_number)
    except RecursionError:
        # The C scanner stops at the interpreter's recursion limit (about 1,000 levels), long past ours.
        raise DocumentRejected("body", f"is nested more than {max_depth} levels deep") from None
    except json.JSONDecodeError as exc:
        raise DocumentRejected("body", f"is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError as exc:  # an integer with more digits than int() converts (sys.get_int_max_str_digits)
        raise DocumentRejected("body", f"is not a JSON document this API accepts: {exc}") from None
    check_value(document, max_depth=max_depth)
    return document


def check_value(value: Any, *, root: str = "", max_depth: int = MAX_DEPTH) -> None:
    """Raise DocumentRejected for the first value breaking the rules: nested deeper than `max_depth`, a number
    that is not finite, text (value or key) with NUL or a lone surrogate. `root` prefixes the field paths."""
    for path, depth, item in _walk(value):
        if depth > max_depth:
            raise DocumentRejected(field_path(path, root), f"is nested more than {max_depth} levels deep")
        if isinstance(item, _NonFinite) or (isinstance(item, float) and not math.isfinite(item)):
            raise DocumentRejected(field_path(path, root), "must be a finite number (no NaN or Infinity)")
        if isinstance(item, str) and (problem := text_problem(item)):
            raise DocumentRejected(field_path(path, root), problem)
        if isinstance(item, dict):
            for key in item:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise DocumentRejected(field_path([*path, key], root), f"the key {problem}")


def _walk(value: Any) -> Iterator[tuple[list[str | int], int, Any]]:
    """(path, depth, value) of every value in the document, depth first, without recursion: containers count as
    a level (the document itself is level 1 if it is one), scalars sit at their container's level."""
    stack: list[tuple[list[str | int], int, Any]] = [([], 1, value)]
    while stack:
        path, depth, item = stack.pop()
        yield path, depth, item
        if isinstance(item, dict):
            children: list[tuple[str | int, Any]] = list(item.items())
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        for key, child in reversed(children):
            child_depth = depth + 1 if isinstance(child, dict | list) else depth
            stack.append(([*path, key], child_depth, child))
