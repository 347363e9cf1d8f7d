"""deploy/observability/ (issue 19), offline: the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`: input series, expected alerts; every alert fires in one case and stays silent in another);
the PrometheusRule holds exactly the plain file's rules and is a valid custom resource; every metric a rule or a
dashboard panel reads is one the product exports (read from the metrics module's registry); the Grafana dashboard
parses, its panels have unique ids, a templated Prometheus datasource, valid PromQL and places on the grid that do
not overlap. Debian's `prometheus` package provides promtool (.ci/run installs it); without it these fail."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from scheduler_core.observability.metrics import ROLES, Metrics, SchedulerState
from scripts.prometheus_rule import prometheus_rule
from tests.deploy.support import REPO, Obj, kind_of, name_of
from tests.deploy.test_kubernetes_schemas import KUBERNETES_VERSIONS

OBSERVABILITY: Final = REPO / "deploy/observability"
RULES: Final = OBSERVABILITY / "alerts.rules.yaml"
RULE_TESTS: Final = OBSERVABILITY / "alerts.test.yaml"
PROMETHEUS_RULE: Final = OBSERVABILITY / "prometheusrule.yaml"
DASHBOARD: Final = OBSERVABILITY / "grafana-dashboard.json"
README: Final = REPO / "README.md"
PROMTOOL_PATHS: Final = ("/usr/bin/promtool", "/usr/local/bin/promtool")

# The fields a PrometheusRule's spec, groups and rules may have (monitoring.coreos.com/v1, Prometheus Operator
# v0.7x): anything else is a typo the operator's admission webhook would refuse.
RULE_GROUP_FIELDS: Final = frozenset(
    {"name", "interval", "rules", "partial_response_strategy", "limit", "query_offset", "labels"}
)
RULE_FIELDS: Final = frozenset({"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"})

# PromQL words that are not metric names: aggregations and functions are followed by "(" and dropped anyway.
PROMQL_KEYWORDS: Final = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf"}
)
# Grafana's interval variables, replaced by a duration before promtool parses a panel's query.
GRAFANA_INTERVALS: Final = re.compile(r"\$__(rate_interval|interval|range)\b")


def promtool() -> str:
    found = shutil.which("promtool") or next((p for p in PROMTOOL_PATHS if os.access(p, os.X_OK)), None)
    assert found, "promtool is not installed: `apt-get install prometheus` (.ci/run does)"
    return found


def run_promtool(*args: str, cwd: Path = OBSERVABILITY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules() -> list[Obj]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in rules() if "alert" in rule]


def dashboard() -> Obj:
    loaded: Obj = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[Obj]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel."""
    return [(panel["title"], target["expr"]) for panel in panels() for target in panel["targets"]]


@cache
def exported_metrics() -> frozenset[str]:
    """The sample names the product's processes can export: every family of the metrics module's registry (the
    scheduler's state included), named as Prometheus scrapes them."""
    metrics = Metrics()
    metrics.set_state(SchedulerState(0.0, 0, 0.0, dict.fromkeys(ROLES, 0), queue_messages_ready=0))
    names: set[str] = set()
    for family in metrics.registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        else:
            names.add(family.name)
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label matchers, ranges, grouping
    clauses, numbers and durations, function calls and keywords are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = GRAFANA_INTERVALS.sub(" ", text)
    text = re.sub(r"\b\d[\w.]*", " ", text)  # numbers and durations (0.5, 1e3, 5m)
    words = re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\()?)", text)
    return {w[0] for w in words if w[1] is None and w[0].lower() not in PROMQL_KEYWORDS}


# --- the rules ---------------------------------------------------------------------------------------------


def test_the_rules_pass_promtool_check() -> None:
    result = run_promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_rules_pass_their_unit_tests() -> None:
    result = run_promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_catches_a_broken_rule_and_a_wrong_expectation(tmp_path: Path) -> None:
    # The checks can fail: a rule promtool refuses, and a unit test whose expected alert does not come.
    broken = tmp_path / "broken.rules.yaml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m])\n")
    assert run_promtool("check", "rules", str(broken)).returncode != 0
    wrong = tmp_path / "wrong.test.yaml"
    wrong.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(RULES)],
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": [{"series": "scheduler_missed_runs_total", "values": "0x30"}],
                        "alert_rule_test": [
                            {"eval_time": "20m", "alertname": "SchedulerRunsMissed", "exp_alerts": [{"exp_labels": {}}]}
                        ],
                    }
                ],
            }
        )
    )
    assert run_promtool("test", "rules", str(wrong), cwd=tmp_path).returncode != 0


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    cases: dict[str, list[bool]] = {}
    for test in load_yaml(RULE_TESTS)["tests"]:
        for case in test["alert_rule_test"]:
            cases.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    for name in alert_names():
        assert True in cases.get(name, []), f"{name}: no unit test expects it to fire"
        assert False in cases.get(name, []), f"{name}: no unit test expects it to stay silent"
    assert set(cases) <= set(alert_names()), "a unit test names an alert the rules do not have"


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_every_metric_the_rules_read_is_one_the_product_exports() -> None:
    read = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert read, "no metric found in the rules"
    unknown = read - exported_metrics()
    assert not unknown, f"the rules read metrics no process exports: {sorted(unknown)}"


def test_metric_names_finds_the_metrics_of_an_expression() -> None:
    expr = (
        'sum by (job_id) (increase(scheduler_job_runs_total{status=~"success|failed"}[1h])) / on (job_id) '
        "max without (instance) (rate(other_metric[$__rate_interval] offset 5m)) > bool 0.5 and absent(third)"
    )
    assert metric_names(expr) == {"scheduler_job_runs_total", "other_metric", "third"}


# --- the PrometheusRule ------------------------------------------------------------------------------------


