"""Embedded llama.cpp backend (llama-cpp-python): the only module importing llama_cpp."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.parser.llm import Completion, LLMError, Messages

log = logging.getLogger("qm.parser")


def _load(model_path: Path, n_threads: int, n_ctx: int, *, embedding: bool = False) -> Any:
    """A llama.cpp model in-process; as an encoder, mean-pooled over the tokens."""
    # ggml threads spin at barriers; passive waiting keeps a shared 2-core box usable.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError as err:
        raise LLMError(
            "llama-cpp-python is missing; run `make setup` or set QM_PARSER_BACKEND=openai"
        ) from err
    log.info("loading %s with %d thread(s)", model_path.name, n_threads)
    unspecified = llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED
    return llama_cpp.Llama(
        model_path=str(model_path),
        embedding=embedding,
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN if embedding else unspecified,
    )


class LlamaBackend:
    """A GGUF model loaded in-process; the fixed prompt prefix stays in the KV cache."""

    def __init__(
        self, model_path: Path, n_threads: int = 1, n_ctx: int = 2048, max_tokens: int = 256
    ) -> None:
        self._llm = _load(model_path, n_threads, n_ctx)
        self._lock = threading.Lock()
        self._max_tokens = max_tokens
        self._formatter: Any = None
        self.name = f"llama.cpp:{model_path.stem}"

    def _prompt_tokens(self, messages: Messages) -> list[int]:
        """The model's own chat template, rendered up to the start of the assistant's reply."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self._formatter is None:
            meta = self._llm.metadata
            template = meta.get("tokenizer.chat_template")
            if not template:
                raise LLMError(f"{self.name} has no chat template; choose an instruction model")
            vocab = self._llm._model  # the token texts the template needs

            def text_of(token: int) -> str:
                return str(vocab.token_get_text(token)) if token != -1 else ""

            self._formatter = Jinja2ChatFormatter(
                template, eos_token=text_of(vocab.token_eos()), bos_token=text_of(vocab.token_bos())
            )
        prompt = self._formatter(messages=messages).prompt
        return list(self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def choose(self, messages: Messages, answers: Sequence[str]) -> dict[str, float]:
        """Odds of each answer from one forward pass: the first token of each, softmaxed.

        The longest prefix shared with the previous call stays in the KV cache, so the fixed
        instructions and examples are read once and each order costs only its own tokens.
        """
        import llama_cpp
        import numpy as np

        firsts = [self._llm.tokenize(a.encode(), add_bos=False, special=False)[0] for a in answers]
        if len(set(firsts)) != len(firsts):
            raise LLMError(f"answers {list(answers)} share a first token in {self.name}")
        with self._lock:
            tokens = self._prompt_tokens(messages)
            if len(tokens) >= self._llm.n_ctx():
                raise LLMError(f"order too long for the judge ({len(tokens)} tokens)")
            seen = self._llm.input_ids[: self._llm.n_tokens]
            keep = 0
            for old, new in zip(seen, tokens[:-1], strict=False):
                if old != new:
                    break
                keep += 1
            self._llm.n_tokens = keep
            self._llm.eval(tokens[keep:])
            pointer = llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(self._llm.n_vocab(),))[firsts]
        odds = np.exp(logits - logits.max())
        odds /= odds.sum()
        return {answer: float(p) for answer, p in zip(answers, odds, strict=True)}

    def complete(self, messages: Messages, schema: dict[str, Any]) -> Completion:
        """Schema-constrained chat completion, greedy decoding."""
        started = time.perf_counter()
        with self._lock:  # one llama context is not safe to share across threads
            reply: Any = self._llm.create_chat_completion(
                messages=messages,
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


class LlamaEmbedder:
    """The same GGUF read as an encoder: one mean-pooled vector per text."""

    def __init__(self, model_path: Path, n_threads: int = 1, n_ctx: int = 2048) -> None:
        self._llm = _load(model_path, n_threads, n_ctx, embedding=True)
        self._lock = threading.Lock()
        self._n_ctx = n_ctx
        self.name = f"llama.cpp:{model_path.stem}"

    def embed(self, text: str) -> list[float]:
        """Blocking: the text's embedding (cut to the context window)."""
        with self._lock:
            tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
            if len(tokens) > self._n_ctx - 8:
                text = self._llm.detokenize(tokens[: self._n_ctx - 8]).decode(errors="ignore")
            vector: Any = self._llm.embed(text)
        return [float(x) for x in vector]
