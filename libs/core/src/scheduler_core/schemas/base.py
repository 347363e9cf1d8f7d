"""`CamelModel`, the base of every API schema: snake_case in Python, camelCase in JSON.

Requests derive from `CamelRequest`, which refuses unknown fields (a misspelt field is an error, not silently
ignored) and validates strictly: a boolean is not a number, a string is not a number or a boolean, a float is
not an integer (`retentionDays: false` or `"0"` is a 422, never 0). Also the field types every request shares:
text that PostgreSQL can store, bounded integers, JSON objects within the document rules of `documents`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from scheduler_core.schemas.documents import MAX_DEPTH, DocumentRejected, check_value, text_problem

# Largest value of an INTEGER column (PostgreSQL int4); larger numbers would fail in SQL, not validation.
DB_INT_MAX: Final = 2_147_483_647
# Characters of a free text field (a description): a page of text, and a bound on what a list of jobs weighs.
TEXT_MAX_LENGTH: Final = 4_000
# Bytes of a stored JSON object (compact UTF-8), e.g. a job's parameters: 100 jobs a page stay under 7 MB.
JSON_MAX_BYTES: Final = 65_536


class CamelModel(BaseModel):
    """camelCase aliases in JSON (both directions); the Python field names are accepted on input too."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        from_attributes=True,
    )


class CamelRequest(CamelModel):
    """A request body: unknown fields are refused with a 422 naming them, and no value is coerced to the
    field's type. One exception, which is JSON's own rule: a number with a zero fraction (`60.0`) is an integer
    (JSON Schema's "integer" accepts it, and JavaScript cannot tell 60.0 from 60)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _integral_numbers(cls, value: Any) -> Any:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        return value


class PartialUpdate(CamelRequest):
    """An update body: only the fields present change. A subclass lists the fields that have no empty value in
    `_not_null = field_validator(...)(present_means_a_value)`; null clears the others."""

    def changes(self) -> dict[str, Any]:
        """The fields present in the body, by Python name."""
        return self.model_dump(exclude_unset=True, by_alias=False)


def present_means_a_value(value: Any) -> Any:
    """A field validator of a PartialUpdate's fields that cannot be null."""
    # Validators run only for fields present in the body, so None here is an explicit null.
    if value is None:
        raise ValueError("must not be null; leave the field out to keep its value")
    return value


def absent_or_value(schema: dict[str, Any]) -> None:
    """Document an update field that may be left out but not set to null (it has no empty value)."""
    variants = schema.pop("anyOf", None)
    if variants is not None:
        schema.update(next(variant for variant in variants if variant.get("type") != "null"))
    schema.pop("default", None)


RequestT = TypeVar("RequestT", bound=CamelRequest)


def accepted_part(model: type[RequestT], body: Mapping[str, Any]) -> tuple[RequestT, frozenset[str]]:
    """Of a body the model refused as a whole: the model built from the fields it accepts one by one (each
    validated as the model validates it; the defaults of the fields not given), and the keys it refuses (the
    field's Python name; an unknown key as given): unknown, invalid, or a required field missing. The instance is
    built without validating the whole: a refused field keeps its default, a missing required one is absent (and
    model_dump leaves it out), so read only what was not refused. What the service checks beyond the schema can
    then run on a body with a bad field."""
    # (the pydantic plugin types model_construct as the declaring class's, not the TypeVar's)
    part = cast(RequestT, model.model_construct())
    refused: set[str] = set()
    for key, value in body.items():
        name = _field_name(model, key)
        if name is None:
            refused.add(key)
            continue
        try:
            model.__pydantic_validator__.validate_assignment(part, name, value)
        except ValidationError:
            refused.add(name)
    missing = {name for name, info in model.model_fields.items() if info.is_required() and name not in part.__dict__}
    return part, frozenset(refused | missing)


def _field_name(model: type[BaseModel], key: str) -> str | None:
    """The Python name of the field a body key names (by alias or by name, as CamelModel accepts both)."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return None


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold U+0000, and a lone surrogate cannot be encoded as UTF-8 at all: refuse them here
    # rather than fail in SQL or in the response encoder.
    if problem := text_problem(value):
        raise ValueError(problem)
    return value


def _storable_json(value: Any) -> Any:
    """A JSON object that every reader can read back: nested at most MAX_DEPTH levels, finite numbers, storable
    text (keys included), at most JSON_MAX_BYTES."""
    try:
        check_value(value, max_depth=MAX_DEPTH)
    except DocumentRejected as exc:
        at = exc.field if exc.field != "body" else "the object"
        raise ValueError(f"{at} {exc.reason}") from None
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > JSON_MAX_BYTES:
        raise ValueError(f"must be at most {JSON_MAX_BYTES} bytes as JSON, got {size}")
    return value


# The NUL rule as the schema states it (a lone surrogate is no Unicode text, so no JSON Schema string holds one).
NO_NUL_PATTERN: Final = "^[^\\u0000]*$"

StoredText = Annotated[str, AfterValidator(_storable), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})]
"""Text that fits a TEXT column."""

Name = Annotated[StoredText, Field(max_length=255)]
"""Text that fits a VARCHAR(255) column."""

Text = Annotated[StoredText, Field(max_length=TEXT_MAX_LENGTH)]
"""Free text (a description), bounded."""

JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
"""A JSON object that fits a JSONB column and reads back everywhere."""

DbInt = Annotated[int, Field(ge=0, le=DB_INT_MAX)]
"""A non-negative integer that fits an INTEGER column."""


def _iso_text(value: Any) -> Any:
    # Pydantic's lax datetime also reads numbers (and numeric strings) as Unix times: `from: 0` would be 1970.
    # The schema says an ISO 8601 date-time string, so that is all an instant may be.
    if isinstance(value, str) and not _NUMERIC.fullmatch(value.strip()):
        return value
    if hasattr(value, "tzinfo"):  # a datetime built in Python (a test, a service), not read from JSON
        return value
    raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2027-03-27T00:00:00Z")


_NUMERIC: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), Field(strict=False)]
"""An instant in a request: an ISO 8601 date-time string with an offset; numbers are refused."""
