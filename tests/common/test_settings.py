"""One way in for configuration: every variable through the settings classes, and
QM_ENVIRONMENT=deployment refusing what is only safe on a laptop, each with what to set instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from faststream.security import SASLPlaintext
from pydantic import ValidationError

from services.common.security import SecurityConfigError, aiokafka_security_kwargs, kafka_security
from services.common.settings import REPO_ROOT, CommonSettings, load_settings
from services.common.signing import TrustedKey, TrustStore
from services.gate.settings import GateSettings
from services.parser.settings import ParserSettings
from services.planner.settings import PlannerSettings

SAFE = {
    "QM_ENVIRONMENT": "deployment",
    "QM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "QM_KAFKA_SASL_USERNAME": "qm-gate",
    "QM_KAFKA_SASL_PASSWORD": "a-kafka-password",
}


def _refusal(cls: type[CommonSettings], env: dict[str, str]) -> str:
    with pytest.raises(ValidationError) as err:
        cls.from_env(env)
    return str(err.value)


def _store(path: Path, keys: int) -> Path:
    entries = {
        f"k{n}": TrustedKey(
            operator_id=f"op{n}", roles=("approver",), public_key="x", key_id=f"k{n}"
        )
        for n in range(keys)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TrustStore(keys=entries).model_dump_json())
    return path


def test_local_accepts_every_default(tmp_path: Path) -> None:
    for cls in (CommonSettings, ParserSettings, PlannerSettings):
        assert cls.from_env({}).environment == "local"
    gate = GateSettings.from_env({"QM_STATE_DIR": str(tmp_path)})  # no trust store at all
    assert not gate.trust_store.exists()
    assert PlannerSettings.from_env({"QM_PLANNER_DEDUPE": "false"}).dedupe is False


def test_from_env_reads_only_the_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QM_PARTITIONS", "9")
    monkeypatch.setenv("QM_PLANNER_METRICS_PORT", "19999")
    assert CommonSettings().partitions == 9
    assert CommonSettings.from_env({}).partitions == 3
    assert PlannerSettings.from_env({}).metrics_port == 9402
    assert PlannerSettings.from_env({"qm_planner_metrics_port": "9500"}).metrics_port == 9500


@pytest.mark.parametrize(
    "protocol",
    [
        {"QM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
        {"QM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
        {"QM_KAFKA_SECURITY_PROTOCOL": ""},  # with a username: SASL_PLAINTEXT
    ],
)
def test_deployment_refuses_kafka_without_tls(protocol: dict[str, str]) -> None:
    env = {**SAFE, **protocol}
    for cls in (CommonSettings, ParserSettings, PlannerSettings):
        message = _refusal(cls, env)
        assert "QM_ENVIRONMENT=deployment refuses QM_KAFKA_SECURITY_PROTOCOL=" in message
        assert "set QM_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in message
    assert CommonSettings.from_env(SAFE).kafka_security_protocol == "SASL_SSL"


def test_a_refusal_does_not_print_the_password() -> None:
    message = _refusal(CommonSettings, {**SAFE, "QM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"})
    assert "a-kafka-password" not in message


def test_deployment_refuses_a_planner_without_dedupe() -> None:
    message = _refusal(PlannerSettings, {**SAFE, "QM_PLANNER_DEDUPE": "false"})
    assert "QM_ENVIRONMENT=deployment refuses QM_PLANNER_DEDUPE=false" in message
    assert PlannerSettings.from_env(SAFE).dedupe is True


@pytest.mark.parametrize("environment", ["local", "deployment"])
def test_the_replay_backend_is_refused_with_where_it_went(environment: str) -> None:
    env = {**SAFE, "QM_ENVIRONMENT": environment, "QM_PARSER_BACKEND": "replay"}
    message = _refusal(ParserSettings, env)
    assert "QM_PARSER_BACKEND=replay is the load test's backend" in message
    assert "llama, openai or rules" in message
    assert ParserSettings.from_env({**SAFE, "QM_PARSER_BACKEND": "rules"}).backend == "rules"


@pytest.mark.parametrize("keys", [None, 0])
def test_deployment_refuses_a_gate_with_a_missing_or_empty_trust_store(
    tmp_path: Path, keys: int | None
) -> None:
    env = {**SAFE, "QM_STATE_DIR": str(tmp_path)}
    if keys is not None:
        _store(GateSettings.from_env(env | {"QM_ENVIRONMENT": "local"}).trust_store, keys)
    message = _refusal(GateSettings, env)
    assert "QM_ENVIRONMENT=deployment refuses an empty or missing trust store" in message
    assert str(tmp_path / "trust" / "operators.json") in message
    assert "qm keys sign-store" in message


def test_deployment_gate_starts_with_trusted_keys_and_names_an_unreadable_store(
    tmp_path: Path,
) -> None:
    env = {**SAFE, "QM_STATE_DIR": str(tmp_path)}
    store = _store(tmp_path / "trust" / "operators.json", keys=1)
    assert list(TrustStore.load(GateSettings.from_env(env).trust_store).keys) == ["k0"]
    store.write_text("{not json")
    assert f"the trust store {store} cannot be read" in _refusal(GateSettings, env)


def test_the_llm_api_key_is_a_secret() -> None:
    settings = ParserSettings.from_env({"QM_PARSER_OPENAI_API_KEY": "sk-not-for-logs"})
    assert "sk-not-for-logs" not in repr(settings) and "sk-not-for-logs" not in str(settings)
    assert settings.openai_api_key.get_secret_value() == "sk-not-for-logs"


def test_load_settings_exits_with_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SAFE, "QM_PLANNER_DEDUPE": "false"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        load_settings(PlannerSettings)
    assert "PlannerSettings: refusing to start" in str(exit_.value.code)
    assert "QM_PLANNER_DEDUPE=false" in str(exit_.value.code)


def test_a_service_refuses_to_start_with_the_message_and_no_traceback() -> None:
    env = {**os.environ, **SAFE, "QM_PLANNER_DEDUPE": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "services.planner"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "QM_ENVIRONMENT=deployment refuses QM_PLANNER_DEDUPE=false" in done.stderr
    assert "Traceback" not in done.stderr


# Security from the settings gives what the same environment gave when it was read directly.


def test_security_from_settings_equals_security_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"QM_KAFKA_SASL_USERNAME": "qm-parser", "QM_KAFKA_SASL_PASSWORD": "pw"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("QM_KAFKA_SECURITY_PROTOCOL", raising=False)
    monkeypatch.delenv("QM_KAFKA_SSL_CAFILE", raising=False)
    expected = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "qm-parser",
        "sasl_plain_password": "pw",
    }
    assert aiokafka_security_kwargs(kafka_security()) == expected  # this process's environment
    assert aiokafka_security_kwargs(kafka_security(env)) == expected  # a given environment
    settings = CommonSettings()
    assert aiokafka_security_kwargs(kafka_security(settings)) == expected  # the settings object


def test_security_follows_the_settings_object_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QM_KAFKA_SASL_USERNAME", "qm-gate")
    monkeypatch.setenv("QM_KAFKA_SASL_PASSWORD", "pw")
    security = kafka_security(CommonSettings.from_env({}))
    assert security is None  # the given settings say plaintext, whatever the shell holds
    ssl_settings = CommonSettings.from_env({**SAFE, "QM_KAFKA_SECURITY_PROTOCOL": " sasl_ssl "})
    assert ssl_settings.kafka_security_protocol == "SASL_SSL"
    tls = kafka_security(ssl_settings)
    assert isinstance(tls, SASLPlaintext) and tls.use_ssl


def test_an_unknown_protocol_names_the_variable_and_the_choices() -> None:
    with pytest.raises(SecurityConfigError) as err:
        kafka_security({"QM_KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert "QM_KAFKA_SECURITY_PROTOCOL='SSL' is not supported" in str(err.value)
    assert "PLAINTEXT, SASL_PLAINTEXT, SASL_SSL" in str(err.value)


def test_log_level_cache_and_admin_credentials_come_through_the_settings(tmp_path: Path) -> None:
    given = CommonSettings.from_env(
        {
            "QM_LOG_LEVEL": " debug ",
            "QM_CACHE_DIR": "~/qm-cache",
            "QM_KAFKA_ADMIN_USER": "root-of-kafka",
            "QM_KAFKA_ADMIN_PASSWORD": "s3cret",
        }
    )
    assert given.log_level == "DEBUG"
    assert given.cache_dir == Path.home() / "qm-cache"
    assert given.kafka_admin_user == "root-of-kafka"
    assert given.kafka_admin_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(given)
    with pytest.raises(ValidationError, match="QM_LOG_LEVEL"):
        CommonSettings.from_env({"QM_LOG_LEVEL": "chatty"})


def test_the_cache_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path):
    from services.common.cache import cache_dir

    monkeypatch.setenv("QM_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("QM_CACHE_DIR")
    assert cache_dir() == Path.home() / ".cache" / "quartermaster"
