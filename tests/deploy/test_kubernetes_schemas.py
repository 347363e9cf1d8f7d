"""Every kustomize overlay renders, and every object it renders is valid Kubernetes: checked offline and
strictly (unknown fields rejected) against the schemas bundled with kubernetes-validate. Custom resources
(KEDA's) have no bundled schema: their required fields and references are checked by hand."""

from __future__ import annotations

from collections.abc import Callable

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from kubernetes_validate.utils import SchemaNotFoundError  # type: ignore[import-untyped]

from tests.deploy.support import (
    Obj,
    config_sources,
    find,
    kind_of,
    name_of,
    overlay_names,
    render,
    secrets_example,
)

# The oldest Kubernetes minor these manifests target (also the kubectl/kustomize used here) and the newest
# kubernetes-validate bundles: an API removed or a field renamed in between fails one of the two.
KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")

# Kinds that are namespaced (everything rendered here except these) must carry the overlay's namespace.
CLUSTER_SCOPED = frozenset({"Namespace"})


def schema_errors(obj: Obj) -> list[str]:
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path) or "(top)"
            errors.append(f"{kind_of(obj)} {name_of(obj)}: Kubernetes {version}: {path}: {exc.message}")
        except SchemaNotFoundError:
            errors.append(f"{kind_of(obj)} {name_of(obj)} ({obj['apiVersion']}): no Kubernetes {version} schema")
    return errors


# --- custom resources, checked by hand ---------------------------------------------------------------------

# Fields of KEDA's v1alpha1 specs (keda.sh docs, KEDA 2.x): anything else is a typo KEDA would reject.
SCALED_OBJECT_SPEC = frozenset(
    {
        "scaleTargetRef",
        "pollingInterval",
        "cooldownPeriod",
        "initialCooldownPeriod",
        "idleReplicaCount",
        "minReplicaCount",
        "maxReplicaCount",
        "fallback",
        "advanced",
        "triggers",
    }
)
TRIGGER_AUTHENTICATION_SPEC = frozenset(
    {
        "secretTargetRef",
        "configMapTargetRef",
        "env",
        "podIdentity",
        "hashiCorpVault",
        "azureKeyVault",
        "awsSecretManager",
        "gcpSecretManager",
        "boundServiceAccountToken",
    }
)


def check_scaled_object(obj: Obj, objects: list[Obj]) -> list[str]:
    label = f"ScaledObject {name_of(obj)}"
    spec: Obj = obj.get("spec", {})
    errors = [f"{label}: unknown spec field {key!r}" for key in sorted(set(spec) - SCALED_OBJECT_SPEC)]
    target = spec.get("scaleTargetRef", {})
    if target.get("kind", "Deployment") != "Deployment" or not find(objects, "Deployment", target.get("name")):
        errors.append(f"{label}: scaleTargetRef {target} is not a Deployment of this overlay")
    low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
        errors.append(f"{label}: minReplicaCount {low!r} / maxReplicaCount {high!r}")
    triggers = spec.get("triggers")
    if not triggers:
        errors.append(f"{label}: no triggers")
    for trigger in triggers or []:
        metadata = trigger.get("metadata")
        if not trigger.get("type") or not isinstance(metadata, dict):
            errors.append(f"{label}: a trigger needs a type and a metadata map: {trigger}")
            continue
        # KEDA's trigger metadata is map[string]string: an unquoted number is rejected by the CRD.
        errors += [
            f"{label}: metadata {k}: {v!r} is not a string" for k, v in metadata.items() if not isinstance(v, str)
        ]
        auth = trigger.get("authenticationRef", {}).get("name")
        if auth is not None and not find(objects, "TriggerAuthentication", auth):
            errors.append(f"{label}: authenticationRef {auth!r} is not rendered by this overlay")
    # The HPA behaviour KEDA passes through must be a valid Kubernetes HPA behaviour: validate it in one.
    behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior")
    if behavior is not None:
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name_of(obj)},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 1, "behavior": behavior},
        }
        errors += [f"{label}: advanced.horizontalPodAutoscalerConfig.behavior: {e}" for e in schema_errors(hpa)]
    return errors


def check_trigger_authentication(obj: Obj, objects: list[Obj]) -> list[str]:
    label = f"TriggerAuthentication {name_of(obj)}"
    spec: Obj = obj.get("spec", {})
    errors = [f"{label}: unknown spec field {key!r}" for key in sorted(set(spec) - TRIGGER_AUTHENTICATION_SPEC)]
    if not spec:
        errors.append(f"{label}: empty spec")
    sources = config_sources(objects)
    for ref in spec.get("secretTargetRef", []):
        if not {"parameter", "name", "key"} <= set(ref):
            errors.append(f"{label}: secretTargetRef needs parameter, name and key: {ref}")
        elif ref["key"] not in sources.get(("Secret", ref["name"]), {}):
            errors.append(f"{label}: Secret {ref['name']} key {ref['key']} is neither rendered nor in secrets.example")
    return errors


CUSTOM_RESOURCES: dict[tuple[str, str], Callable[[Obj, list[Obj]], list[str]]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): check_scaled_object,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): check_trigger_authentication,
}

# --- tests ---------------------------------------------------------------------------------------------------


def test_the_required_overlays_exist() -> None:
    assert {"dev", "prod", "prod-hpa"} <= set(overlay_names())


@pytest.mark.parametrize("overlay", overlay_names())
def test_overlay_renders_to_valid_kubernetes_objects(overlay: str) -> None:
    objects = render(overlay)
    assert objects, f"overlays/{overlay} renders nothing"
    errors: list[str] = []
    for obj in objects:
        custom = CUSTOM_RESOURCES.get((obj.get("apiVersion", ""), obj.get("kind", "")))
        errors += custom(obj, objects) if custom else schema_errors(obj)
    assert not errors, f"overlays/{overlay}:\n" + "\n".join(errors)


@pytest.mark.parametrize("overlay", overlay_names())
def test_overlay_puts_everything_in_one_namespace_it_creates(overlay: str) -> None:
    objects = render(overlay)
    namespaces = {obj["metadata"].get("namespace") for obj in objects if kind_of(obj) not in CLUSTER_SCOPED}
    assert None not in namespaces, f"overlays/{overlay}: an object has no namespace"
    assert len(namespaces) == 1, f"overlays/{overlay}: namespaces {namespaces}"
    assert [name_of(ns) for ns in find(objects, "Namespace")] == list(namespaces)


def test_secrets_example_is_valid_kubernetes() -> None:
    errors = [error for obj in secrets_example() for error in schema_errors(obj)]
    assert not errors, "\n".join(errors)
