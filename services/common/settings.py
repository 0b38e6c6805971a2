"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = REPO_ROOT / "deploy" / "scenarios" / "demo.yaml"
# The shared evaluation and benchmark data always sit beside the project root.
SHARED_DIR = REPO_ROOT.parent / "shared"


class CommonSettings(BaseSettings):
    """Kafka, scenario and state settings shared by every service and the CLI."""

    model_config = SettingsConfigDict(env_prefix="QM_", extra="ignore")

    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "QM_KAFKA_BOOTSTRAP"),
        description="bootstrap servers; defaults to the local broker started by deploy/kafka",
    )
    partitions: int = Field(
        default=3,
        ge=1,
        le=256,
        validation_alias=AliasChoices("QM_PARTITIONS", "partitions"),
        description="partition count used when topics are created",
    )
    scenario: Path = Field(
        default=DEFAULT_SCENARIO,
        validation_alias=AliasChoices("QM_SCENARIO", "scenario"),
        description="theater scenario file (locations, catalog, fleet, operators)",
    )
    state_dir: Path = Field(
        default=REPO_ROOT / ".run",
        validation_alias=AliasChoices("QM_STATE_DIR", "state_dir"),
        description="local runtime state: trust store, keys, pids, logs",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        validation_alias=AliasChoices("QM_METRICS_HOST", "metrics_host"),
        description="address /metrics binds to; 0.0.0.0 inside containers",
    )
    # Read by services.common.security for every Kafka client; listed here so they are documented
    # and validated with the rest of the settings.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices("QM_KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol"),
    )
    kafka_ssl_cafile: str = Field(
        default="",
        validation_alias=AliasChoices("QM_KAFKA_SSL_CAFILE", "kafka_ssl_cafile"),
        description="PEM CA that signed the broker's certificate (SASL_SSL); empty: system trust",
    )
    kafka_sasl_username: str = Field(
        default="",
        validation_alias=AliasChoices("QM_KAFKA_SASL_USERNAME", "kafka_sasl_username"),
        description="this process's Kafka principal, e.g. qm-parser",
    )
    kafka_sasl_password: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("QM_KAFKA_SASL_PASSWORD", "kafka_sasl_password"),
    )
    max_message_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        validation_alias=AliasChoices("QM_MAX_MESSAGE_BYTES", "max_message_bytes"),
        description="larger payloads are dead-lettered unread",
    )

    trust_anchor: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("QM_ADMIN_PUBLIC_KEY", "trust_anchor"),
        description="the administrator public key the gate and parser pin, on a read-only mount "
        "(default <state_dir>/anchor/admin.pub, made read-only by `qm keys admin-init`)",
    )

    @property
    def trust_store(self) -> Path:
        """Operator public keys the gate trusts, as last signed by the administrator."""
        return self.state_dir / "trust" / "operators.json"

    @property
    def pending_trust_store(self) -> Path:
        """Changes to the trust store waiting for the administrator's review and signature."""
        return self.state_dir / "trust" / "operators.pending.json"

    @property
    def admin_public_key(self) -> Path:
        """The administrator public key pinned by the gate; it must sign the trust store."""
        return self.trust_anchor or self.state_dir / "anchor" / "admin.pub"

    @property
    def admin_private_key(self) -> Path:
        """The administrator's encrypted private key (local development; offline in production)."""
        return self.state_dir / "admin" / "admin.pem"
