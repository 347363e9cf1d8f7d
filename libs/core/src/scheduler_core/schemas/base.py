"""`CamelModel`, the base of every API schema: snake_case in Python, camelCase in JSON.

Requests derive from `CamelRequest`, which refuses unknown fields (a misspelt field is an error, not silently
ignored). Also the field types every request shares: text that PostgreSQL can store, bounded integers."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Largest value of an INTEGER column (PostgreSQL int4); larger numbers would fail in SQL, not validation.
DB_INT_MAX: Final = 2_147_483_647


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
    """A request body: unknown fields are refused with a 422 naming them."""

    model_config = ConfigDict(extra="forbid")


def _storable(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold U+0000; refuse it here rather than fail in SQL.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _storable_json(value: Any) -> Any:
    """Refuse NUL characters anywhere in a JSON document (keys included)."""
    if isinstance(value, str):
        _storable(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(str(key))
            _storable_json(item)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item)
    return value


StoredText = Annotated[str, AfterValidator(_storable)]
"""Text that fits a TEXT column."""

Name = Annotated[StoredText, Field(max_length=255)]
"""Text that fits a VARCHAR(255) column."""

JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
"""A JSON object that fits a JSONB column."""

DbInt = Annotated[int, Field(ge=0, le=DB_INT_MAX)]
"""A non-negative integer that fits an INTEGER column."""
