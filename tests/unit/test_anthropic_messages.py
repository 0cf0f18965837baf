"""Anthropic's Messages API as a conversion of chat completions: the request both ways, the stream's
event order, the error envelope, the Claude model map. Expected values are written out by hand from
Anthropic's API reference (Messages, Streaming Messages, Errors, Models)."""

from __future__ import annotations

import json

import pytest

from fakes import FakeAi, collect, make_platform, make_request, run
from gateway import anthropic_messages as am
from gateway import envelopes
from gateway.anthropic_models import DEFAULT_ANTHROPIC_MODEL_MAP, mapped_model, page
from gateway.anthropic_stream import AnthropicRelay, AnthropicStream, message_events
from gateway.app import handle
from gateway.config import Settings
from gateway.errors import ApiError

QWEN = "@cf/qwen/qwen3.8-27b"
GLM = "@cf/zai-org/glm-4.7-flash"
LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
KIMI_CODE = "@cf/moonshotai/kimi-k2.7-code"


# --- the model map -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, model", [
    ("claude-sonnet-4-5-20250929", QWEN),
    ("claude-sonnet-4-5", QWEN),
    ("claude-opus-4-1-20250805", QWEN),
    ("claude-opus-5-5", QWEN),
    ("claude-haiku-4-5-20251001", GLM),
    ("claude-3-5-haiku-20241022", GLM),
    ("claude-3-7-sonnet-latest", QWEN),
    ("claude-instant-1.2", QWEN),  # a Claude name of no family: `claude`
])
def test_claude_names_map_by_family_by_default(name, model):
    assert mapped_model(name, DEFAULT_ANTHROPIC_MODEL_MAP) == model


@pytest.mark.parametrize("name", [LLAMA, "gpt-4o", "llama-3.1-8b-instruct-fast", "", None, 5,
                                  "claude-\n-sonnet", "claude-sonnet\r\nX-Evil: 1", "claude-" + "x" * 300])
def test_other_names_are_left_to_the_chat_endpoint(name):
    # Names unfit for X-Requested-Model too: the chat endpoint refuses them with a 400.
    assert mapped_model(name, DEFAULT_ANTHROPIC_MODEL_MAP) is None


def test_the_map_var_overrides_full_names_prefixes_and_families():
    settings = Settings.from_lookup({
        "ANTHROPIC_MODEL_MAP": f"opus={KIMI_CODE},claude-sonnet-4-5={LLAMA},claude-haiku-4-5-20251001=,haiku={LLAMA}"}.get)
    table = settings.anthropic_model_map
    assert mapped_model("claude-opus-4-1-20250805", table) == KIMI_CODE
    assert mapped_model("claude-sonnet-4-5-20250929", table) == LLAMA  # the longest key it extends
    assert mapped_model("claude-sonnet-4-20250514", table) == QWEN  # still the family default
    assert mapped_model("claude-haiku-4-5-20251001", table) == LLAMA
    as_json = Settings.from_lookup({"ANTHROPIC_MODEL_MAP": json.dumps({"claude-x": GLM})}.get).anthropic_model_map
    assert mapped_model("claude-x", as_json) == GLM and mapped_model("claude-opus-4", as_json) == QWEN
    assert Settings.from_lookup({}.get).anthropic_model_map == DEFAULT_ANTHROPIC_MODEL_MAP


def test_every_default_is_a_chat_model_with_tool_calls_on_the_free_plan():
    from gateway.catalog import BY_ID, CHAT
    for model in DEFAULT_ANTHROPIC_MODEL_MAP.values():
        assert BY_ID[model].task == CHAT and "tools" in BY_ID[model].capabilities and not BY_ID[model].paid


