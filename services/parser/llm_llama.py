"""Embedded llama.cpp backend (llama-cpp-python): the only module importing llama_cpp."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from services.parser.llm import Completion, LLMError, Messages

log = logging.getLogger("qm.parser")


class LlamaBackend:
    """A GGUF model loaded in-process; the fixed prompt prefix stays in the KV cache."""

    def __init__(
        self, model_path: Path, n_threads: int = 1, n_ctx: int = 2048, max_tokens: int = 256
    ) -> None:
        # ggml threads spin at barriers; passive waiting keeps a shared 2-core box usable.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise LLMError(
                "llama-cpp-python is missing; run `make setup` or set QM_PARSER_BACKEND=openai"
            ) from err
        log.info("loading %s with %d thread(s)", model_path.name, n_threads)
        self._llm = Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            verbose=False,
        )
        self._lock = threading.Lock()
        self._max_tokens = max_tokens
        self.name = f"llama.cpp:{model_path.stem}"

    def complete(self, messages: Messages, schema: dict[str, Any]) -> Completion:
        """Schema-constrained chat completion, greedy decoding."""
        started = time.perf_counter()
        with self._lock:  # one llama context is not safe to share across threads
            reply: Any = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                response_format={"type": "json_object", "schema": schema},
                temperature=0.0,
                max_tokens=self._max_tokens,
            )
        usage = reply.get("usage") or {}
        text = reply["choices"][0]["message"].get("content") or ""
        if not text:
            raise LLMError("the model returned an empty reply")
        return Completion(
            text,
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            time.perf_counter() - started,
        )
