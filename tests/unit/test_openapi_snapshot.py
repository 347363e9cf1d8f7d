"""The dashboard's types are generated from services/dashboard/openapi.json, and its type-level test proves
them assignable to the reference's interfaces. This test keeps that file equal to what the API serves, so
an API change cannot bypass the contract test: run `make openapi` and the dashboard's tests judge it."""

from __future__ import annotations

import json

from scripts.export_openapi import TARGET, openapi_document


def test_committed_openapi_document_matches_the_api() -> None:
    committed = json.loads(TARGET.read_text())
    assert committed == openapi_document(), "the API changed: run `make openapi` and commit the result"
