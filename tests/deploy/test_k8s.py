"""The Kubernetes manifests validate against the API schemas (kubernetes-validate) and fit together."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from gateway.config import load_policy
from tests.deploy.conftest import DEPLOY, missing

K8S = DEPLOY / "k8s"
VERSIONS = ("1.29.0", "1.37.0")
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def find(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def kv() -> Any:
    """The kubernetes-validate package: JSON schemas of every Kubernetes API version."""
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        missing("kubernetes-validate")
    return kubernetes_validate


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(kv: Any, version: str) -> None:
    docs = documents()
    assert {d["kind"] for d in docs} >= {"Namespace", "ConfigMap", "Deployment", "Service",
                                         "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    for doc in docs:
        kv.validate(doc, version, strict=True)


def test_the_validator_catches_a_mistake(kv: Any) -> None:
    deployment = copy.deepcopy(find("Deployment", "turnout"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_the_configmap_holds_the_deploy_policy_and_it_loads() -> None:
    policy_text = (DEPLOY / "policy" / "policy.yaml").read_text()
    data = find("ConfigMap", "turnout-policy")["data"]
    assert data["policy.yaml"] == policy_text
    assert data["policy.simulator.yaml"] == (DEPLOY / "policy" / "policy.simulator.yaml").read_text()
    policy = load_policy(DEPLOY / "policy" / "policy.yaml")
    assert policy.redis is not None and policy.redis.url_env == "TURNOUT_REDIS_URL"


def test_the_deployment_probes_mounts_and_wiring() -> None:
    deployment = find("Deployment", "turnout")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"name": "http", "containerPort": 4000, "protocol": "TCP"} in container["ports"]
    policy_mount = next(m for m in container["volumeMounts"] if m["name"] == "policy")
    assert "subPath" not in policy_mount  # a subPath mount never sees ConfigMap edits
    assert container["args"][-1] == policy_mount["mountPath"] + "/policy.yaml"
    volume = next(v for v in pod["volumes"] if v["name"] == "policy")
    assert volume["configMap"]["name"] == "turnout-policy"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "--workers" not in container["args"]
    redis_url = next(e["value"] for e in container["env"] if e["name"] == "TURNOUT_REDIS_URL")
    assert find("Service", "turnout-redis")["metadata"]["name"] in redis_url
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert find("Service", "turnout")["spec"]["selector"].items() <= labels.items()
    assert find("HorizontalPodAutoscaler", "turnout")["spec"]["scaleTargetRef"]["name"] == "turnout"
