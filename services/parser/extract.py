"""Ask the model for an Extraction; one re-ask with the validation errors, then give up."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from services.parser.extraction import EXTRACTION_SCHEMA, Extraction, build_messages
from services.parser.llm import Completion, LLMBackend, LLMError


class ExtractionFailed(LLMError):
    """The model's output did not validate even after a re-ask."""


@dataclass(frozen=True)
class Extracted:
    """A validated extraction and the completions it took."""

    extraction: Extraction
    completions: tuple[Completion, ...]


def extract(backend: LLMBackend, text: str) -> Extracted:
    """Blocking: constrained completion, validated by pydantic, re-asked once on errors."""
    messages = build_messages(text)
    completions: list[Completion] = []
    for _attempt in range(2):
        completion = backend.complete(messages, EXTRACTION_SCHEMA)
        completions.append(completion)
        try:
            return Extracted(Extraction.model_validate_json(completion.text), tuple(completions))
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in err.errors()
            )
            messages = [
                *messages,
                {"role": "assistant", "content": completion.text},
                {
                    "role": "user",
                    "content": f"That reply was invalid ({problems}). Reply with valid JSON only.",
                },
            ]
    raise ExtractionFailed(f"model output invalid after a re-ask: {problems}")
