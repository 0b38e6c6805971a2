"""Chooses and builds the LLM backend named in the settings."""

from __future__ import annotations

from pathlib import Path

from services.parser.judge import Bars, BothJudges, EncoderJudge, Head, PromptJudge, RedLineJudge
from services.parser.llm import LLMBackend, LLMError
from services.parser.modelstore import MODELS, ModelSpec, fetch, verify
from services.parser.safety import SafetyParams
from services.parser.settings import ParserSettings

HEADS = Path(__file__).resolve().parent / "heads"


def build_backend(settings: ParserSettings) -> LLMBackend | None:
    """The configured backend; None means rules only (no model)."""
    if settings.backend == "rules":
        return None
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


def safety_params(settings: ParserSettings) -> SafetyParams:
    """Where the model's odds hold or refuse an order."""
    return SafetyParams(settings.suspect_review_at)


def build_judge(settings: ParserSettings, backend: LLMBackend | None) -> RedLineJudge | None:
    """The model-level red-line layer the settings name; None when it is off or no model runs."""
    if settings.judge == "off" or settings.backend == "rules":
        return None
    prompt_bars = Bars(settings.refuse_at, settings.review_at)
    if settings.backend == "openai":
        return PromptJudge(backend, prompt_bars)  # type: ignore[arg-type]
    if settings.judge in ("encoder", "both"):
        encoder = _encoder(settings)
        if settings.judge == "encoder":
            return encoder
        return BothJudges(encoder, _prompt(settings, backend, prompt_bars))
    return _prompt(settings, backend, prompt_bars)


def _prompt(settings: ParserSettings, backend: LLMBackend | None, bars: Bars) -> PromptJudge:
    from services.parser.llm_llama import LlamaBackend

    if settings.judge_model not in MODELS:
        raise LLMError(f"unknown judge model {settings.judge_model!r}; one of {sorted(MODELS)}")
    same = backend is not None and settings.judge_model == settings.model
    chooser = (
        backend if same else LlamaBackend(fetch(settings.judge_model), settings.threads, 4096, 16)
    )
    return PromptJudge(chooser, bars)  # type: ignore[arg-type]


def _encoder(settings: ParserSettings) -> EncoderJudge:
    from services.parser.llm_llama import LlamaEmbedder

    name = settings.encoder_model
    head_path = HEADS / f"{name}.json"
    if name not in MODELS or not head_path.exists():
        raise LLMError(f"no trained head {head_path}; run `qm eval train-judge --model {name}`")
    head = Head.from_json(head_path.read_text(encoding="utf-8"))
    if head.model_sha256 != MODELS[name].sha256:
        raise LLMError(f"{head_path} was trained on other weights than {name}")
    bars = Bars(settings.encoder_refuse_at, settings.encoder_review_at)
    return EncoderJudge(LlamaEmbedder(fetch(name), settings.threads), head, bars)
