"""The official `anthropic` Python SDK against the gateway's Messages API: messages, the stream helpers,
a tools round trip, images (base64 and URL), count_tokens, models, and the SDK's typed errors.

Answers come from the deterministic emulator ("This is <model> (emulated). You said: <last user text>"),
or, for Workers AI's failures, from the scripted upstream.
"""

from __future__ import annotations

import json
import re

import anthropic
import pytest
from werkzeug.wrappers import Response

from support.anthropic_cases import (CHAT, OPENAI_SHAPED, PNG, REASONING, VISION, WEATHER, ai_error, image_block,
                                     openai_completion, openai_stream)



def sdk(gateway, **options) -> anthropic.Anthropic:
    options.setdefault("api_key", gateway.api_key)
    return anthropic.Anthropic(base_url=gateway.url, max_retries=0, timeout=60, **options)


@pytest.fixture
def claude(gateway):
    with sdk(gateway) as client:
        yield client


def said(text: str) -> str:
    return f"You said: {text}"


@pytest.mark.parametrize("model", [CHAT, OPENAI_SHAPED])
def test_create(claude, model):
    message = claude.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}])
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == model
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text.endswith(said("Hello there"))
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_system_blocks_multi_turn_and_options(claude):
    message = claude.messages.create(
        model=CHAT, max_tokens=64, stop_sequences=["\n\nHuman:"], metadata={"user_id": "user-1"},
        # anthropic 2.17 takes the sampling options no more as arguments; the API still does.
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40},
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                  {"role": "user", "content": [{"type": "text", "text": "second", "cache_control": {"type": "ephemeral"}}]}],
    )
    assert message.content[0].text.endswith(said("second"))
    # Workers AI has no prompt cache: nothing is reported as read from or written to one.
    assert not message.usage.cache_read_input_tokens and not message.usage.cache_creation_input_tokens


def test_max_tokens_stop_reason(claude):
    message = claude.messages.create(model=CHAT, max_tokens=2, messages=[{"role": "user", "content": "a long answer please"}])
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens <= 2


def test_claude_model_names_are_answered_by_workers_ai_models(claude):
    raw = claude.messages.with_raw_response.create(model="claude-sonnet-4-5-20250929", max_tokens=32,
                                                   messages=[{"role": "user", "content": "hi"}])
    message = raw.parse()
    assert message.model.startswith("@cf/")
    assert raw.headers["x-model"] == message.model
    assert message.content[0].text.startswith(f"This is {message.model} (emulated)")