def test_model_pages_follow_limit_after_and_before():
    entries = [{"id": name} for name in "abcde"]
    assert page(entries, limit=2) == {"data": [{"id": "a"}, {"id": "b"}], "first_id": "a", "last_id": "b", "has_more": True}
    assert page(entries, limit="2", after_id="b")["data"] == [{"id": "c"}, {"id": "d"}]
    assert page(entries, limit=5, after_id="c") == {"data": [{"id": "d"}, {"id": "e"}], "first_id": "d", "last_id": "e",
                                                    "has_more": False}
    assert page(entries, limit=2, before_id="e")["data"] == [{"id": "c"}, {"id": "d"}]
    assert page(entries, after_id="zzz") == {"data": [], "first_id": None, "last_id": None, "has_more": False}
    with pytest.raises(ApiError) as refused:
        page(entries, limit=0)
    assert refused.value.status == 400


# --- request -------------------------------------------------------------------------------------------

def test_a_conversation_with_tools_becomes_the_chat_request():
    body = {
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
        "metadata": {"user_id": "u"}, "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Use tools."}],
        "tools": [{"name": "get_weather", "description": "Weather", "cache_control": {"type": "ephemeral"},
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "They want weather.", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Hurry."},
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "-3 °C"}]}]},
        ],
    }
    assert am.chat_body(body, LLAMA) == {
        "model": LLAMA, "max_tokens": 1024, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
        "messages": [
            {"role": "system", "content": "You are terse.\n\nUse tools."},
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
            # The tool's answer first: it must follow the assistant turn that asked for it.
            {"role": "tool", "tool_call_id": "toolu_01", "content": "-3 °C"},
            {"role": "user", "content": "Hurry."},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }


@pytest.mark.parametrize("choice, chat", [({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none")])
def test_tool_choice_kinds(choice, chat):
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "t", "input_schema": {"type": "object"}}], "tool_choice": choice}
    assert am.chat_body(body, "m")["tool_choice"] == chat


def test_images_become_image_parts_and_tool_errors_say_so():
    png = "iVBORw0KGgo="
    body = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "is_error": True, "content": [
            {"type": "text", "text": "no display"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": png}}]}]},
    ]}
    messages = am.chat_body(body, "m")["messages"]
    assert messages[0] == {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
        {"type": "text", "text": "What is this?"}]}
    # A tool message takes text: the result's image follows in a user message.
    assert messages[2:] == [{"role": "tool", "tool_call_id": "toolu_9", "content": "Error: no display"},
                            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{png}"}}]}]


@pytest.mark.parametrize("change, param", [
    ({"max_tokens": None}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
     "messages[0].content[0].source"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]"),
    ({"tools": [5]}, "tools[0]"), ({"tools": [{"name": "t"}, None]}, "tools[1]"),
    ({"tools": [{"name": "t"}], "tool_choice": {"type": "function"}}, "tool_choice"),
    ({"thinking": {"type": "enabled", "budget_tokens": 512}}, "thinking.budget_tokens"),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "max_tokens"),  # the budget must be below max_tokens
    ({"thinking": {"type": "sometimes"}}, "thinking.type"),
    ({"stream": "yes"}, "stream"),
])
def test_malformed_requests_are_400_naming_the_field(change, param):
    body = {"model": "m", "max_tokens": 1024, "messages": [{"role": "user", "content": "x"}], **change}
    body = {key: value for key, value in body.items() if value is not None}
    with pytest.raises(ApiError) as refused:
        am.chat_body(body, "m")
    assert (refused.value.status, refused.value.param) == (400, param)


@pytest.mark.parametrize("asked, cap, sent", [(128000, 8192, 8192), (8192, 8192, 8192), (100, 8192, 100), (128000, None, 128000)])
def test_max_tokens_is_lowered_to_the_cap(asked, cap, sent):
    body = {"model": "m", "max_tokens": asked, "messages": [{"role": "user", "content": "x"}]}
    assert am.chat_body(body, "m", max_tokens_cap=cap)["max_tokens"] == sent


@pytest.mark.parametrize("value, cap", [(None, 8192), ("", 8192), ("32000", 32000), ("0", 8192), ("lots", 8192), ("2000000", 8192)])
def test_anthropic_max_tokens_var(value, cap):
    env = {} if value is None else {"ANTHROPIC_MAX_TOKENS": value}
    assert Settings.from_lookup(env.get).anthropic_max_tokens == cap


def test_count_tokens_needs_no_max_tokens():
    assert "max_tokens" not in am.chat_body({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "m", for_counting=True)


@pytest.mark.parametrize("thinking, model, controls", [
    (None, QWEN, {"chat_template_kwargs": {"enable_thinking": False}}),  # Anthropic's default: no thinking
    ({"type": "disabled"}, GLM, {"chat_template_kwargs": {"enable_thinking": False}}),
    ({"type": "enabled", "budget_tokens": 2000}, QWEN, {"chat_template_kwargs": {"enable_thinking": True}, "reasoning_effort": "low"}),
    ({"type": "enabled", "budget_tokens": 10000}, QWEN, {"chat_template_kwargs": {"enable_thinking": True}, "reasoning_effort": "medium"}),
    ({"type": "enabled", "budget_tokens": 30000}, QWEN, {"chat_template_kwargs": {"enable_thinking": True}, "reasoning_effort": "high"}),
    ({"type": "adaptive"}, QWEN, {"chat_template_kwargs": {"enable_thinking": True}}),
    # kimi-k2.7-code's contract allows enable_thinking true only, and has no reasoning_effort.
    (None, KIMI_CODE, {}),
    ({"type": "enabled", "budget_tokens": 2000}, KIMI_CODE, {"chat_template_kwargs": {"enable_thinking": True}}),
    # Models whose contract has no reasoning controls get none.
    ({"type": "enabled", "budget_tokens": 2000}, LLAMA, {}),
    ({"type": "enabled", "budget_tokens": 2000}, "@cf/openai/gpt-oss-120b", {}),
])
def test_thinking_becomes_the_models_reasoning_controls(thinking, model, controls):
    body = {"model": "m", "max_tokens": 32000, "messages": [{"role": "user", "content": "x"}],
            **({"thinking": thinking} if thinking else {})}
    chat = am.chat_body(body, model, model)
    assert {key: chat[key] for key in ("chat_template_kwargs", "reasoning_effort") if key in chat} == controls


def test_an_effort_in_output_config_wins_over_the_budget():
    body = {"model": "m", "max_tokens": 32000, "messages": [{"role": "user", "content": "x"}],
            "thinking": {"type": "enabled", "budget_tokens": 2000}, "output_config": {"effort": "high"}}
    assert am.chat_body(body, QWEN, QWEN)["reasoning_effort"] == "high"


# --- response ------------------------------------------------------------------------------------------

def completion(message: dict, finish: str, usage: dict | None = None) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": QWEN,
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": usage or {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27}}


USAGE = {"input_tokens": 20, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
         "cache_creation": None, "inference_geo": None, "output_tokens_details": None, "server_tool_use": None,
         "service_tier": "standard", "iterations": None, "speed": None}


def test_a_completion_with_reasoning_and_a_tool_call_becomes_a_message():
    chat = completion({"content": "Let me look.", "reasoning_content": "Need the weather.",
                       "tool_calls": [{"id": "call_7", "type": "function",
                                       "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]}, "tool_calls")
    message = am.message_object(chat, [])
    assert message["id"].startswith("msg_")
    assert {key: value for key, value in message.items() if key != "id"} == {
        "type": "message", "role": "assistant", "model": QWEN,
        "content": [{"type": "thinking", "thinking": "Need the weather.", "signature": ""},
                    {"type": "text", "text": "Let me look.", "citations": None},
                    {"type": "tool_use", "id": "toolu_call_7", "name": "get_weather", "input": {"city": "Oslo"},
                     "caller": {"type": "direct"}}],
        "stop_reason": "tool_use", "stop_sequence": None, "stop_details": None, "container": None,
        "usage": USAGE, "context_management": None, "diagnostics": None}


@pytest.mark.parametrize("finish, stop_reason", [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"),
                                                 (None, "end_turn")])
def test_finish_reasons_become_stop_reasons(finish, stop_reason):
    assert am.message_object(completion({"content": "hi"}, finish), [])["stop_reason"] == stop_reason


def test_a_stop_sequence_cuts_the_text_and_is_named():
    message = am.message_object(completion({"content": "one two three four"}, "stop"), ["four", "three"])
    assert message["content"] == [{"type": "text", "text": "one two ", "citations": None}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "three")


def test_cached_tokens_the_model_reported_are_cache_reads():
    usage = am.usage({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 60}})
    assert (usage["input_tokens"], usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (40, 60, 0)


def test_thinking_display_omitted_leaves_the_block_empty():
    message = am.message_object(completion({"content": "4", "reasoning_content": "2+2"}, "stop"), [], show_thinking=False)
    assert message["content"][0] == {"type": "thinking", "thinking": "", "signature": ""}


# --- stream --------------------------------------------------------------------------------------------

async def chat_source(*chunks):
    for chunk in chunks:
        yield chunk if isinstance(chunk, str) else f"data: {json.dumps(chunk)}\n\n"


def delta(**fields) -> dict:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": QWEN,
            "choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


def finish(reason: str) -> dict:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": QWEN,
            "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}


def parsed(texts: list[str]) -> list[dict]:
    events = []
    for text in texts:
        for block in text.split("\n\n"):
            if block:
                name, data = block.split("\n")
                event = json.loads(data.removeprefix("data: "))
                assert name == f"event: {event['type']}"
                events.append(event)
    return events


class ScriptedChatRelay:
    """Stands in for ChatStreamRelay in the runtime's pipe: each read delivers one chat event."""

    def __init__(self):
        self.finished = self.closed = False
        self.ended_as = None

    def feed_events(self, data: bytes) -> list[str]:
        if data == b"data: [DONE]\n\n":  # as the real relay: [DONE] is sent by end_events
            self.finished = True
            return []
        return [data.decode()]

    def end_events(self) -> list[str]:
        if not self.finished:  # as the real relay: a stream without [DONE] was cut
            return self.fail_events("the stream ended without [DONE]")
        self.closed, self.ended_as = True, "end"
        return ["data: [DONE]\n\n"]

    def fail_events(self, reason: str) -> list[str]:
        if self.closed:
            return []
        self.closed, self.ended_as = True, "fail"
        return ['data: {"error": {"message": "broke"}}\n\n']


def piped(chunks, stream_state: AnthropicStream) -> tuple[list[str], ScriptedChatRelay]:
    """What the runtime's pipe sends: feed_bytes per read until the relay says it is done, then end()."""
    chat = ScriptedChatRelay()
    relay = AnthropicRelay(chat, stream_state)
    out = []
    for text in run(collect(chat_source(*chunks))):
        out.append(relay.feed_bytes(text.encode()).decode())
        if relay.finished or relay.closed:
            break
    out.append(relay.end())
    assert relay.end() == "" and relay.fail("late") == ""  # once closed, nothing more
    return out, chat


def stream(*chunks, stops=(), estimate=11, show_thinking=True) -> list[dict]:
    """The events of both ways a Messages stream is made (read in Python; inside the runtime's
    pipe), which must agree but for the message id."""
    read = parsed(run(collect(message_events(chat_source(*chunks), AnthropicStream(QWEN, list(stops), estimate, show_thinking)))))
    in_pipe = parsed(piped(chunks, AnthropicStream(QWEN, list(stops), estimate, show_thinking))[0])
    in_pipe[0]["message"]["id"] = read[0]["message"]["id"]
    assert in_pipe == read
    return read


def test_the_pipe_settles_the_chat_relay_however_the_answer_ends():
    _, done = piped([delta(content="Hi"), finish("stop"), "data: [DONE]\n\n"], AnthropicStream(QWEN, [], 1))
    _, stopped = piped([delta(content="Hi STOP more"), delta(content="x")], AnthropicStream(QWEN, ["STOP"], 1))
    assert (done.ended_as, stopped.ended_as) == ("end", "fail")  # both metered; the cut one by what was relayed


def test_a_broken_stream_in_the_pipe_ends_with_one_error_event():
    chat = ScriptedChatRelay()
    relay = AnthropicRelay(chat, AnthropicStream(QWEN, [], 1))
    first = parsed([relay.feed_bytes(f"data: {json.dumps(delta(content='Hi'))}\n\n".encode()).decode()])
    failed = parsed([relay.fail("the stream was silent for 120s")])
    assert [e["type"] for e in first] == ["message_start", "ping", "content_block_start", "content_block_delta"]
    assert [e["type"] for e in failed] == ["content_block_stop", "error"] and chat.ended_as == "fail"
    assert relay.closed and relay.end() == ""


def test_the_stream_comes_in_anthropics_order():
    events = stream(
        delta(role="assistant", content=""),
        delta(reasoning_content="Think"), delta(reasoning_content="ing."),
        delta(content="Hel"), delta(content="lo"),
        delta(tool_calls=[{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '{"a":'}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": " 1}"}}]),
        finish("tool_calls"),
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": QWEN, "choices": [],
         "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}},
        "data: [DONE]\n\n",
    )
    start = events[0]["message"]
    assert start["id"].startswith("msg_")
    assert events[0] == {"type": "message_start", "message": {
        "id": start["id"], "type": "message", "role": "assistant", "content": [], "model": QWEN, "stop_reason": None,
        "stop_sequence": None, "stop_details": None, "container": None, "context_management": None, "diagnostics": None,
        "usage": {**USAGE, "input_tokens": 11, "output_tokens": 0}}}
    assert events[1:] == [
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Think", "estimated_tokens": None}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "ing.", "estimated_tokens": None}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": "", "citations": None}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_call_1", "name": "f",
                                                                      "input": {}, "caller": {"type": "direct"}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": " 1}"}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "context_management": None,
         "delta": {"stop_reason": "tool_use", "stop_sequence": None, "stop_details": None, "container": None},
         "usage": {"input_tokens": 30, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                   "output_tokens_details": None, "server_tool_use": None, "iterations": None}},
        {"type": "message_stop"},
    ]


def test_text_pieces_keep_their_characters_on_every_path():
    # The relay's own chunk form (with logprobs) and a model's (without), escapes and non-ASCII alike.
    relay_form = 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,' \
                 '"delta":{"content":"He said \\"hi\\"\\n"},"logprobs":null,"finish_reason":null}]}\n\n'
    model_form = 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,' \
                 '"delta":{"content":" caf\\u00e9 \u2028ok\\\\"},"finish_reason":null}]}\n\n'
    events = stream(delta(content="First."), relay_form, model_form, delta(content=""), finish("stop"), "data: [DONE]\n\n")
    texts = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert texts == ["First.", 'He said "hi"\n', " caf\u00e9 \u2028ok\\"]
    assert [e["type"] for e in events].count("content_block_start") == 1


