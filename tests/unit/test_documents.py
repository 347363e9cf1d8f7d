"""JSON documents as the API accepts them (scheduler_core.schemas.documents), and the request models' JSON and
text fields that apply the same rules: a depth limit, finite numbers, Unicode text without NUL, each refusal
naming where in the document it is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from scheduler_core.schemas import CleanupRequest, ScheduledJobCreate, ScheduledJobUpdate
from scheduler_core.schemas.base import JSON_MAX_BYTES, TEXT_MAX_LENGTH
from scheduler_core.schemas.documents import MAX_DEPTH, DocumentRejected, parse_document


def nested(levels: int, leaf: str = "1") -> str:
    """A document of `levels` nested objects: {"a": {"a": ... leaf}}."""
    return '{"a":' * levels + leaf + "}" * levels


def rejection(raw: str | bytes) -> tuple[str, str]:
    with pytest.raises(DocumentRejected) as refused:
        parse_document(raw.encode() if isinstance(raw, str) else raw)
    return refused.value.field, refused.value.reason


def test_a_document_as_deep_as_the_limit_is_accepted_and_one_level_more_is_not() -> None:
    assert parse_document(nested(MAX_DEPTH).encode()) is not None
    field, reason = rejection(nested(MAX_DEPTH + 1))

    assert field == ".".join(["a"] * MAX_DEPTH)  # the path to the container one level too deep
    assert reason == f"is nested more than {MAX_DEPTH} levels deep"


@pytest.mark.parametrize("levels", [300, 900, 100_000])
def test_deep_documents_are_refused_without_exhausting_the_stack(levels: int) -> None:
    # 100,000 levels would overflow the recursion limit of the json module itself: refused as "body".
    field, reason = rejection("[" * levels + "]" * levels)

    assert field.split(".")[0] in {"body", "0"}
    assert "nested more than 32 levels" in reason


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"parameters": {"x": NaN}}', "parameters.x"),
        ('{"parameters": {"x": Infinity}}', "parameters.x"),
        ('{"parameters": {"x": [1, -Infinity]}}', "parameters.x.1"),
        ('{"parameters": {"x": 1e400}}', "parameters.x"),
        ('{"parameters": {"x": -1e400}}', "parameters.x"),
    ],
)
def test_numbers_that_are_not_finite_are_refused_where_they_are(raw: str, field: str) -> None:
    assert rejection(raw) == (field, "must be a finite number (no NaN or Infinity)")


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ('{"nameEn": "x\\ud800y"}', "nameEn", "lone UTF-16 surrogate"),
        ('{"a": ["ok", "\\udfff"]}', "a.1", "lone UTF-16 surrogate"),
        ('{"parameters": {"k\\udc00": 1}}', "parameters.k?", "the key must not contain a lone UTF-16 surrogate"),
        ('{"nameEn": "a\\u0000b"}', "nameEn", "NUL character"),
        ('{"\\u0000": 1}', "\x00", "the key must not contain the NUL character"),
    ],
)
def test_text_with_a_lone_surrogate_or_nul_is_refused_value_or_key(raw: str, field: str, words: str) -> None:
    named, reason = rejection(raw)

    assert named == field
    assert words in reason
    named.encode("utf-8")  # the field can be echoed in a response


def test_a_surrogate_pair_is_text_and_accepted() -> None:
    assert parse_document(b'{"nameEn": "\\ud83d\\ude00"}') == {"nameEn": "\N{GRINNING FACE}"}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", "is not valid JSON"),
        (b'{"a": 1} trailing', "is not valid JSON"),
        (b'{"a": "\xff"}', "is not UTF-8"),
        (b'{"a": ' + b"9" * 5_000 + b"}", "is not a JSON document this API accepts"),
    ],
)
def test_what_is_not_a_json_document_is_refused_as_the_body(raw: bytes, words: str) -> None:
    field, reason = rejection(raw)

    assert field == "body"
    assert words in reason


def test_a_huge_key_is_cut_short_in_the_path() -> None:
    field, _ = rejection('{"' + "k" * 10_000 + '": NaN}')

    assert len(field) <= 201
    assert field.endswith("…")


# --- the request models apply the same rules ---------------------------------------------------------


def create(**fields: Any) -> dict[str, Any]:
    return {"taskFunctionId": 1, "intervalMinutes": 5} | fields


def problems(model: type[Any], body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    return {".".join(str(part) for part in error["loc"]): error["msg"] for error in refused.value.errors()}


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"x": float("nan")}, "must be a finite number"),
        ({"x": [float("inf")]}, "x.0 must be a finite number"),
        (json.loads(nested(MAX_DEPTH + 1)), f"nested more than {MAX_DEPTH} levels deep"),
        ({"k\ud800": 1}, "lone UTF-16 surrogate"),
        ({"x": "a\x00"}, "NUL character"),
        ({"x": "y" * JSON_MAX_BYTES}, f"at most {JSON_MAX_BYTES} bytes"),
    ],
)
def test_stored_json_obeys_the_document_rules(parameters: dict[str, Any], words: str) -> None:
    for model, body in (
        (ScheduledJobCreate, create(parameters=parameters)),
        (ScheduledJobUpdate, {"parameters": parameters}),
    ):
        found = problems(model, body)
        assert list(found) == ["parameters"]
        assert words in found["parameters"]


@pytest.mark.parametrize("field", ["nameEn", "nameAr", "descriptionEn", "descriptionAr", "cronExpression"])
def test_every_text_field_refuses_surrogates_nul_and_length(field: str) -> None:
    longest = 255 if field.startswith("name") else 100 if field == "cronExpression" else TEXT_MAX_LENGTH
    for value in ("x\ud800", "x\x00", "x" * (longest + 1)):
        assert field in problems(ScheduledJobCreate, create(**{field: value})), value


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (CleanupRequest, {"retentionDays": False}, "retentionDays"),
        (CleanupRequest, {"retentionDays": "0"}, "retentionDays"),
        (CleanupRequest, {"retentionDays": 0.5}, "retentionDays"),
        (ScheduledJobCreate, create(intervalSeconds=True), "intervalSeconds"),
        (ScheduledJobCreate, create(priority=True), "priority"),
        (ScheduledJobCreate, create(isEnabled="no"), "isEnabled"),
        (ScheduledJobCreate, create(isEnabled=0), "isEnabled"),
        (ScheduledJobCreate, create(intervalMinutes="60"), "intervalMinutes"),
        (ScheduledJobCreate, create(taskFunctionId="1"), "taskFunctionId"),
        (ScheduledJobUpdate, {"coalesce": 1}, "coalesce"),
        (ScheduledJobUpdate, {"maxInstances": "2"}, "maxInstances"),
    ],
)
def test_request_models_coerce_nothing(model: type[Any], body: dict[str, Any], field: str) -> None:
    assert field in problems(model, body)


def test_an_integral_number_is_an_integer_as_json_schema_says() -> None:
    parsed = CleanupRequest.model_validate(json.loads('{"retentionDays": 30.0}'))

    assert (parsed.retention_days, type(parsed.retention_days)) == (30, int)