def test_bearer_token_as_claude_code_sends_it(gateway):
    with sdk(gateway, api_key=None, auth_token=gateway.api_key) as client:
        message = client.messages.create(model=CHAT, max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text.endswith(said("hi"))


def test_stream_helpers(claude):
    with claude.messages.stream(model=CHAT, max_tokens=64, messages=[{"role": "user", "content": "Stream this"}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1, "the text arrives in several deltas"
    assert "".join(pieces) == final.content[0].text
    assert final.content[0].text.endswith(said("Stream this"))
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


@pytest.mark.parametrize("model", [CHAT, OPENAI_SHAPED])
def test_raw_stream_events_come_in_anthropics_order(claude, model):
    events = list(claude.messages.create(model=model, max_tokens=64, stream=True,
                                         messages=[{"role": "user", "content": "order"}]))
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    body = [kind for kind in kinds[1:-2] if kind != "ping"]
    assert body[0] == "content_block_start" and body[-1] == "content_block_stop"
    assert set(body[1:-1]) == {"content_block_delta"}
    assert events[-2].delta.stop_reason == "end_turn" and events[-2].usage.output_tokens > 0
    assert events[0].message.content == [] and events[0].message.stop_reason is None


@pytest.mark.parametrize("model", [CHAT, OPENAI_SHAPED])
def test_tools_round_trip(claude, model):
    question = {"role": "user", "content": "What is the weather in Oslo?"}
    first = claude.messages.create(model=model, max_tokens=256, tools=[WEATHER], messages=[question],
                                   tool_choice={"type": "tool", "name": "get_weather"})
    assert first.stop_reason == "tool_use"
    calls = [block for block in first.content if block.type == "tool_use"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    # The emulator answers a forced call with the tool's schema and any other with {"query": <prompt>}.
    assert isinstance(calls[0].input, dict) and calls[0].input
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", calls[0].id)
    second = claude.messages.create(
        model=model, max_tokens=256, tools=[WEATHER],
        messages=[question, {"role": "assistant", "content": first.content},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id,
                                                "content": [{"type": "text", "text": "12 °C and sunny"}]}]}],
    )
    assert second.stop_reason == "end_turn"
    assert [block.type for block in second.content] == ["text"] and second.content[0].text


def test_tool_input_streams_as_json_deltas(claude):
    with claude.messages.stream(model=OPENAI_SHAPED, max_tokens=256, tools=[WEATHER],
                                tool_choice={"type": "tool", "name": "get_weather"},
                                messages=[{"role": "user", "content": "Weather in Oslo?"}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    partial = "".join(e.delta.partial_json for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta")
    call = [block for block in final.content if block.type == "tool_use"][0]
    assert json.loads(partial) == call.input and call.input
    assert final.stop_reason == "tool_use"


def test_image_base64(claude):
    message = claude.messages.create(model=VISION, max_tokens=64, messages=[{"role": "user", "content": [
        image_block(),
        {"type": "text", "text": "describe"}]}])
    assert message.content[0].text.endswith(said("describe"))


def test_image_url(claude, httpserver):
    httpserver.expect_request("/cat.png").respond_with_data(PNG, content_type="image/png")
    message = claude.messages.create(model=VISION, max_tokens=64, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": httpserver.url_for("/cat.png")}},
        {"type": "text", "text": "describe"}]}])
    assert message.content[0].text.endswith(said("describe"))
    assert any(request.path == "/cat.png" for request, _ in httpserver.log)


def test_image_for_a_text_only_model_is_a_bad_request(claude):
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model=CHAT, max_tokens=64, messages=[{"role": "user", "content": [
            image_block(),
            {"type": "text", "text": "describe"}]}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"


def test_count_tokens(claude):
    short = claude.messages.count_tokens(model=CHAT, messages=[{"role": "user", "content": "hi"}])
    longer = claude.messages.count_tokens(model=CHAT, system="You are a careful assistant.", tools=[WEATHER],
                                          messages=[{"role": "user", "content": "hi " * 200}])
    assert 0 < short.input_tokens < longer.input_tokens
    assert longer.input_tokens >= 200


def test_models_list_in_anthropics_shape(claude):
    models = list(claude.models.list(limit=1000))
    ids = [model.id for model in models]
    assert CHAT in ids and any(name.startswith("claude-") for name in ids)
    assert all(model.type == "model" for model in models)


def test_bad_key_is_an_authentication_error(gateway):
    with sdk(gateway, api_key="sk-wrong") as client, pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model=CHAT, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "authentication_error"


def test_missing_max_tokens_is_a_bad_request(claude):
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.post("/v1/messages", cast_to=object, body={"model": CHAT, "messages": [{"role": "user", "content": "hi"}]})
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in caught.value.body["error"]["message"]


def test_unknown_model_is_not_found(claude):
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="@cf/nobody/no-such-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_empty_messages_is_a_bad_request(claude):
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model=CHAT, max_tokens=16, messages=[])


@pytest.fixture
def scripted_claude(scripted_gateway, httpserver):
    with sdk(scripted_gateway) as client:
        yield client


def test_workers_ai_capacity_is_overloaded(scripted_claude, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(ai_error(3040, "Capacity temporarily exceeded, please try again.", 429))
    with pytest.raises(anthropic.OverloadedError) as caught:
        scripted_claude.messages.create(model=CHAT, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_daily_allocation_used_up_is_a_rate_limit(scripted_claude, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(
        ai_error(3036, "You have used up your daily free allocation of 10,000 neurons", 429))
    with pytest.raises(anthropic.RateLimitError) as caught:
        scripted_claude.messages.create(model=CHAT, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert int(caught.value.response.headers["retry-after"]) > 0


def test_stream_cut_midway_ends_with_an_error_event(scripted_claude, httpserver):
    def generate():
        yield b'data: {"response": "partial "}\n\n'
        raise ConnectionAbortedError("scripted cut")

    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(generate(), content_type="text/event-stream"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        with scripted_claude.messages.stream(model=CHAT, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
            list(stream.text_stream)
    assert caught.value.body["type"] == "error"


def test_options_reach_workers_ai(scripted_claude, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json(
        {"response": "fine", "usage": {"prompt_tokens": 30, "completion_tokens": 1, "total_tokens": 31}})
    message = scripted_claude.messages.create(
        model=CHAT, max_tokens=77, stop_sequences=["STOP"], metadata={"user_id": "user-1"},
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                  {"role": "user", "content": [{"type": "text", "text": "second"}]}],
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40},
    )
    assert message.content[0].text == "fine"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (30, 1)
    inputs = json.loads(httpserver.log[0][0].get_data())["inputs"]
    assert (inputs["max_tokens"], inputs["temperature"], inputs["top_p"], inputs["top_k"]) == (77, 0.2, 0.9, 40)
    roles = [m["role"] for m in inputs["messages"]]
    assert roles[-3:] == ["user", "assistant", "user"] and set(roles[:-3]) == {"system"}
    system = " ".join(m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
                      for m in inputs["messages"] if m["role"] == "system")
    assert "Be brief." in system and "Be kind." in system
    assert "metadata" not in inputs and "cache_control" not in json.dumps(inputs)


def test_stop_sequence_is_reported(scripted_claude, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json(
        {"response": "one two STOP three", "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
    message = scripted_claude.messages.create(model=CHAT, max_tokens=50, stop_sequences=["STOP"],
                                              messages=[{"role": "user", "content": "count"}])
    assert message.content[0].text == "one two "
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "STOP")


def test_beta_client_as_claude_code_calls_it(claude):
    # client.beta posts to /v1/messages?beta=true with an anthropic-beta header, as Claude Code does.
    betas = ["interleaved-thinking-2025-05-14", "context-management-2025-06-27"]
    message = claude.beta.messages.create(model=CHAT, max_tokens=64, betas=betas, messages=[{"role": "user", "content": "beta hi"}])
    assert message.content[0].text.endswith(said("beta hi"))
    with claude.beta.messages.stream(model=CHAT, max_tokens=64, betas=betas, messages=[{"role": "user", "content": "beta stream"}]) as stream:
        text = "".join(stream.text_stream)
    assert text.endswith(said("beta stream"))


def test_thinking_blocks_through_the_sdk(scripted_claude, httpserver):
    def answer(request):
        sent = json.loads(request.get_data())
        usage = {"prompt_tokens": 8, "completion_tokens": 6, "total_tokens": 14}
        if sent["inputs"].get("stream"):
            return openai_stream(sent["model"], [{"role": "assistant", "reasoning_content": "Think "}, {"reasoning_content": "first."},
                                                 {"content": "Answer."}], "stop", usage)
        return openai_completion(sent["model"], {"content": "Answer.", "reasoning_content": "Think first."}, "stop", usage)

    httpserver.expect_request("/ai/run").respond_with_handler(answer)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    message = scripted_claude.messages.create(model=REASONING, max_tokens=2048, thinking=thinking,
                                              messages=[{"role": "user", "content": "hi"}])
    assert [(b.type, getattr(b, "thinking", None) or getattr(b, "text", None)) for b in message.content] == [
        ("thinking", "Think first."), ("text", "Answer.")]
    with scripted_claude.messages.stream(model=REASONING, max_tokens=2048, thinking=thinking,
                                         messages=[{"role": "user", "content": "hi"}]) as stream:
        thoughts = [event.thinking for event in stream if event.type == "thinking"]
        final = stream.get_final_message()
    assert "".join(thoughts) == "Think first." and final.content[0].thinking == "Think first."
    assert final.content[1].text == "Answer."
