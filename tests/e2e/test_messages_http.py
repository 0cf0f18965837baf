"""Anthropic's Messages API over HTTP (httpx), against the worker in workerd: answers, the event
stream's order, x-api-key, the error envelope, count_tokens, /v1/models with anthropic-version,
thinking and stop sequences from a scripted model, and the call in /v1/usage."""

from __future__ import annotations

import base64
import json
import math
import time

import httpx
import pytest
from werkzeug.wrappers import Response

SONNET = "claude-sonnet-4-5-20250929"
# The default ANTHROPIC_MODEL_MAP (README): sonnet → qwen3.8-27b.
SONNET_MODEL = "@cf/qwen/qwen3.8-27b"
LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
VERSION = {"anthropic-version": "2023-06-01"}


def anthropic_headers(key: str) -> dict:
    return {"x-api-key": key, **VERSION}


def events_of(text: str) -> list[tuple[str, dict]]:
    """(event name, data) of each SSE event, checking that both name the same type."""
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"], block
        out.append((lines["event"], data))
    return out


def post(gateway, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{gateway.url}{path}", json=body, headers=headers or anthropic_headers(gateway.api_key), timeout=30)


def test_a_claude_name_is_answered_by_the_mapped_model_as_a_message(gateway):
    answer = post(gateway, "/v1/messages?beta=true", {
        "model": SONNET, "max_tokens": 64,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hello there"}]})
    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert message["id"].startswith("msg_")
    assert (message["type"], message["role"], message["model"]) == ("message", "assistant", SONNET_MODEL)
    assert answer.headers["x-model"] == SONNET_MODEL
    assert answer.headers["x-requested-model"] == SONNET
    assert answer.headers["request-id"].startswith("req_")
    (block,) = message["content"]
    assert block["type"] == "text" and "hello there" in block["text"]
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    usage = message["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert (usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]) == (0, 0)


def test_a_workers_ai_id_is_answered_by_that_model_with_a_bearer_token(gateway):
    answer = post(gateway, "/v1/messages", {"model": LLAMA, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]},
                  headers={"Authorization": f"Bearer {gateway.api_key}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == LLAMA == answer.headers["x-model"]


def test_the_stream_comes_in_anthropics_event_order(gateway):
    with httpx.stream("POST", f"{gateway.url}/v1/messages", headers=anthropic_headers(gateway.api_key), timeout=30,
                      json={"model": SONNET, "max_tokens": 64, "stream": True,
                            "messages": [{"role": "user", "content": "count to three"}]}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = events_of(answer.read().decode())
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    start = events[0][1]["message"]
    assert start["model"] == SONNET_MODEL and start["content"] == [] and start["stop_reason"] is None
    assert events[2][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "", "citations": None}}
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert "count to three" in text
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] > 0


def test_a_tool_call_streams_as_a_tool_use_block_with_input_json(gateway):
    # `days` bounded as zod bounds every integer (Claude Code's own tools): ±(2**53 - 1).
    tool = {"name": "get_weather", "description": "The weather in a city",
            "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                             "properties": {"city": {"type": "string", "description": "the city"},
                                            "days": {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991}},
                             "required": ["city"], "additionalProperties": False}}
    body = {"model": SONNET, "max_tokens": 64, "tools": [tool], "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    whole = post(gateway, "/v1/messages", body).json()
    assert whole["stop_reason"] == "tool_use"
    (call,) = [block for block in whole["content"] if block["type"] == "tool_use"]
    assert call["name"] == "get_weather" and isinstance(call["input"], dict) and call["id"].startswith("toolu_")

    with httpx.stream("POST", f"{gateway.url}/v1/messages", headers=anthropic_headers(gateway.api_key), timeout=30,
                      json={**body, "stream": True}) as answer:
        events = events_of(answer.read().decode())
    starts = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert [block["type"] for block in starts] == ["tool_use"]
    assert starts[0]["name"] == "get_weather" and starts[0]["input"] == {}
    partial = "".join(data["delta"]["partial_json"] for name, data in events
                      if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta")
    assert json.loads(partial) == call["input"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"

    # The round trip: the tool's result goes back as a tool_result block, and the model answers in text.
    follow = post(gateway, "/v1/messages", {**body, "tool_choice": {"type": "auto"}, "messages": [
        *body["messages"], {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18 °C, sunny"}]}]})
    assert follow.status_code == 200, follow.text
    assert follow.json()["stop_reason"] == "end_turn"


def test_errors_come_in_anthropics_envelope(gateway):
    body = {"model": SONNET, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    wrong = post(gateway, "/v1/messages", body, headers=anthropic_headers("sk-wrong"))
    assert wrong.status_code == 401
    assert wrong.json()["type"] == "error" and wrong.json()["error"]["type"] == "authentication_error"
    assert wrong.json()["request_id"] == wrong.headers["request-id"]
    assert post(gateway, "/v1/messages", body, headers=VERSION).json()["error"]["type"] == "authentication_error"
    missing = post(gateway, "/v1/messages", {"model": SONNET, "messages": body["messages"]})
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in missing.json()["error"]["message"]
    unknown = post(gateway, "/v1/messages", {**body, "model": "no-such-model"})
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"
    for unfit in ("claude-\n-sonnet", "claude-sonnet\r\nX-Evil: 1"):  # a Claude name, but not one to echo in a header
        refused = post(gateway, "/v1/messages", {**body, "model": unfit})
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error", refused.text
    not_a_tool = post(gateway, "/v1/messages", {**body, "tools": [5]})  # was a 500 (AttributeError)
    assert not_a_tool.status_code == 400 and not_a_tool.json()["error"]["type"] == "invalid_request_error", not_a_tool.text
    server_tool = post(gateway, "/v1/messages", {**body, "tools": [{"type": "web_search_20250305", "name": "web_search"}]})
    assert server_tool.status_code == 400 and server_tool.json()["error"]["type"] == "invalid_request_error"


def test_count_tokens_estimates_without_calling_a_model(gateway):
    answer = post(gateway, "/v1/messages/count_tokens", {
        "model": SONNET, "system": "Be brief.", "messages": [{"role": "user", "content": "Count these words please"}]})
    assert answer.status_code == 200, answer.text
    # "Be brief." (9 characters) and the message (24): 33 characters at four a token.
    assert answer.json() == {"input_tokens": math.ceil(33 / 4), "context_management": None}


def test_models_come_in_anthropics_list_shape_with_anthropic_version(gateway):
    listed = httpx.get(f"{gateway.url}/v1/models", params={"limit": 5}, headers=anthropic_headers(gateway.api_key)).json()
    assert set(listed) == {"data", "first_id", "last_id", "has_more"}
    assert len(listed["data"]) == 5 and listed["has_more"] is True
    assert listed["first_id"] == listed["data"][0]["id"] and listed["last_id"] == listed["data"][-1]["id"]
    assert all(entry["type"] == "model" and entry["display_name"] for entry in listed["data"])
    after = httpx.get(f"{gateway.url}/v1/models", params={"after_id": listed["last_id"], "limit": 1000},
                      headers=anthropic_headers(gateway.api_key)).json()
    assert after["has_more"] is False
    ids = [entry["id"] for entry in listed["data"] + after["data"]]
    assert {SONNET, "claude-opus-5-5", SONNET_MODEL, LLAMA} <= set(ids) and len(ids) == len(set(ids))
    one = httpx.get(f"{gateway.url}/v1/models/claude-haiku-4-5", headers=anthropic_headers(gateway.api_key))
    assert one.status_code == 200 and one.json()["id"] == "claude-haiku-4-5"
    # Without the header: OpenAI's shape, as before.
    openai_list = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {gateway.api_key}"}).json()
    assert openai_list["object"] == "list"


def test_a_messages_call_is_metered_under_the_key_that_made_it(gateway):
    key = "sk-second-key"

    def totals() -> dict:
        body = httpx.get(f"{gateway.url}/v1/usage", headers={"x-api-key": key}, timeout=30).json()
        return {name: sum(day.get(name, 0) for entry in body["keys"] for day in entry["days"].values())
                for name in ("requests", "ai_calls")}

    before = totals()
    answer = post(gateway, "/v1/messages", {"model": SONNET, "max_tokens": 16, "messages": [{"role": "user", "content": "meter me"}]},
                  headers=anthropic_headers(key))
    assert answer.status_code == 200
    deadline = time.monotonic() + 10
    while (after := totals())["ai_calls"] == before["ai_calls"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (after["requests"] - before["requests"], after["ai_calls"] - before["ai_calls"]) == (1, 1)


# --- a scripted model --------------------------------------------------------------------------------

@pytest.fixture
def scripted(scripted_gateway, httpserver):
    return scripted_gateway


def test_thinking_turns_reasoning_on_and_comes_back_as_thinking_blocks(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": SONNET_MODEL,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "42", "reasoning_content": "6 times 7", "refusal": None}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
                  "prompt_tokens_details": {"cached_tokens": 4}}})
    answer = post(scripted, "/v1/messages", {"model": SONNET, "max_tokens": 4096,
                                            "thinking": {"type": "enabled", "budget_tokens": 2048},
                                            "messages": [{"role": "user", "content": "6*7?"}]})
    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert message["content"] == [{"type": "thinking", "thinking": "6 times 7", "signature": ""},
                                  {"type": "text", "text": "42", "citations": None}]
    # 12 prompt tokens of which the model read 4 from its cache.
    assert (message["usage"]["input_tokens"], message["usage"]["cache_read_input_tokens"]) == (8, 4)
    inputs = json.loads(httpserver.log[0][0].get_data())["inputs"]
    assert inputs["chat_template_kwargs"] == {"enable_thinking": True}
    assert inputs["reasoning_effort"] == "low"  # a 2048-token budget


def test_claude_codes_adaptive_thinking_and_system_turns(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"response": "ok", "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
    answer = post(scripted, "/v1/messages", {
        "model": "claude-opus-5-5", "max_tokens": 128000, "system": [{"type": "text", "text": "You are Claude Code."}],
        "thinking": {"type": "adaptive", "display": "omitted"}, "output_config": {"effort": "medium"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": "{\"session_id\": \"s\"}"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
                     {"role": "system", "content": [{"type": "text", "text": "A reminder."}]}]})
    assert answer.status_code == 200, answer.text
    inputs = json.loads(httpserver.log[0][0].get_data())["inputs"]
    assert inputs["messages"] == [{"role": "system", "content": "You are Claude Code.\n\nA reminder."},
                                  {"role": "user", "content": "hi"}]
    assert (inputs["chat_template_kwargs"], inputs["reasoning_effort"]) == ({"enable_thinking": True}, "medium")


def test_without_thinking_reasoning_is_turned_off(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"response": "ok", "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
    answer = post(scripted, "/v1/messages", {"model": "claude-haiku-4-5-20251001", "max_tokens": 16,
                                            "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200, answer.text
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["model"] == "@cf/zai-org/glm-4.7-flash"
    assert sent["inputs"]["chat_template_kwargs"] == {"enable_thinking": False}


@pytest.mark.parametrize("asked, sent_on, header", [(128000, 8192, "8192"), (8192, 8192, None), (100, 100, None)])
def test_max_tokens_past_anthropic_max_tokens_is_lowered_and_said(scripted, httpserver, asked, sent_on, header):
    """Claude Code asks 128 000 a turn; the model is asked for ANTHROPIC_MAX_TOKENS (8192) at most."""
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"response": "ok", "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
    answer = post(scripted, "/v1/messages", {"model": "claude-haiku-4-5-20251001", "max_tokens": asked,
                                            "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200, answer.text
    assert json.loads(httpserver.log[0][0].get_data())["inputs"]["max_tokens"] == sent_on
    assert answer.headers.get("X-Max-Tokens") == header


def test_a_stop_sequence_ends_the_stream_and_is_named(scripted, httpserver):
    chunks = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": LLAMA,
               "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
              for piece in ("one two ", "thr", "ee four")]

    def generate():
        for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(generate(), content_type="text/event-stream"))
    with httpx.stream("POST", f"{scripted.url}/v1/messages", headers=anthropic_headers(scripted.api_key), timeout=30,
                      json={"model": LLAMA, "max_tokens": 32, "stream": True, "stop_sequences": ["three"],
                            "messages": [{"role": "user", "content": "count"}]}) as answer:
        events = events_of(answer.read().decode())
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert text == "one two "
    assert events[-2][1]["delta"]["stop_reason"] == "stop_sequence"
    assert events[-2][1]["delta"]["stop_sequence"] == "three"


def test_workers_ai_out_of_capacity_is_anthropics_overloaded_error(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(
        json.dumps({"success": False, "errors": [{"code": 3040, "message": "Capacity temporarily exceeded"}]}), 429,
        content_type="application/json"))
    answer = post(scripted, "/v1/messages", {"model": LLAMA, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 529
    assert answer.json()["error"]["type"] == "overloaded_error"


def test_a_large_base64_image_reaches_the_model_as_its_data_url(scripted, httpserver):
    # 5 MB of PNG: 6.7 MB of base64, past the 2 MB of JSON text a body may hold besides its images,
    # so this passes only when the runtime keeps the source's `data` out of Python, as it does data: URLs.
    image = b"\x89PNG\r\n\x1a\n" + bytes(5 * 1024 * 1024)
    encoded = base64.b64encode(image).decode()
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": SONNET_MODEL,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "a black square", "refusal": None}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 3, "total_tokens": 1003}})
    answer = post(scripted, "/v1/messages", {"model": SONNET, "max_tokens": 16, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": encoded}},
        {"type": "text", "text": "What is this?"}]}]})
    assert answer.status_code == 200, answer.text[:500]
    (user,) = [m for m in json.loads(httpserver.log[0][0].get_data())["inputs"]["messages"] if m["role"] == "user"]
    assert user["content"][0] == {"type": "image_url", "image_url": {"url": "data:image/png;base64," + encoded}}
    assert user["content"][1] == {"type": "text", "text": "What is this?"}
