"""OpenAI-compatible HTTP backend (vLLM, llama.cpp server, Ollama): the only module using httpx."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from services.parser.llm import Completion, LLMError, Messages

Dialect = Literal["json_schema", "json_object"]


class OpenAIBackend:
    """Chat completions over HTTP with structured output in either server dialect."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None = None,
        dialect: Dialect = "json_schema",
        timeout_s: float = 120.0,
        max_tokens: int = 256,
    ) -> None:
        # The one place the key is revealed: the header sent with every request.
        token = api_key.get_secret_value() if api_key is not None else ""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s
        )
        self._model = model
        self._dialect = dialect
        self._max_tokens = max_tokens
        self.name = f"openai:{model}"

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._dialect == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "extraction", "schema": schema, "strict": True},
            }
        # llama-cpp-python's server wants the schema beside json_object instead.
        return {"type": "json_object", "schema": schema}

    def complete(self, messages: Messages, schema: dict[str, Any]) -> Completion:
        """POST /chat/completions and return the reply text."""
        body = {
            "model": self._model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self._max_tokens,
            "response_format": self._response_format(schema),
        }
        started = time.perf_counter()
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            data = response.json()
            text = data["choices"][0]["message"]["content"] or ""
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as err:
            raise LLMError(f"LLM endpoint {self._client.base_url} failed: {err}") from err
        usage = data.get("usage") or {}
        return Completion(
            text,
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            time.perf_counter() - started,
        )

    def choose(self, messages: Messages, answers: Sequence[str]) -> dict[str, float]:
        """One of a few fixed answers, with odds from the first token's logprobs when served.

        The answer is constrained to the given words; a server that returns no logprobs gives
        its answer probability 1 (a bigger model's single answer, still weighed by the rules).
        """
        schema = {
            "type": "object",
            "properties": {"answer": {"type": "string", "enum": list(answers)}},
            "required": ["answer"],
            "additionalProperties": False,
        }
        body = {
            "model": self._model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": 16,
            "logprobs": True,
            "top_logprobs": 10,
            "response_format": self._response_format(schema),
        }
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            choice = response.json()["choices"][0]
            answer = json.loads(choice["message"]["content"] or "{}")["answer"]
        except (httpx.HTTPError, KeyError, IndexError, ValueError, TypeError) as err:
            raise LLMError(f"LLM endpoint {self._client.base_url} failed: {err}") from err
        if answer not in answers:
            raise LLMError(f"LLM endpoint answered {answer!r}, not one of {list(answers)}")
        return _odds(choice.get("logprobs"), answers, answer)


def _odds(logprobs: Any, answers: Sequence[str], answer: str) -> dict[str, float]:
    """Odds of each answer from the top logprobs where the answer's word begins."""
    for step in (logprobs or {}).get("content") or []:
        tops = {t["token"].strip('" '): t["logprob"] for t in step.get("top_logprobs", [])}
        hits = {
            a: math.exp(lp)
            for a in answers
            for tok, lp in tops.items()
            if tok and a.startswith(tok)
        }
        if len(hits) >= 2 or answer in hits:
            total = sum(hits.values())
            return {a: hits.get(a, 0.0) / total for a in answers}
    return {a: 1.0 if a == answer else 0.0 for a in answers}
