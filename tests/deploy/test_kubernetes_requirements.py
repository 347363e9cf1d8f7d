"""What issue 7 asks of the rendered manifests beyond schema validity: hardened pods with resources, a
migration Job, two or more timekeepers, a PodDisruptionBudget per Deployment, the api reachable only from the
gateway, and executor autoscaling (KEDA in prod, a plain HPA in prod-hpa)."""

from __future__ import annotations

import pytest

from tests.deploy.support import (
    Obj,
    find,
    is_scheduler_pod,
    kind_of,
    name_of,
    one,
    overlay_names,
    pod_template,
    render,
    runtime_stage,
    scheduler_containers,
)

OVERLAYS = overlay_names()


def scheduler_workloads(objects: list[Obj]) -> list[Obj]:
    return [obj for obj in objects if (template := pod_template(obj)) is not None and is_scheduler_pod(template)]


def workload_of(overlay: str, role: str) -> Obj:
    matches = [c.workload for c in scheduler_containers(overlay) if c.role == role]
    assert len(matches) == 1, f"overlays/{overlay}: {len(matches)} {role} workloads"
    return matches[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scheduler_pods_are_hardened_and_sized(overlay: str) -> None:
    image_user = runtime_stage().last("USER") or ""
    for workload in scheduler_workloads(render(overlay)):
        label = f"overlays/{overlay}: {kind_of(workload)} {name_of(workload)}"
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"].get("runAsNonRoot") is True, label
        # The uid the image was built for (files it owns, e.g. /data), stated again for the kubelet's check.
        assert str(pod["securityContext"].get("runAsUser")) == image_user.split(":")[0], f"{label}: runAsUser"
        assert pod["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault", label
        assert pod.get("automountServiceAccountToken") is False, f"{label}: no API token needed"
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            context = container.get("securityContext", {})
            assert context.get("allowPrivilegeEscalation") is False, label
            assert context.get("readOnlyRootFilesystem") is True, label
            assert context.get("capabilities", {}).get("drop") == ["ALL"], label
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{label}: resources.{bound}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job_and_redundant_timekeepers(overlay: str) -> None:
    job = workload_of(overlay, "migrate")
    assert kind_of(job) == "Job"
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"Never", "OnFailure"}
    assert job["spec"].get("backoffLimit", 6) >= 1, "a database still starting must not fail the migration for good"
    assert workload_of(overlay, "timekeeper")["spec"].get("replicas", 1) >= 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_disruption_budget(overlay: str) -> None:
    objects = render(overlay)
    budgets = find(objects, "PodDisruptionBudget")
    for deployment in scheduler_workloads(objects):
        if kind_of(deployment) != "Deployment":
            continue
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, f"overlays/{overlay}: {name_of(deployment)} has {len(covering)} PDBs"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_and_prometheus_reach_the_api(overlay: str) -> None:
    objects = render(overlay)
    api_labels = workload_of(overlay, "api")["spec"]["template"]["metadata"]["labels"]
    policies = [
        policy
        for policy in find(objects, "NetworkPolicy")
        if policy["spec"]["podSelector"].get("matchLabels", {}).items() <= api_labels.items()
        and "matchExpressions" not in policy["spec"]["podSelector"]
    ]
    assert len(policies) == 1, f"overlays/{overlay}: {len(policies)} NetworkPolicies select the api"
    spec = policies[0]["spec"]
    assert "Ingress" in spec["policyTypes"]
    allowed = set()
    for rule in spec["ingress"]:
        assert rule.get("from"), "an ingress rule without `from` admits everyone"
        for peer in rule["from"]:
            # Both selectors in one peer: pods with the label AND in namespaces with the label.
            namespaces = peer.get("namespaceSelector", {}).get("matchLabels")
            pods = peer.get("podSelector", {}).get("matchLabels")
            assert namespaces, f"a peer without namespace labels admits every namespace: {peer}"
            assert pods, f"a peer without pod labels admits every pod of the namespace: {peer}"
            assert "ipBlock" not in peer
            allowed |= set(pods)
    assert allowed == {"jobscheduler.io/api-gateway", "jobscheduler.io/metrics-scraper"}, allowed


def test_prod_scales_executors_with_keda_and_prod_hpa_with_an_hpa() -> None:
    prod, prod_hpa = render("prod"), render("prod-hpa")
    assert len(find(prod, "ScaledObject")) == 1
    assert len(find(prod, "TriggerAuthentication")) == 1
    assert not find(prod, "HorizontalPodAutoscaler")
    assert not find(prod_hpa, "ScaledObject")
    assert not find(prod_hpa, "TriggerAuthentication")
    hpa = one(prod_hpa, "HorizontalPodAutoscaler", "jobscheduler-executor")
    assert hpa["spec"]["minReplicas"] >= 1
    # Apart from the autoscaler, prod-hpa is prod.
    autoscaling = {"ScaledObject", "TriggerAuthentication", "HorizontalPodAutoscaler"}
    assert [o for o in prod if kind_of(o) not in autoscaling] == [o for o in prod_hpa if kind_of(o) not in autoscaling]
