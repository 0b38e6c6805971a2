"""Settings every service shares; each service subclasses with its own env prefix.

Every QM_* variable is read here or in a subclass, nowhere else: one place validates it and
`qm config` shows it. `QM_ENVIRONMENT=deployment` turns on the refusals of unsafe values
(each in the class of the setting it guards); `local`, the default, accepts the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Literal, Self, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = REPO_ROOT / "deploy" / "scenarios" / "demo.yaml"
# The shared evaluation and benchmark data always sit beside the project root.
SHARED_DIR = REPO_ROOT.parent / "shared"

PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
Environment = Literal["local", "deployment"]
S = TypeVar("S", bound="CommonSettings")

# Set only inside CommonSettings.from_env: the mapping read instead of os.environ.
_GIVEN_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("qm_given_env", default=None)


class _GivenEnvSource(EnvSettingsSource):
    """The environment source (prefixes, aliases, case rules and all) over a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env  # read by _load_env_vars, which the parent's __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class CommonSettings(BaseSettings):
    """Kafka, scenario and state settings shared by every service and the CLI."""

    # hide_input_in_errors: a refusal must not print the whole input, SASL password included.
    model_config = SettingsConfigDict(env_prefix="QM_", extra="ignore", hide_input_in_errors=True)

    environment: Environment = Field(
        default="local",
        validation_alias=AliasChoices("QM_ENVIRONMENT", "environment"),
        description="local: a laptop, defaults accepted; deployment: unsafe values refused",
    )
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
    prometheus_port: int = Field(
        default=19090,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("QM_PROMETHEUS_PORT", "prometheus_port"),
        description="the local Prometheus of deploy/prometheus, which `qm status` asks",
    )
    # Read by services.common.security for every Kafka client.
    kafka_security_protocol: Literal["", "PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="",
        validation_alias=AliasChoices("QM_KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol"),
        description="PLAINTEXT, SASL_PLAINTEXT or SASL_SSL; empty: SASL_PLAINTEXT when a SASL "
        "username is set, else PLAINTEXT",
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

    kafka_admin_user: str = Field(
        default="admin",
        validation_alias=AliasChoices("QM_KAFKA_ADMIN_USER", "kafka_admin_user"),
        description="the broker super user `qm acls apply` connects as",
    )
    kafka_admin_password: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("QM_KAFKA_ADMIN_PASSWORD", "kafka_admin_password"),
        description="that super user's password; read by `qm acls apply` only",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        validation_alias=AliasChoices("QM_LOG_LEVEL", "log_level"),
        description="service log level",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "quartermaster",
        validation_alias=AliasChoices("QM_CACHE_DIR", "cache_dir"),
        description="downloads and builds kept between runs (models, Kafka jars, the C search)",
    )

    trust_anchor: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("QM_ADMIN_PUBLIC_KEY", "trust_anchor"),
        description="the administrator public key the gate and parser pin, on a read-only mount "
        "(default <state_dir>/anchor/admin.pub, made read-only by `qm keys admin-init`)",
    )

    @field_validator("kafka_security_protocol", mode="before")
    @classmethod
    def _known_protocol(cls, value: object) -> object:
        # Written by hand in env files: sasl_ssl and stray spaces mean SASL_SSL.
        if not isinstance(value, str):
            return value
        protocol = value.strip().upper()
        if protocol and protocol not in PROTOCOLS:
            raise ValueError(
                f"QM_KAFKA_SECURITY_PROTOCOL={value!r} is not supported; "
                f"use one of {', '.join(PROTOCOLS)}"
            )
        return protocol

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("cache_dir")
    @classmethod
    def _home_expanded(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _effective_protocol(self) -> Self:
        # A username alone means the local SASL broker; the effective value is what is shown.
        if not self.kafka_security_protocol:
            self.kafka_security_protocol = (
                "SASL_PLAINTEXT" if self.kafka_sasl_username else "PLAINTEXT"
            )
        return self

    @model_validator(mode="after")
    def _deployment_kafka_is_encrypted(self) -> Self:
        if self.environment == "deployment" and self.kafka_security_protocol != "SASL_SSL":
            raise ValueError(
                f"QM_ENVIRONMENT=deployment refuses QM_KAFKA_SECURITY_PROTOCOL="
                f"{self.kafka_security_protocol}: orders and signatures would cross the network "
                "in clear; set QM_KAFKA_SECURITY_PROTOCOL=SASL_SSL (with QM_KAFKA_SASL_USERNAME, "
                "QM_KAFKA_SASL_PASSWORD and QM_KAFKA_SSL_CAFILE), or QM_ENVIRONMENT=local"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, or only a given mapping inside `from_env`."""
        given = _GIVEN_ENV.get()
        if given is None:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        return init_settings, _GivenEnvSource(settings_cls, given)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """Settings read from `env` as if it were the whole environment (os.environ unread):
        one principal's Kafka client among several, or a test that must not see the shell's."""
        with _given_env(env):
            return cls()

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


@contextmanager
def _given_env(env: Mapping[str, str]) -> Iterator[None]:
    token = _GIVEN_ENV.set(env)
    try:
        yield
    finally:
        _GIVEN_ENV.reset(token)


def describe_errors(err: ValidationError) -> str:
    """One line per invalid setting: the variable's field and what is wrong (our messages say
    what to set instead)."""
    lines = []
    for error in err.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "\n".join(lines)


def load_settings(cls: type[S]) -> S:
    """A service's settings from the environment, or exit at start saying what to change."""
    try:
        return cls()
    except ValidationError as err:
        raise SystemExit(
            f"{cls.__name__}: refusing to start with these settings:\n{describe_errors(err)}"
        ) from None