def test_the_prometheus_rule_holds_the_rules_file_as_the_script_writes_it() -> None:
    rule = load_yaml(PROMETHEUS_RULE)
    assert rule["spec"]["groups"] == load_yaml(RULES)["groups"]
    # Text too (the comments): regenerate with `python scripts/prometheus_rule.py` after editing the rules.
    assert PROMETHEUS_RULE.read_text() == prometheus_rule(RULES.read_text())


def prometheus_rule_errors(obj: Obj) -> list[str]:
    label = f"PrometheusRule {name_of(obj)}"
    errors = []
    if obj.get("apiVersion") != "monitoring.coreos.com/v1":
        errors.append(f"{label}: apiVersion {obj.get('apiVersion')!r}")
    spec: Obj = obj.get("spec", {})
    errors += [f"{label}: unknown spec field {key!r}" for key in sorted(set(spec) - {"groups"})]
    names = [group.get("name") for group in spec.get("groups", [])]
    if len(names) != len(set(names)) or not all(names):
        errors.append(f"{label}: group names must be present and unique: {names}")
    for group in spec.get("groups", []):
        errors += [f"{label}: unknown group field {key!r}" for key in sorted(set(group) - RULE_GROUP_FIELDS)]
        for rule in group.get("rules", []):
            errors += [f"{label}: unknown rule field {key!r}" for key in sorted(set(rule) - RULE_FIELDS)]
            if ("alert" in rule) == ("record" in rule) or not isinstance(rule.get("expr"), str):
                errors.append(f"{label}: a rule needs an expr and exactly one of alert, record: {rule}")
            for field in ("labels", "annotations"):
                values = rule.get(field, {})
                if not all(isinstance(v, str) for v in values.values()):
                    errors.append(f"{label}: {field} of {rule.get('alert')} must be strings")
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    try:  # metadata is an ObjectMeta: checked through a kind that has one
        kubernetes_validate.validate(carrier, KUBERNETES_VERSIONS[0], strict=True)
    except kubernetes_validate.ValidationError as exc:
        errors.append(f"{label}: metadata: {exc.message}")
    return errors


def rendered_observability() -> list[Obj]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(OBSERVABILITY)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize deploy/observability failed:\n{result.stderr}"
    return [obj for obj in yaml.safe_load_all(result.stdout) if obj]


def test_the_kustomization_renders_a_valid_prometheus_rule_and_the_dashboards_config_map() -> None:
    objects = rendered_observability()
    assert sorted(kind_of(obj) for obj in objects) == ["ConfigMap", "PrometheusRule"]
    for obj in objects:
        if kind_of(obj) == "PrometheusRule":
            assert prometheus_rule_errors(obj) == []
            assert obj["spec"] == load_yaml(PROMETHEUS_RULE)["spec"]
        else:
            for version in KUBERNETES_VERSIONS:
                kubernetes_validate.validate(obj, version, strict=True)
            assert obj["metadata"]["labels"]["grafana_dashboard"] == "1"  # what Grafana's sidecar loads
            assert json.loads(obj["data"]["grafana-dashboard.json"]) == dashboard()


def test_the_prometheus_rule_check_catches_a_typo() -> None:
    typo = load_yaml(PROMETHEUS_RULE)
    typo["spec"]["groups"][0]["rules"][0]["fore"] = "5m"
    typo["spec"]["groups"][0]["rules"][1]["labels"] = {"severity": 1}
    errors = prometheus_rule_errors(typo)
    assert any("unknown rule field 'fore'" in error for error in errors)
    assert any("labels of" in error for error in errors)


# --- the Grafana dashboard -------------------------------------------------------------------------------


def test_the_dashboard_panels_have_unique_ids_and_queries() -> None:
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    assert all(isinstance(panel_id, int) for panel_id in ids)
    for panel in panels():
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
    assert dashboard()["uid"]
    assert dashboard()["title"]


def test_the_dashboard_datasource_is_templated() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    templated = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels():
        assert panel["datasource"] == templated, panel["title"]
        assert all(target["datasource"] == templated for target in panel["targets"]), panel["title"]


def test_every_metric_a_panel_reads_is_one_the_product_exports() -> None:
    read = {name for _, expr in panel_queries() for name in metric_names(expr)}
    unknown = read - exported_metrics()
    assert not unknown, f"the dashboard reads metrics no process exports: {sorted(unknown)}"
    # The state the alerts watch is on the dashboard too.
    watched = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert watched <= read, f"alerted on but not shown: {sorted(watched - read)}"


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses each query as a recording rule's expression (Grafana's interval variables made 5m).
    recorded = [
        {"record": f"panel_query_{number}", "expr": GRAFANA_INTERVALS.sub("5m", expr)}
        for number, (_, expr) in enumerate(panel_queries())
    ]
    path = tmp_path / "panels.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": recorded}]}))
    result = run_promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def grid_cells(panel: Obj) -> Iterator[tuple[int, int]]:
    grid = panel["gridPos"]
    for x in range(grid["x"], grid["x"] + grid["w"]):
        for y in range(grid["y"], grid["y"] + grid["h"]):
            yield x, y


def test_the_dashboard_panels_fit_the_grid_without_overlapping() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert min(grid["w"], grid["h"], grid["x"] + 1, grid["y"] + 1) > 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']!r} is wider than the grid's 24 columns"
        for cell in grid_cells(panel):
            assert cell not in taken, f"{panel['title']!r} overlaps {taken[cell]!r} at {cell}"
            taken[cell] = panel["title"]


# --- the README --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alert", alert_names())
def test_the_readme_says_what_each_alert_watches(alert: str) -> None:
    operating = README.read_text().partition("## Operating")[2].partition("\n## ")[0]
    assert f"`{alert}`" in operating, f"README's Operating section does not describe {alert}"
