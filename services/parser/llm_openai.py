"""OpenAI-compatible HTTP backend (vLLM, llama.cpp server, Ollama): the only module using httpx."""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx

from services.parser.llm import Completion, LLMError, Messages

Dialect = Literal["json_schema", "json_object"]


class OpenAIBackend:
    """Chat completions over HTTP with structured output in either server dialect."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        dialect: Dialect = "json_schema",
        timeout_s: float = 120.0,
        max_tokens: int = 256,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
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
