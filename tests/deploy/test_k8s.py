"""The Kubernetes manifests in k8s/ describe a platform that would start: every service probed
and limited, each with its own database and role, every topic declared, and each service's
environment a valid *production* configuration by the services' own settings classes."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import text

from deploy.settings_table import settings_classes
from services.dispatch.config import new_vapid_private_key
from services.geo.audience.consumers import AUDIENCE_GROUP, audience_consumer
from services.geo.config import GeoSettings
from shared.db import build_engine
from shared.events import Topic
from shared.kafka import namespaced
from tests.support.infrastructure import Infrastructure

K8S = Path(__file__).resolve().parents[2] / "k8s"
SERVICES = ("identity", "alerts", "geo", "dispatch", "gateway")
DATABASE_SERVICES = ("identity", "alerts", "geo", "dispatch")
PARTITIONS = 12
# Variables that are not Tawny settings: the parts a database URL is built from, and
# uvicorn's own list of proxies it believes X-Forwarded-For from.
NOT_SETTINGS = {"DATABASE_PASSWORD", "FORWARDED_ALLOW_IPS"}
_REFERENCE = re.compile(r"\$\(([A-Z_][A-Z0-9_]*)\)")


def manifests() -> Iterator[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((K8S / resource).read_text()):
            if document:
                yield document


def find(kind: str, name: str) -> dict[str, Any]:
    for document in manifests():
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind} {name} in k8s/")


def container(service: str) -> dict[str, Any]:
    pod = find("Deployment", service)["spec"]["template"]["spec"]
    (main,) = pod["containers"]
    return main  # type: ignore[no-any-return]


def fake_secret(name: str, key: str) -> str:
    """A well-formed stand-in for what an operator stores in the Secret."""
    raw_key = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
    if key == "data-keys":
        return f"k8s-test:{raw_key}"
    if key == "blind-index-key":
        return raw_key
    if key == "vapid-private-key":
        return new_vapid_private_key()
    return f"{name}-{key}-value"


def environment_of(service: str) -> dict[str, str]:
    """The variables the service's container starts with, as Kubernetes would expand them."""
    config = find("ConfigMap", "tawny-platform")["data"]
    env: dict[str, str] = {key: str(value) for key, value in config.items()}
    for variable in container(service).get("env", []):
        if "resourceFieldRef" in variable.get("valueFrom", {}):
            value = "1"  # what the downward API gives for a request of up to one CPU
        elif "valueFrom" in variable:
            secret = variable["valueFrom"]["secretKeyRef"]
            value = fake_secret(secret["name"], secret["key"])
        else:
            value = _REFERENCE.sub(lambda match: env[match.group(1)], str(variable["value"]))
        env[variable["name"]] = value
    return env


