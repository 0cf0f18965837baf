"""Issue 18: the stream relay as a transform, and pass-through of streams that need no rewriting."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from support.local_gateway import LocalGateway

API_KEY = "sk-relay-key"
OPENAI_SHAPED = "@cf/openai/gpt-oss-20b"
LEGACY_SHAPED = "@cf/meta/llama-3.1-8b-instruct-fast"
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def transform_only():
    """The same worker with pass-through off: every stream goes through the Python relay."""
    local = LocalGateway(api_keys=API_KEY, extra_env={"STREAM_PASSTHROUGH": "false"})
    yield local
    local.stop()


@pytest.fixture(scope="module")
def default_gateway():
    local = LocalGateway(api_keys=API_KEY)
    yield local
    local.stop()


def post(gateway, **body) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30,
                      json={"stream": True, "messages": [{"role": "user", "content": "relay these words please"}], **body})


@pytest.mark.parametrize(("extra", "finish_reason"), [({}, "stop"), ({"tools": TOOLS}, "tool_calls"), ({"max_tokens": 3}, "length")],
                         ids=["text", "tool-call", "length"])
def test_an_openai_shaped_stream_takes_the_transform_with_pass_through_on_or_off(default_gateway, transform_only, extra, finish_reason):
    # The model's last chunk carries usage nobody asked for: its bytes are never the client's (chat_stream.passthrough_safe).
    passed = post(default_gateway, model=OPENAI_SHAPED, **extra)
    transformed = post(transform_only, model=OPENAI_SHAPED, **extra)
    assert passed.headers["x-stream-relay"] == "transform"
    assert transformed.headers["x-stream-relay"] == "transform"
    assert passed.status_code == transformed.status_code == 200
    assert passed.content == transformed.content
    events = [e[len("data: "):] for e in passed.text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["model"] == OPENAI_SHAPED and c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finish == [finish_reason]


@pytest.mark.parametrize("extra", [{"stop": ["words"]}, {"stream_options": {"include_usage": True}}], ids=["stop", "include_usage"])
def test_requests_that_need_rewriting_take_the_transform(default_gateway, extra):
    response = post(default_gateway, model=OPENAI_SHAPED, **extra)
    assert response.headers["x-stream-relay"] == "transform"
    events = [json.loads(e[6:]) for e in response.text.split("\n\n") if e and e != "data: [DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in events if c["choices"])
    if "stop" in extra:
        assert text == f"This is {OPENAI_SHAPED} (emulated). You said: relay these "
    else:
        assert [c for c in events if c.get("usage")] == [events[-1]] and events[-1]["choices"] == []


def test_older_models_streams_take_the_transform(default_gateway):
    response = post(default_gateway, model=LEGACY_SHAPED)
    assert response.headers["x-stream-relay"] == "transform"
    assert response.text.endswith("data: [DONE]\n\n")
    first = json.loads(response.text.split("\n\n")[0][6:])
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def test_the_transform_relays_an_openai_shaped_read_unchanged(transform_only):
    """With nothing to rewrite, the transform's output is the model's own bytes: the emulator's
    ids and times (not the gateway's), and no added role chunk."""
    response = post(transform_only, model=OPENAI_SHAPED)
    assert re.findall(r'"id":"([^"]+)"', response.text) and set(re.findall(r'"id":"([^"]+)"', response.text)) == {"chatcmpl-emulated"}
    assert '"logprobs"' not in response.text
