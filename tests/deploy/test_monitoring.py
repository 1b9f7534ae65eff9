"""The dashboard and the alert rules in k8s/monitoring/ read metrics the platform really exports,
with labels those metrics really have, and every rule links a runbook paragraph that exists."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import services
import shared

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "k8s" / "monitoring"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
RUNBOOK_BASE = "https://github.com/tawny-london/tawny/blob/main/docs/runbooks.md#"
# Labels Prometheus adds when it scrapes (k8s/monitoring/podmonitor.yaml), not the code.
SCRAPE_LABELS = {"app", "namespace", "pod", "job", "instance", "le"}
# Dispatch's backlog gauges and publish-to-send histogram are written on the dispatch branch
# (issue 18, item 2) under these names. Once it is merged they are in the code, this test says
# so, and the set must go.
_METRIC = re.compile(r"\btawny_[a-z0-9_]+")
_SELECTOR = re.compile(r"\b(tawny_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def exported_metrics() -> dict[str, set[str]]:
    """Every series name the code can export (``x_total``, ``x_bucket``...) and its labels,
    from Prometheus' registry once every module of services/ and shared/ is imported."""
    for package in (services, shared):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)
    metrics: dict[str, set[str]] = {}
    # The registry keeps no public map from series names to their collectors.
    for name, collector in REGISTRY._names_to_collectors.items():
        if name.startswith("tawny_"):
            metrics[name] = set(getattr(collector, "_labelnames", ()))
    return metrics


def series_names(metric: str, labels: set[str]) -> dict[str, set[str]]:
    """A histogram's or gauge's series names, for the names the dispatch branch will add."""
    if metric.endswith("_seconds"):
        return {f"{metric}{suffix}": labels for suffix in ("_bucket", "_count", "_sum")}
    return {metric: labels}


def expressions() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every query of the dashboard and every rule."""
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable["definition"]
    for group in rules()["spec"]["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule['alert']}", rule["expr"]


def rules() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((MONITORING / "rules.yaml").read_text())
    return document


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


class TestMetricsNamedExist:
    def test_every_metric_in_the_dashboard_and_rules_is_exported_by_the_code(self) -> None:
        exported = exported_metrics()
        unknown = {
            (where, name)
            for where, expression in expressions()
            for name in _METRIC.findall(expression)
            if name not in exported
        }
        assert not unknown

    def test_every_label_matched_is_a_label_of_the_metric(self) -> None:
        known = exported_metrics()
        wrong = {
            (where, metric, label)
            for where, expression in expressions()
            for metric, matchers in _SELECTOR.findall(expression)
            for label in _MATCHER.findall(matchers)
            if label not in known.get(metric, set()) | SCRAPE_LABELS
        }
        assert not wrong


def test_every_metric_of_the_code_is_in_architectures_table() -> None:
    exported_metrics()  # imports every module, so every metric is registered
    families = {
        f"{family.name}_total" if family.type == "counter" else family.name
        for family in REGISTRY.collect()
        if family.name.startswith("tawny_")
    }
    table = {
        match.group(1)
        for match in re.finditer(r"^\| `(tawny_[a-z0-9_]+)` \|", ARCHITECTURE.read_text(), re.M)
    }
    assert families <= table
    assert table == families


class TestRules:
    @pytest.mark.parametrize(
        "rule",
        [rule for group in rules()["spec"]["groups"] for rule in group["rules"]],
        ids=lambda rule: str(rule["alert"]),
    )
    def test_each_rule_links_a_runbook_paragraph_that_exists(self, rule: dict[str, Any]) -> None:
        headings = {
            github_anchor(line.removeprefix("## "))
            for line in RUNBOOKS.read_text().splitlines()
            if line.startswith("## ")
        }
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_BASE)
        assert url.removeprefix(RUNBOOK_BASE) in headings
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]

    def test_the_rules_cover_what_an_operator_is_woken_for(self) -> None:
        names = {rule["alert"] for group in rules()["spec"]["groups"] for rule in group["rules"]}
        assert names == {
            "TawnyDeliveriesBacklogGrowing",
            "TawnyDeadLetters",
            "TawnyProviderFailureRate",
            "TawnyConsumerStalled",
            "TawnyOutboxStuck",
        }


class TestDashboard:
    def test_the_dashboard_is_provisioned_for_grafanas_sidecar(self) -> None:
        kustomization = yaml.safe_load((ROOT / "k8s" / "kustomization.yaml").read_text())
        (generator,) = kustomization["configMapGenerator"]
        assert generator["options"]["labels"]["grafana_dashboard"] == "1"
        assert generator["files"] == ["tawny-alert-path.json=monitoring/dashboard.json"]

    def test_every_panel_reads_the_chosen_prometheus_and_has_a_unique_id(self) -> None:
        dashboard = json.loads((MONITORING / "dashboard.json").read_text())
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}"
                assert panel["description"]

    def test_each_channel_has_its_row(self) -> None:
        dashboard = json.loads((MONITORING / "dashboard.json").read_text())
        (repeated,) = [panel for panel in dashboard["panels"] if panel.get("repeat")]
        assert repeated["repeat"] == "channel"
        channel = next(v for v in dashboard["templating"]["list"] if v["name"] == "channel")
        assert channel["includeAll"] and channel["multi"]