def test_the_kustomization_lists_every_manifest_file() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    on_disk = {
        str(path.relative_to(K8S))
        for path in K8S.rglob("*.yaml")
        if path.relative_to(K8S).parts[0] != "components"  # optional parts, enabled by choice
    }
    assert on_disk - {"kustomization.yaml"} == listed


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_probed_limited_and_unprivileged(service: str) -> None:
    deployment = find("Deployment", service)
    pod = deployment["spec"]["template"]["spec"]
    main = container(service)
    assert main["image"] == "tawny"
    assert f"services.{service}.app:create_app" in main["command"]
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    service_object = find("Service", service)
    assert service_object["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_a_worker_per_cpu_it_requests(service: str) -> None:
    (workers,) = [v for v in container(service)["env"] if v["name"] == "WEB_CONCURRENCY"]
    field = workers["valueFrom"]["resourceFieldRef"]
    assert (field["resource"], field["divisor"]) == ("requests.cpu", "1")


@pytest.mark.parametrize("service", DATABASE_SERVICES)
def test_each_service_migrates_and_uses_only_its_own_database(service: str) -> None:
    pod = find("Deployment", service)["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    assert migrate["command"][:5] == ["python", "-m", "shared.migrations", service, "upgrade"]
    url = environment_of(service)[f"{service.upper()}_DATABASE_URL"]
    assert url.startswith(f"postgresql://{service}:")
    assert url.endswith(f"/{service}")
    database = find("Database", service)["spec"]
    assert (database["name"], database["owner"]) == (service, service)


def test_the_gateway_is_the_only_service_exposed() -> None:
    (ingress,) = [doc for doc in manifests() if doc["kind"] == "Ingress"]
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    assert all(
        doc["spec"].get("type", "ClusterIP") == "ClusterIP"
        for doc in manifests()
        if doc["kind"] == "Service"
    )


def test_every_topic_is_declared_with_the_partition_count() -> None:
    topics = {
        doc["spec"]["topicName"]: doc["spec"]["partitions"]
        for doc in manifests()
        if doc["kind"] == "KafkaTopic"
    }
    namespace = find("ConfigMap", "tawny-platform")["data"]["KAFKA_NAMESPACE"]
    assert topics == {namespaced(topic.value, namespace): PARTITIONS for topic in Topic}
    assert find("ConfigMap", "tawny-platform")["data"]["KAFKA_ENABLE_IDEMPOTENCE"] == "true"


def test_dispatchers_scale_on_due_deliveries_up_to_the_partition_count() -> None:
    scaler = find("ScaledObject", "dispatch")["spec"]
    assert scaler["scaleTargetRef"]["name"] == "dispatch"
    assert 1 < scaler["minReplicaCount"] <= scaler["maxReplicaCount"] <= PARTITIONS
    [trigger] = scaler["triggers"]
    assert trigger["type"] == "postgresql"
    assert trigger["metadata"]["dbName"] == "dispatch"
    authentication = find("TriggerAuthentication", trigger["authenticationRef"]["name"])
    [secret] = authentication["spec"]["secretTargetRef"]
    assert secret["name"] == "tawny-db-dispatch"


@pytest.fixture
def dispatch_database_url(infrastructure: Infrastructure) -> str:
    return infrastructure.fresh_database("dispatch")


async def test_the_dispatch_scalers_query_counts_due_deliveries_on_the_real_schema(
    dispatch_database_url: str,
) -> None:
    """KEDA runs the query against dispatch's database: it must fit the schema the migrations
    build, and count what is due or being sent, not what waits for later or is done."""
    [trigger] = find("ScaledObject", "dispatch")["spec"]["triggers"]
    engine = build_engine(dispatch_database_url, application_name="k8s-test")
    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    rows = [
        ("created", -minute),
        ("sending", -minute),
        ("created", hour),  # a retry, due later
        ("sent", -minute),
        ("pending", -minute),
    ]
    try:
        async with engine.begin() as connection:
            alert_id = uuid.uuid4()
            for status, due_in in rows:
                await connection.execute(
                    text(
                        "INSERT INTO deliveries (id, alert_id, member_id, channel, status, "
                        "next_attempt_at, sent_at) VALUES (:id, :alert, :member, 'email', "
                        ":status, now() + :due_in, "
                        "CASE WHEN :sent THEN now() END)"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "alert": alert_id,
                        "member": uuid.uuid4(),
                        "status": status,
                        "due_in": due_in,
                        "sent": status == "sent",
                    },
                )
            due_now = await connection.scalar(text(trigger["metadata"]["query"]))
        assert due_now == 2
    finally:
        await engine.dispose()


def test_geo_scales_on_its_audience_groups_lag() -> None:
    scaler = find("ScaledObject", "geo")["spec"]
    assert scaler["scaleTargetRef"]["name"] == "geo"
    assert 1 < scaler["minReplicaCount"] <= scaler["maxReplicaCount"] <= PARTITIONS
    [trigger] = scaler["triggers"]
    assert trigger["type"] == "kafka"
    namespace = find("ConfigMap", "tawny-platform")["data"]["KAFKA_NAMESPACE"]
    assert trigger["metadata"]["consumerGroup"] == namespaced(AUDIENCE_GROUP, namespace)
    [topic] = audience_consumer(GeoSettings()).topics
    assert trigger["metadata"]["topic"] == namespaced(topic, namespace)
    assert (
        trigger["metadata"]["bootstrapServers"]
        == (find("ConfigMap", "tawny-platform")["data"]["KAFKA_BOOTSTRAP_SERVERS"])
    )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_without_keda_the_component_puts_a_cpu_autoscaler_in_place(tmp_path: Path) -> None:
    relative = Path(os.path.relpath(K8S, tmp_path))
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [str(relative)],
                "components": [str(relative / "components" / "cpu-autoscaling")],
            }
        )
    )
    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    kinds = [document["kind"] for document in yaml.safe_load_all(built) if document]
    assert "ScaledObject" not in kinds and "TriggerAuthentication" not in kinds
    assert kinds.count("HorizontalPodAutoscaler") == 1
    assert kinds.count("Deployment") == len(SERVICES)


def known_variables(service: str) -> set[str]:
    settings = dict(settings_classes())[service]
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names.add(str(choices[0]))
        else:
            names.add(f"{settings.model_config.get('env_prefix', '')}{name}".upper())
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_a_deployment_sets_is_a_setting_its_service_reads(service: str) -> None:
    explicit = {variable["name"] for variable in container(service).get("env", [])}
    unknown = explicit - known_variables(service) - NOT_SETTINGS
    assert not unknown, f"{service} is given variables it does not read: {sorted(unknown)}"


@pytest.mark.parametrize("service", DATABASE_SERVICES)
def test_every_platform_variable_is_read_by_every_service_with_a_database(service: str) -> None:
    platform = set(find("ConfigMap", "tawny-platform")["data"])
    assert platform <= known_variables(service)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_environment_is_a_valid_production_configuration(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment_of(service)
    assert env["TAWNY_ENV"] == "production"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = dict(settings_classes())[service]
    try:
        settings()
    except ValidationError as error:  # pragma: no cover - the message is the point
        pytest.fail(f"{service}'s manifest is not a valid production configuration: {error}")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_manifests() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True
    ).stdout
    assert "image: ghcr.io/tawny-london/tawny:0.1.0" in built
    assert "namespace: tawny" in built


def _ingress_routes(path: str) -> bool:
    """Whether the Ingress sends ``path`` to the gateway (Kubernetes' Exact and Prefix rules:
    a prefix matches whole path elements only)."""
    (ingress,) = [doc for doc in manifests() if doc["kind"] == "Ingress"]
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            routed, kind = entry["path"], entry["pathType"]
            if kind == "Exact" and path == routed:
                return True
            if kind == "Prefix" and (path == routed or path.startswith(routed.rstrip("/") + "/")):
                return True
    return False


def test_the_ingress_routes_the_gateways_public_paths_and_not_its_operational_ones() -> None:
    from services.gateway.app import create_app
    from services.gateway.config import GatewaySettings

    operational = {"/metrics", "/healthz", "/readyz"}
    gateway_paths = set(create_app(GatewaySettings()).openapi()["paths"]) | {"/docs"}
    assert operational <= gateway_paths
    for path in gateway_paths - operational:
        example = path.replace("{service}", "alerts").replace("{path}", "x/y")
        assert _ingress_routes(example), path
    for path in operational:
        assert not _ingress_routes(path), path
        assert not _ingress_routes(path + "/"), path