def test_a_stop_sequence_split_across_chunks_ends_the_stream():
    events = stream(delta(content="one two th"), delta(content="ree four"), delta(content=" five"), finish("stop"),
                    "data: [DONE]\n\n", stops=["three"])
    texts = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert "".join(texts) == "one two "
    assert events[-2]["delta"]["stop_reason"] == "stop_sequence" and events[-2]["delta"]["stop_sequence"] == "three"


def test_a_length_cut_is_max_tokens():
    events = stream(delta(content="a b"), finish("length"), "data: [DONE]\n\n")
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"


def test_a_broken_stream_ends_with_an_error_event():
    events = stream(delta(content="par"),
                    {"error": {"message": "The stream broke off.", "type": "server_error", "code": "stream_interrupted"}})
    assert [e["type"] for e in events] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                           "content_block_stop", "error"]
    assert events[-1] == {"type": "error", "error": {"type": "api_error", "message": "The stream broke off."}, "request_id": None}


def test_omitted_thinking_streams_an_empty_thinking_block():
    events = stream(delta(reasoning_content="secret"), delta(content="ok"), finish("stop"), "data: [DONE]\n\n",
                    show_thinking=False)
    assert "secret" not in json.dumps(events)
    assert events[2]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}


# --- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("error, status, kind", [
    (ApiError(400, "bad"), 400, "invalid_request_error"),
    (ApiError(401, "who", type="authentication_error"), 401, "authentication_error"),
    (ApiError(403, "paid", type="permission_error", code="requires_workers_paid"), 403, "permission_error"),
    (ApiError(404, "none"), 404, "not_found_error"),
    (ApiError(405, "method"), 405, "invalid_request_error"),
    (ApiError(413, "big"), 413, "request_too_large"),
    (ApiError(429, "slow", type="rate_limit_error", code="rate_limit_exceeded"), 429, "rate_limit_error"),
    (ApiError(429, "full", type="rate_limit_error", code="capacity_exceeded"), 529, "overloaded_error"),
    (ApiError(500, "oops", type="server_error"), 500, "api_error"),
    (ApiError(502, "upstream", type="server_error"), 502, "api_error"),
    (ApiError(504, "slow", type="server_error"), 504, "timeout_error"),
])
def test_errors_in_anthropics_envelope_and_statuses(error, status, kind):
    response = envelopes.anthropic(error)
    body = json.loads(response.body)
    assert response.status == status
    assert body == {"type": "error", "error": {"type": kind, "message": error.message}, "request_id": body["request_id"]}
    assert body["request_id"].startswith("req_") and response.headers["request-id"] == body["request_id"]


