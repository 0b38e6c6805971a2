"""The OpenAI-compatible client speaks both structured-output dialects and fails clearly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from services.parser.extract import extract
from services.parser.extraction import EXTRACTION_SCHEMA, Extraction
from services.parser.llm import LLMError
from services.parser.llm_openai import OpenAIBackend

REPLY = Extraction(destination_phrase="FOB Halcyon").model_dump_json()


class _Endpoint(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []  # noqa: RUF012 - shared with the test on purpose
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        reply = {
            "choices": [{"message": {"content": REPLY}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7},
        }
        data = json.dumps(reply).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def endpoint() -> Iterator[str]:
    _Endpoint.requests = []
    _Endpoint.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_json_schema_dialect_sends_openai_structured_outputs(endpoint):
    backend = OpenAIBackend(endpoint, "local-model", api_key=SecretStr("k"), dialect="json_schema")
    done = extract(backend, "4 pallets of water to FOB Halcyon")
    sent = _Endpoint.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k"
    assert sent["body"]["response_format"]["type"] == "json_schema"
    assert sent["body"]["response_format"]["json_schema"]["schema"] == EXTRACTION_SCHEMA
    assert sent["body"]["temperature"] == 0
    assert done.extraction.destination_phrase == "FOB Halcyon"
    assert done.completions[0].prompt_tokens == 11


def test_json_object_dialect_puts_the_schema_beside_the_type(endpoint):
    backend = OpenAIBackend(endpoint, "local-model", dialect="json_object")
    backend.complete([{"role": "user", "content": "x"}], EXTRACTION_SCHEMA)
    sent = _Endpoint.requests[0]["body"]["response_format"]
    assert sent == {"type": "json_object", "schema": EXTRACTION_SCHEMA}
    assert _Endpoint.requests[0]["auth"] is None


def test_a_failing_or_absent_endpoint_is_an_llm_error(endpoint):
    _Endpoint.status = 500
    with pytest.raises(LLMError, match="failed"):
        OpenAIBackend(endpoint, "m").complete([{"role": "user", "content": "x"}], {})
    with pytest.raises(LLMError):
        OpenAIBackend("http://127.0.0.1:9/v1", "m", timeout_s=2).complete(
            [{"role": "user", "content": "x"}], {}
        )
