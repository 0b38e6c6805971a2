"""Chooses and builds the LLM backend named in the settings."""

from __future__ import annotations

from services.parser.llm import LLMBackend, LLMError
from services.parser.modelstore import MODELS, ModelSpec, fetch, verify
from services.parser.settings import ParserSettings


def build_backend(settings: ParserSettings) -> LLMBackend | None:
    """The configured backend; None means rules only (no model)."""
    if settings.backend == "rules":
        return None
    if settings.backend == "replay":  # LOAD-TEST ONLY: never a parser of real orders
        from services.parser.llm_replay import ReplayBackend

        return ReplayBackend(settings.replay_corpus)
    if settings.backend == "openai":
        from services.parser.llm_openai import OpenAIBackend

        return OpenAIBackend(
            settings.openai_url,
            settings.openai_model,
            settings.openai_api_key,
            settings.openai_dialect,
            settings.openai_timeout_s,
            settings.max_tokens,
        )
    from services.parser.llm_llama import LlamaBackend

    if settings.model_path is not None:
        if not settings.model_sha256:
            raise LLMError("QM_PARSER_MODEL_PATH needs QM_PARSER_MODEL_SHA256 to pin the weights")
        spec = ModelSpec(
            name=settings.model_path.stem,
            filename=settings.model_path.name,
            packages=(),
            member_suffix="",
            size_bytes=settings.model_path.stat().st_size,
            sha256=settings.model_sha256,
            licence="operator-supplied",
            provenance="operator-supplied",
        )
        verify(settings.model_path, spec)
        path = settings.model_path
    else:
        if settings.model not in MODELS:
            raise LLMError(f"unknown model {settings.model!r}; choose one of {sorted(MODELS)}")
        path = fetch(settings.model)  # verifies the SHA-256 before anything loads it
    return LlamaBackend(path, settings.threads, settings.n_ctx, settings.max_tokens)