# --- through the app -------------------------------------------------------------------------------------

def test_x_api_key_and_bearer_open_the_same_key():
    calls = []

    def ai(model, inputs):
        calls.append(model)
        return {"response": "hi", "usage": {"prompt_tokens": 2, "completion_tokens": 1}}

    platform = make_platform(FakeAi(ai))
    body = {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
    for headers in ({"x-api-key": "sk-unit"}, {"authorization": "Bearer sk-unit"}):
        answer = run(handle(make_request("POST", "/v1/messages", headers=headers, body=body), platform))
        assert answer.status == 200, answer.body
        assert json.loads(answer.body)["model"] == GLM == answer.headers["X-Model"]
        assert answer.headers["X-Requested-Model"] == "claude-haiku-4-5"
    assert calls == [GLM, GLM]
    refused = run(handle(make_request("POST", "/v1/messages", headers={"x-api-key": "sk-nope"}, body=body), platform))
    assert refused.status == 401 and json.loads(refused.body)["error"]["type"] == "authentication_error"


def test_an_unknown_path_with_anthropic_version_answers_in_anthropics_envelope():
    platform = make_platform()
    answer = run(handle(make_request("GET", "/v1/messages/batches", headers={"x-api-key": "sk-unit", "anthropic-version": "2023-06-01"}),
                        platform))
    assert answer.status == 404 and json.loads(answer.body)["error"]["type"] == "not_found_error"
    plain = run(handle(make_request("GET", "/v1/nothing", headers={"x-api-key": "sk-unit"}), platform))
    assert json.loads(plain.body)["error"]["type"] != "not_found_error"  # OpenAI's envelope without the header


def test_openai_routes_keep_their_envelope_whatever_the_headers():
    answer = run(handle(make_request("POST", "/v1/chat/completions", body={"messages": []},
                                     headers={"x-api-key": "sk-unit", "anthropic-version": "2023-06-01"}), make_platform()))
    assert answer.status == 400 and "message" in json.loads(answer.body)["error"] and "type" not in json.loads(answer.body)
    models = run(handle(make_request("GET", "/v1/models", headers={"x-api-key": "sk-nope", "anthropic-version": "2023-06-01"}),
                        make_platform()))
    assert models.status == 401 and json.loads(models.body)["type"] == "error"
