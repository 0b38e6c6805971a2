"""The one interface every LLM backend implements, and the scripted backend used in tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Messages = list[dict[str, str]]


class LLMError(RuntimeError):
    """The model could not be reached or returned nothing usable."""


@dataclass(frozen=True)
class Completion:
    """One reply from a model with what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class LLMBackend(Protocol):
    """Anything that turns chat messages into JSON text constrained by a JSON Schema."""

    name: str

    def complete(self, messages: Messages, schema: dict[str, Any]) -> Completion:
        """Blocking call: return the model's reply to the messages."""
        ...


class ScriptedBackend:
    """Replies computed by a function of the order text: for handler tests, not for parsing."""

    def __init__(self, reply: Callable[[str], str] | Sequence[str], name: str = "scripted") -> None:
        self.name = name
        self._reply = reply
        self._calls = 0

    @property
    def calls(self) -> int:
        """How many completions were requested."""
        return self._calls

    def complete(self, messages: Messages, schema: dict[str, Any]) -> Completion:
        """Return the scripted reply for the last user message."""
        started = time.perf_counter()
        if callable(self._reply):
            text = self._reply(messages[-1]["content"])
        else:
            text = self._reply[min(self._calls, len(self._reply) - 1)]
        self._calls += 1
        return Completion(text, 0, 0, time.perf_counter() - started)
