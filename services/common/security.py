"""Kafka client security from the environment: SASL/PLAIN credentials for a service's principal.

`QM_KAFKA_SECURITY_PROTOCOL` is PLAINTEXT (default), SASL_PLAINTEXT or SASL_SSL; the SASL protocols
need `QM_KAFKA_SASL_USERNAME` and `QM_KAFKA_SASL_PASSWORD`. A username without a protocol means
SASL_PLAINTEXT. The same object configures the FastStream broker (`KafkaBroker(security=...)`) and,
through `aiokafka_security_kwargs`, the direct aiokafka admin, consumer and producer clients.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any

from faststream.kafka.security import parse_security
from faststream.security import SASLPlaintext

PROTOCOL_ENV = "QM_KAFKA_SECURITY_PROTOCOL"
USERNAME_ENV = "QM_KAFKA_SASL_USERNAME"
PASSWORD_ENV = "QM_KAFKA_SASL_PASSWORD"  # noqa: S105 - the variable's name, not a password

PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")


class SecurityConfigError(ValueError):
    """The Kafka security environment variables do not make a usable configuration."""


def kafka_security(env: Mapping[str, str] | None = None) -> SASLPlaintext | None:
    """The SASL/PLAIN security for the configured principal, or None for a plaintext broker."""
    env = os.environ if env is None else env
    username = env.get(USERNAME_ENV, "")
    password = env.get(PASSWORD_ENV, "")
    protocol = env.get(PROTOCOL_ENV, "").strip().upper() or (
        "SASL_PLAINTEXT" if username else "PLAINTEXT"
    )
    if protocol not in PROTOCOLS:
        raise SecurityConfigError(
            f"{PROTOCOL_ENV}={protocol!r} is not supported; use one of {', '.join(PROTOCOLS)}"
        )
    if protocol == "PLAINTEXT":
        if username or password:
            raise SecurityConfigError(
                f"{USERNAME_ENV}/{PASSWORD_ENV} are set but {PROTOCOL_ENV} is PLAINTEXT; "
                "set it to SASL_PLAINTEXT or SASL_SSL, or unset the credentials"
            )
        return None
    if not username or not password:
        raise SecurityConfigError(
            f"{PROTOCOL_ENV}={protocol} needs {USERNAME_ENV} and {PASSWORD_ENV} "
            "(the service's Kafka principal and its password)"
        )
    if protocol == "SASL_SSL":
        return SASLPlaintext(
            username, password, ssl_context=ssl.create_default_context(), use_ssl=True
        )
    return SASLPlaintext(username, password)


def aiokafka_security_kwargs(security: SASLPlaintext | None) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaAdminClient/Consumer/Producer matching FastStream's own."""
    if security is None:
        return {}
    kwargs = parse_security(security)
    if kwargs.get("ssl_context") is None:
        kwargs.pop("ssl_context", None)
    return kwargs
