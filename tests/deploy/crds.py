"""Offline validation of custom resources against CRDs vendored in tests/deploy/schemas/ (pinned: see the README
there), as strictly as kubernetes-validate checks built-in kinds: unknown fields are errors. The CEL rules of a
CRD (x-kubernetes-validations) are not evaluated; the tests check the ones that matter here by hand."""

from __future__ import annotations

import copy
import hashlib
from functools import cache
from pathlib import Path
from typing import Any, Final

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import yaml

Obj = dict[str, Any]

SCHEMAS: Final = Path(__file__).parent / "schemas"
GATEWAY_API: Final = SCHEMAS / "gateway-api-v1.6.1"
# The vendored files as released upstream (tests/deploy/schemas/gateway-api-v1.6.1/README.md).
PINNED: Final = {
    GATEWAY_API / "gateway.networking.k8s.io_httproutes.yaml": (
        "a424a0d6c953b162e71d1d97bb7e75012d8f1ac264e7274f2763d1b96ab39852"
    ),
    GATEWAY_API / "gateway.networking.k8s.io_gateways.yaml": (
        "25b885f5870b8fff1ae82efa2628b2761cef3745900c2aecf8fb76629a01255a"
    ),
}
# The Kubernetes version whose ObjectMeta schema checks a custom resource's metadata.
METADATA_VERSION: Final = "1.32.0"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def _crds() -> dict[tuple[str, str], Obj]:
    """(group, kind) -> CRD, of every vendored CRD."""
    found = {}
    for path in PINNED:
        crd = yaml.safe_load(path.read_text())
        found[(crd["spec"]["group"], crd["spec"]["names"]["kind"])] = crd
    return found


def is_vendored(obj: Obj) -> bool:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return (group, obj.get("kind")) in _crds()


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the known ones (what the API server prunes)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tightened = {key: strict(value) for key, value in schema.items()}
    if "properties" in schema:
        # A property *named* like a keyword (e.g. "items") was tightened as a schema above: the names stay as is.
        tightened["properties"] = {name: strict(value) for name, value in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            tightened["additionalProperties"] = False
    return tightened


@cache
def _validator(group: str, kind: str, version: str) -> jsonschema.Draft4Validator:
    crd = _crds()[(group, kind)]
    served = [v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served")]
    assert served, f"{kind}: version {version} is not served by the vendored CRD"
    schema = copy.deepcopy(served[0]["schema"]["openAPIV3Schema"])
    # CRD schemas are OpenAPI 3.0 schemas: JSON Schema draft 4 plus Kubernetes' x- extensions (ignored here).
    return jsonschema.Draft4Validator(strict(schema))


def crd_errors(obj: Obj) -> list[str]:
    """Schema errors of a custom resource of a vendored CRD (spec strictly, metadata as ObjectMeta)."""
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    label = f"{obj['kind']} {obj.get('metadata', {}).get('name')}"
    errors = [
        f"{label}: {'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in _validator(group, str(obj["kind"]), version).iter_errors(obj)
    ]
    # The CRD says only "metadata: object": check it as the ObjectMeta it is, through a kind that has one.
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    try:
        kubernetes_validate.validate(carrier, METADATA_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        errors.append(f"{label}: metadata: {exc.message}")
    return errors
