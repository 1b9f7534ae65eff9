"""The manifests as kustomize renders them, checked against the resource schemas the cluster
would check them against: Kubernetes' own kinds with kubernetes-validate (the API's OpenAPI
schemas, strict: an unknown field is an error, as ``kubectl apply`` refuses it), KEDA's and the
Prometheus Operator's kinds with the schemas of their CRDs (cloudcoil's models, generated from
them), and Strimzi's and CloudNativePG's with hand-written subsets of theirs
(schemas/operator_subsets.yaml says why and what they cover)."""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

K8S = Path(__file__).resolve().parents[2] / "k8s"
SUBSETS = Path(__file__).resolve().parent / "schemas" / "operator_subsets.yaml"
# The oldest Kubernetes the platform supports (autoscaling/v2, policy/v1, Pod Security labels).
KUBERNETES_VERSION = "1.29"
CORE_GROUPS = {
    "v1",
    "apps/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
}


def render(directory: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    return [document for document in yaml.safe_load_all(built.stdout) if document]


@functools.cache
def rendered() -> tuple[dict[str, Any], ...]:
    """The default platform and, for its autoscaler, the variant without KEDA."""
    documents = render(K8S)
    without_keda = render_with_cpu_autoscaling()
    extra = [d for d in without_keda if d["kind"] == "HorizontalPodAutoscaler"]
    return tuple(documents + extra)


def render_with_cpu_autoscaling() -> list[dict[str, Any]]:
    overlay = K8S.parent / ".k8s-schema-check"
    shutil.rmtree(overlay, ignore_errors=True)
    overlay.mkdir()
    try:
        (overlay / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": ["../k8s"],
                    "components": ["../k8s/components/cpu-autoscaling"],
                }
            )
        )
        return render(overlay)
    finally:
        shutil.rmtree(overlay, ignore_errors=True)


def closed(schema: Any) -> Any:
    """A schema in which every object that lists its properties refuses any other, as the API
    server's strict field validation does for a structural CRD schema."""
    if isinstance(schema, dict):
        result = {key: closed(value) for key, value in schema.items()}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[str, dict[str, Any]]:
    """ "apiVersion/kind" -> JSON schema for every custom kind the manifests use."""
    # Imported here: the generated modules are large and only this test needs them.
    from cloudcoil.models.keda import v1alpha1 as keda
    from cloudcoil.models.prometheus_operator import v1 as monitoring

    generated: dict[str, type[BaseModel]] = {
        "keda.sh/v1alpha1/ScaledObject": keda.ScaledObject,
        "keda.sh/v1alpha1/TriggerAuthentication": keda.TriggerAuthentication,
        "monitoring.coreos.com/v1/PrometheusRule": monitoring.PrometheusRule,
        "monitoring.coreos.com/v1/PodMonitor": monitoring.PodMonitor,
    }
    schemas = {
        key: closed(model.model_json_schema(by_alias=True, mode="validation"))
        for key, model in generated.items()
    }
    subsets: dict[str, dict[str, Any]] = yaml.safe_load(SUBSETS.read_text())
    return schemas | subsets


def type_of(document: dict[str, Any]) -> str:
    return f"{document['apiVersion']}/{document['kind']}"


def problems(document: dict[str, Any]) -> list[str]:
    """What the cluster would refuse in ``document``, as readable lines (none: it is valid)."""
    if document["apiVersion"] in CORE_GROUPS:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [f"{'.'.join(map(str, error.path))}: {error.message}"]
        return []
    schema = crd_schemas().get(type_of(document))
    if schema is None:
        return [f"no schema for {type_of(document)}: add its CRD's"]
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def ids(document: dict[str, Any]) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"


@pytest.mark.parametrize("document", rendered(), ids=ids)
def test_every_rendered_resource_is_valid_against_its_kinds_schema(
    document: dict[str, Any],
) -> None:
    assert problems(document) == []


def test_every_kind_rendered_has_a_schema_to_check_it_against() -> None:
    custom = {type_of(d) for d in rendered() if d["apiVersion"] not in CORE_GROUPS}
    assert custom <= set(crd_schemas())
    assert {"Deployment", "ScaledObject", "KafkaTopic", "Database", "PrometheusRule"} <= {
        d["kind"] for d in rendered()
    }


class TestTheCheckRefusesWhatTheClusterWould:
    """The schemas are strict enough to matter: a misspelt or mistyped field is refused."""

    def find(self, kind: str, name: str) -> dict[str, Any]:
        document = next(
            d for d in rendered() if d["kind"] == kind and d["metadata"]["name"] == name
        )
        return copy.deepcopy(document)

    def test_a_misspelt_field_of_a_deployment(self) -> None:
        deployment = self.find("Deployment", "dispatch")
        deployment["spec"]["replica"] = 2
        assert problems(deployment)

    def test_a_keda_scaler_with_a_number_where_a_string_belongs(self) -> None:
        scaled = self.find("ScaledObject", "dispatch")
        scaled["spec"]["triggers"][0]["metadata"]["port"] = 5432
        assert problems(scaled)

    def test_a_misspelt_field_of_a_scaled_object(self) -> None:
        scaled = self.find("ScaledObject", "geo")
        scaled["spec"]["minReplicas"] = 1
        assert problems(scaled)

    def test_a_rule_without_its_expression(self) -> None:
        rules = self.find("PrometheusRule", "tawny")
        del rules["spec"]["groups"][0]["rules"][0]["expr"]
        assert problems(rules)

    def test_a_topic_with_no_partitions(self) -> None:
        topic = self.find("KafkaTopic", "identity-members-v1")
        topic["spec"]["partitions"] = 0
        assert problems(topic)

    def test_a_database_role_with_a_misspelt_field(self) -> None:
        cluster = self.find("Cluster", "tawny-postgres")
        cluster["spec"]["managed"]["roles"][0]["passwordSecrets"] = {"name": "x"}
        assert problems(cluster)
