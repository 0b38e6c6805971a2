"""deploy/k8s, checked structurally (no cluster here): the gate pins the administrator key from a
read-only mount, and every service reaches Kafka over SASL_SSL with the mounted CA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.settings import CommonSettings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
SERVICES = ("parser", "planner", "gate")


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def find(kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def container(service: str) -> dict[str, Any]:
    [only] = find("Deployment", f"qm-{service}")["spec"]["template"]["spec"]["containers"]
    return dict(only)


def volumes(service: str) -> dict[str, dict[str, Any]]:
    spec = find("Deployment", f"qm-{service}")["spec"]["template"]["spec"]
    return {v["name"]: v for v in spec.get("volumes", [])}


def mounts(service: str) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container(service).get("volumeMounts", [])}


def env(service: str) -> dict[str, Any]:
    """The container's environment: its ConfigMaps first, then its own env entries."""
    out: dict[str, Any] = {}
    for ref in container(service).get("envFrom", []):
        out |= find("ConfigMap", ref["configMapRef"]["name"])["data"]
    for entry in container(service).get("env", []):
        out[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return out


def test_every_file_is_in_the_kustomization() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_gate_pins_the_admin_key_from_a_read_only_configmap() -> None:
    anchor = env("gate")["QM_ADMIN_PUBLIC_KEY"]
    assert anchor == "/etc/qm/anchor/admin.pub"
    mount = mounts("gate")[str(Path(anchor).parent)]
    assert mount["readOnly"] is True
    volume = volumes("gate")[mount["name"]]
    assert volume["configMap"]["name"] == "qm-trust-anchor"
    assert volume["configMap"]["items"] == [{"key": "admin.pub", "path": Path(anchor).name}]
    assert volume["configMap"]["defaultMode"] == 0o444
    # The container cannot write anywhere else either.
    security = container("gate")["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False


def test_the_parser_checks_safety_reviews_against_the_same_store_and_anchor() -> None:
    anchor = env("parser")["QM_ADMIN_PUBLIC_KEY"]
    assert anchor == env("gate")["QM_ADMIN_PUBLIC_KEY"]
    mount = mounts("parser")[str(Path(anchor).parent)]
    assert mount["readOnly"] is True
    assert volumes("parser")[mount["name"]]["configMap"]["name"] == "qm-trust-anchor"
    trust = mounts("parser")["/var/lib/qm/trust"]
    assert trust["readOnly"] is True
    assert volumes("parser")[trust["name"]]["secret"]["secretName"] == "qm-trust"


def test_the_gate_reads_the_anchor_setting_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """QM_ADMIN_PUBLIC_KEY reaches the settings the gate loads (not a name nobody reads)."""
    monkeypatch.setenv("QM_ADMIN_PUBLIC_KEY", "/etc/qm/anchor/admin.pub")
    fields = CommonSettings.model_fields
    [field] = [
        name
        for name, info in fields.items()
        if info.validation_alias is not None
        and "QM_ADMIN_PUBLIC_KEY" in getattr(info.validation_alias, "choices", ())
    ]
    assert str(getattr(CommonSettings(), field)) == "/etc/qm/anchor/admin.pub"


def test_the_gate_still_mounts_its_trust_store_read_only() -> None:
    mount = mounts("gate")["/var/lib/qm"]
    assert mount["readOnly"] is True
    assert volumes("gate")[mount["name"]]["secret"]["secretName"] == "qm-trust"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_uses_sasl_ssl_with_the_mounted_ca(service: str) -> None:
    variables = env(service)
    assert variables["QM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    cafile = Path(variables["QM_KAFKA_SSL_CAFILE"])
    mount = mounts(service)[str(cafile.parent)]
    assert mount["readOnly"] is True
    secret = volumes(service)[mount["name"]]["secret"]
    assert secret["secretName"] == "qm-kafka-ca"
    assert secret["items"] == [{"key": "ca.pem", "path": cafile.name}]
    # Its own principal, with the password from a Secret, never a literal.
    assert variables["QM_KAFKA_SASL_USERNAME"] == {
        "secretKeyRef": {"name": f"qm-kafka-{service}", "key": "username"}
    }
    assert variables["QM_KAFKA_SASL_PASSWORD"] == {
        "secretKeyRef": {"name": f"qm-kafka-{service}", "key": "password"}
    }


def test_the_lag_scaler_reads_kafka_over_tls_as_the_admin_principal() -> None:
    [trigger] = find("ScaledObject", "qm-parser")["spec"]["triggers"]
    assert trigger["metadata"]["tls"] == "enable" and trigger["metadata"]["sasl"] == "plaintext"
    auth = find("TriggerAuthentication", trigger["authenticationRef"]["name"])
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "username": ("qm-kafka-admin", "username"),
        "password": ("qm-kafka-admin", "password"),
        "ca": ("qm-kafka-ca", "ca.pem"),
    }


def test_no_password_or_key_is_written_into_the_manifests() -> None:
    for doc in documents():
        assert doc["kind"] != "Secret", "secrets are created with kubectl, not kept in git"
        if doc["kind"] == "ConfigMap":
            assert not any("PASSWORD" in k for k in doc.get("data", {})), doc["metadata"]["name"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_runs_as_a_deployment_that_refuses_local_only_settings(service: str) -> None:
    assert env(service)["QM_ENVIRONMENT"] == "deployment"
