"""Parser settings (env prefix QM_PARSER_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class ParserSettings(CommonSettings):
    """Which model extracts, and how the parser runs."""

    model_config = SettingsConfigDict(env_prefix="QM_PARSER_", extra="ignore")

    # The load test's replay backend lives in the lab (lab/parser/replay.py), never here.
    backend: Literal["llama", "openai", "rules"] = Field(
        default="llama",
        description="llama: embedded GGUF; openai: HTTP endpoint; rules: no model",
    )
    # Measured (qm eval parser, README): the rules alone accept clear orders correctly in
    # milliseconds; letting the model fill gaps on every order cost ~14 s and one injected field.
    model_policy: Literal["always", "fallback", "unread"] = Field(
        default="fallback",
        description="always: the model reads every order; fallback: only what rules cannot "
        "accept; unread: that, and accepted orders with a count no line was read from",
    )
    judge: Literal["both", "prompt", "encoder", "off"] = Field(
        default="both",
        description="the model-level red-line layer: prompt (one focused question to an "
        "instruction model), encoder (a trained head over a model's embeddings), both (refuse "
        "when both would, hold when either would), off",
    )
    judge_model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="model store name the embedded judge loads (the openai backend judges with "
        "its own endpoint)",
    )
    encoder_model: str = Field(
        default="qwen2.5-coder-0.5b", description="model store name whose embeddings the head reads"
    )
    refuse_at: float = Field(default=0.7, ge=0, le=1, description="prompt judge odds that refuse")
    review_at: float = Field(default=0.6, ge=0, le=1, description="prompt judge odds that hold")
    encoder_refuse_at: float = Field(default=0.9, ge=0, le=1, description="head odds that refuse")
    encoder_review_at: float = Field(default=0.9, ge=0, le=1, description="head odds that hold")
    suspect_review_at: float = Field(
        default=0.3, ge=0, le=1, description="odds that hold an order the rules suspected"
    )
    model: str = Field(default="qwen2.5-coder-0.5b", description="model store name (llama)")
    model_path: Path | None = Field(default=None, description="bring-your-own GGUF (llama)")
    model_sha256: str | None = Field(default=None, description="required with model_path")
    threads: int = Field(default=1, ge=1, le=64, description="llama.cpp threads; 1 on shared cores")
    n_ctx: int = Field(default=2048, ge=512)
    max_tokens: int = Field(default=256, ge=32)
    openai_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), description="bearer token of the openai endpoint; empty: none"
    )
    openai_dialect: Literal["json_schema", "json_object"] = "json_schema"
    openai_timeout_s: float = Field(default=120.0, gt=0)
    concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="orders of a batch parsed at once: raise it for an HTTP model server; "
        "the embedded model serves one order at a time",
    )
    group_id: str = "qm-parser"
    batch_max: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="orders taken per poll; offsets are committed once the batch is published",
    )
    metrics_port: int = Field(default=9401, ge=0, le=65535)

    @field_validator("backend", mode="before")
    @classmethod
    def _no_replay(cls, value: object) -> object:
        # Env files from before the lab moved out still name it; say where it went.
        if value == "replay":
            raise ValueError(
                "QM_PARSER_BACKEND=replay is the load test's backend, which the parser service "
                "does not have (it answers from a labelled corpus); set QM_PARSER_BACKEND to "
                "llama, openai or rules, and run load tests with `qm bench load`"
            )
        return value
