"""Kafka client security from the settings: SASL/PLAIN credentials for a service's principal.

The values come from `CommonSettings` (services.common.settings), which reads and validates them:
`QM_KAFKA_SECURITY_PROTOCOL` is PLAINTEXT (default), SASL_PLAINTEXT or SASL_SSL; the SASL protocols
need `QM_KAFKA_SASL_USERNAME` and `QM_KAFKA_SASL_PASSWORD`. A username without a protocol means
SASL_PLAINTEXT. The same object configures the FastStream broker (`KafkaBroker(security=...)`) and,
through `aiokafka_security_kwargs`, the direct aiokafka admin, consumer and producer clients.

Over SASL_SSL the broker's certificate is verified, hostname included, against the PEM CA file
`QM_KAFKA_SSL_CAFILE` (deploy/kafka/kafka.sh writes its local CA to <state dir>/tls/ca.pem), or the
system trust store when unset. A CA file with any other protocol is refused: it would read as if
the connection were encrypted when it is not.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any

from faststream.kafka.security import parse_security
from faststream.security import SASLPlaintext
from pydantic import ValidationError

from services.common.settings import CommonSettings, describe_errors

PROTOCOL_ENV = "QM_KAFKA_SECURITY_PROTOCOL"
USERNAME_ENV = "QM_KAFKA_SASL_USERNAME"
PASSWORD_ENV = "QM_KAFKA_SASL_PASSWORD"  # noqa: S105 - the variable's name, not a password
CAFILE_ENV = "QM_KAFKA_SSL_CAFILE"

# What a caller may pass: the settings it runs with, an environment mapping read the same way
# (one principal's client among several, as the ACL tests need), or None for this process's.
Source = CommonSettings | Mapping[str, str] | None


class SecurityConfigError(ValueError):
    """The Kafka security settings do not make a usable configuration."""


def _settings(source: Source) -> CommonSettings:
    if isinstance(source, CommonSettings):
        return source
    try:
        return CommonSettings() if source is None else CommonSettings.from_env(source)
    except ValidationError as err:
        raise SecurityConfigError(describe_errors(err)) from None


def _protocol(settings: CommonSettings) -> str:
    protocol = settings.kafka_security_protocol  # validated, and inferred when unset
    if settings.kafka_ssl_cafile and protocol != "SASL_SSL":
        raise SecurityConfigError(
            f"{CAFILE_ENV} is set but {PROTOCOL_ENV} is {protocol}, which does not use TLS; "
            f"set {PROTOCOL_ENV}=SASL_SSL, or unset {CAFILE_ENV}"
        )
    return protocol


def tls_context(source: Source = None) -> ssl.SSLContext | None:
    """The verifying TLS context for SASL_SSL (CA file or system trust), None without TLS."""
    settings = _settings(source)
    if _protocol(settings) != "SASL_SSL":
        return None
    cafile = settings.kafka_ssl_cafile
    if cafile and not os.path.isfile(cafile):
        raise SecurityConfigError(
            f"{CAFILE_ENV}={cafile} is not a file; point it at the PEM certificate of the CA that "
            "signed the broker's certificate (local SASL broker: <state dir>/tls/ca.pem, made "
            "by `QM_KAFKA_SASL=1 deploy/kafka/kafka.sh start`)"
        )
    try:
        # create_default_context verifies the chain and the hostname (CERT_REQUIRED).
        return ssl.create_default_context(cafile=cafile or None)
    except ssl.SSLError as err:
        raise SecurityConfigError(
            f"{CAFILE_ENV}={cafile} holds no usable PEM CA certificate ({err}); "
            "export the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)"
        ) from err


def kafka_security(source: Source = None) -> SASLPlaintext | None:
    """The SASL/PLAIN security for the configured principal, or None for a plaintext broker."""
    settings = _settings(source)
    username = settings.kafka_sasl_username
    password = settings.kafka_sasl_password.get_secret_value()  # handed to the Kafka client
    protocol = _protocol(settings)
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
    context = tls_context(settings)
    if context is not None:
        return SASLPlaintext(username, password, ssl_context=context, use_ssl=True)
    return SASLPlaintext(username, password)


def aiokafka_security_kwargs(security: SASLPlaintext | None) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaAdminClient/Consumer/Producer matching FastStream's own."""
    if security is None:
        return {}
    kwargs = parse_security(security)
    if kwargs.get("ssl_context") is None:
        kwargs.pop("ssl_context", None)
    return kwargs
