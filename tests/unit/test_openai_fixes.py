"""Deviations from OpenAI's API description, fixed: null parameters, `refusal` on chat messages,
the Responses API's usage details and function tools, usage in streams only when asked for,
non-string Responses content, `//` in paths, and the numeric ranges of request parameters.

Every expected value is written out from OpenAI's description, never computed with the gateway."""

from __future__ import annotations

import json

import pytest

from fakes import FakeAi, collect, make_platform, make_request, run
from gateway import ledger, responses
from gateway.app import handle, resolve_route
from gateway.catalog import BY_ID
from gateway.chat_completion import completion
from gateway.chat_request import ChatRequest
from gateway.chat_stream import ChatStreamRelay, passthrough_safe
from gateway.errors import ApiError
from gateway.http import RelayResponse

KEY = {"Authorization": "Bearer sk-unit"}
LLAMA = BY_ID["@cf/meta/llama-3.1-8b-instruct-fast"]
GPT_OSS = BY_ID["@cf/openai/gpt-oss-20b"]
QWEN3 = BY_ID["@cf/qwen/qwen3-30b-a3b-fp8"]
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


@pytest.fixture(autouse=True)
def fresh_isolate():
    ledger.reset()
    yield
    ledger.reset()


def legacy_answer(model, inputs):
    return {"response": "ok", "usage": {"prompt_tokens": 10, "completion_tokens": 20}}


def send(path, body, answer=legacy_answer):
    ai = FakeAi(answer)
    response = run(handle(make_request("POST", path, headers=KEY, body=body), make_platform(ai=ai)))
    return response, ai


def json_of(response) -> dict:
    return json.loads(response.body)


def error_of(response) -> tuple[int, str | None, str]:
    error = json_of(response)["error"]
    return response.status, error["param"], error["type"]


# --- 2. null is unset ---------------------------------------------------------------------------------

CHAT_NULLS = {"stream": None, "stream_options": None, "temperature": None, "top_p": None, "max_tokens": None,
              "max_completion_tokens": None, "stop": None, "n": None, "seed": None, "user": None,
              "presence_penalty": None, "frequency_penalty": None, "logprobs": None, "top_logprobs": None,
              "response_format": None, "tools": None, "tool_choice": None, "parallel_tool_calls": None}
COMPLETIONS_NULLS = {"stream": None, "stream_options": None, "temperature": None, "top_p": None, "max_tokens": None,
                     "stop": None, "n": None, "seed": None, "user": None, "echo": None, "logprobs": None,
                     "best_of": None, "suffix": None, "presence_penalty": None, "frequency_penalty": None}
RESPONSES_NULLS = {"stream": None, "temperature": None, "top_p": None, "max_output_tokens": None, "user": None,
                   "instructions": None, "tools": None, "tool_choice": None, "text": None, "metadata": None,
                   "previous_response_id": None, "parallel_tool_calls": None, "reasoning": None, "store": None,
                   "truncation": None, "top_logprobs": None, "background": None}


def test_null_parameters_of_a_chat_request_are_unset():
    request = ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}], **CHAT_NULLS}, LLAMA)
    assert request.stream is False and request.include_usage is False and request.stop == []
    assert request.inputs == {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("path", "body", "kind"), [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], **CHAT_NULLS}, "chat.completion"),
    ("/v1/completions", {"prompt": "hi", **COMPLETIONS_NULLS}, "text_completion"),
    ("/v1/responses", {"input": "hi", **RESPONSES_NULLS}, "response"),
], ids=["chat", "completions", "responses"])
def test_null_parameters_are_answered_as_if_unset(path, body, kind):
    response, ai = send(path, body)
    assert response.status == 200, response.body
    assert json_of(response)["object"] == kind  # not streamed
    ((_, inputs),) = ai.calls
    assert "stream" not in inputs and None not in inputs.values()


@pytest.mark.parametrize("echo", [{}, 0, "yes"], ids=["object", "zero", "string"])
def test_a_non_boolean_echo_is_a_400_now_that_null_stream_no_longer_hides_it(echo):
    response, ai = send("/v1/completions", {"prompt": "hi", "stream": None, "echo": echo})
    assert error_of(response) == (400, "echo", "invalid_request_error")
    assert ai.calls == []


# --- 4. `refusal` on every chat message -------------------------------------------------------------

def test_a_chat_message_carries_a_null_refusal_beside_its_content():
    request = ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}]}, LLAMA)
    out = completion({"response": "hello", "usage": USAGE}, request, created=1)
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "hello", "refusal": None}


def test_a_tool_calling_message_keeps_its_calls_and_a_null_content_and_refusal():
    request = ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}]}, GPT_OSS)
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    result = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}],
              "usage": USAGE}
    message = completion(result, request, created=1)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}


def test_refusal_reaches_chat_answers_but_not_text_completions():
    chat, _ = send("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert json_of(chat)["choices"][0]["message"] == {"role": "assistant", "content": "ok", "refusal": None}
    text, _ = send("/v1/completions", {"prompt": "hi"})
    assert json_of(text)["choices"][0] == {"text": "ok", "index": 0, "logprobs": None, "finish_reason": "stop"}


# --- 5. the Responses API's usage details and function tools ---------------------------------------

WEATHER = {"type": "function", "name": "weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def chat_answer(content="Hi", usage=None):
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None}, "finish_reason": "stop"}],
            "usage": usage or {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}}


def test_a_response_reports_cached_and_reasoning_tokens():
    usage = responses.response_object(chat_answer(), {"input": "x"})["usage"]
    assert usage == {"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
                     "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 6}


@pytest.mark.parametrize(("sent", "echoed"), [
    (WEATHER, {**WEATHER, "strict": True}),
    ({**WEATHER, "strict": False}, {**WEATHER, "strict": False}),
    ({**WEATHER, "strict": None}, {**WEATHER, "strict": None}),
    ({"type": "function", "name": "now"}, {"type": "function", "name": "now", "parameters": None, "strict": True}),
], ids=["default", "false", "null", "no-parameters"])
def test_echoed_function_tools_carry_strict_and_parameters(sent, echoed):
    body = {"input": "x", "tools": [sent]}
    assert responses.response_object(chat_answer(), body)["tools"] == [echoed]
    events = [json.loads(e.split("data: ", 1)[1]) for e in run(collect(responses.response_events(_stream("Hi"), body, "m")))]
    by_type = {e["type"]: e for e in events}
    for kind in ("response.created", "response.in_progress", "response.completed"):
        assert by_type[kind]["response"]["tools"] == [echoed]
    assert by_type["response.completed"]["response"]["usage"] == {
        "input_tokens": 3, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 5}


async def _stream(text):
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {'content': text}, 'finish_reason': None}]})}\n\n"
    yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
    yield f"data: {json.dumps({**base, 'choices': [], 'usage': USAGE})}\n\n"
    yield "data: [DONE]\n\n"


# --- 7. usage in a chat stream only when asked for ----------------------------------------------------

def openai_stream(model_id: str) -> bytes:
    """A model's OpenAI-shaped stream, usage on its last chunk whatever was asked (as Workers AI's do)."""
    return (
        f'data: {{"id":"up","object":"chat.completion.chunk","created":7,"model":"{model_id}","choices":[{{"index":0,"delta":{{"role":"assistant","content":"Hel"}},"finish_reason":null}}]}}\n\n'
        f'data: {{"id":"up","object":"chat.completion.chunk","created":7,"model":"{model_id}","choices":[{{"index":0,"delta":{{"content":"lo"}},"finish_reason":null}}]}}\n\n'
        f'data: {{"id":"up","object":"chat.completion.chunk","created":7,"model":"{model_id}","choices":[{{"index":0,"delta":{{}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}}}\n\n'
        "data: [DONE]\n\n"
    ).encode()


def relayed(model, body: dict, data: bytes) -> tuple[list, list]:
    """The relay's events for the model's stream `data`, and what it told its `on_finish`."""
    told = []
    request = ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}], "stream": True, **body}, model)
    relay = ChatStreamRelay(request, created=1, on_finish=lambda usage, chars: told.append(usage))
    text = relay.feed(data) + relay.end()
    return [e[len("data: "):] for e in text.split("\n\n") if e], told


@pytest.mark.parametrize("model", [GPT_OSS, QWEN3], ids=["gpt-oss", "qwen3-30b"])
@pytest.mark.parametrize("body", [{}, {"stream_options": {"include_usage": False}}, {"stream_options": None}],
                         ids=["unset", "false", "null"])
def test_a_stream_that_did_not_ask_for_usage_has_none(model, body):
    events, told = relayed(model, body, openai_stream(model.id))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c for c in chunks if "usage" in c] == []
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == ["stop"]
    assert told == [{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}]  # the meter still learns it


@pytest.mark.parametrize("model", [GPT_OSS, QWEN3], ids=["gpt-oss", "qwen3-30b"])
def test_the_models_chunks_are_relayed_as_sent_less_the_usage(model):
    data = openai_stream(model.id)
    request = ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}], "stream": True}, model)
    for cut in range(1, len(data), 29):
        relay = ChatStreamRelay(request, created=1)
        text = relay.feed(data[:cut]) + relay.feed(data[cut:]) + relay.end()
        assert text.encode() == data.replace(b',"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}', b"")


@pytest.mark.parametrize("model", [GPT_OSS, QWEN3], ids=["gpt-oss", "qwen3-30b"])
def test_a_stream_that_asked_for_usage_has_it_once_in_its_own_last_chunk(model):
    events, _ = relayed(model, {"stream_options": {"include_usage": True}}, openai_stream(model.id))
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c for c in chunks if "usage" in c] == [chunks[-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_an_openai_shaped_stream_is_never_handed_on_with_its_usage():
    request = ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}], "stream": True}, GPT_OSS)
    assert not passthrough_safe(request)


class ModelStream:
    """A model's stream as the runtime hands it over: read in Python."""

    def __init__(self, data: bytes):
        self.data = data
        self.handle = object()

    async def __aiter__(self):
        yield self.data


def test_the_chat_endpoint_relays_an_openai_shaped_stream_without_its_usage():
    response, _ = send("/v1/chat/completions", {"model": GPT_OSS.id, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                       answer=lambda model, inputs: ModelStream(openai_stream(GPT_OSS.id)))
    assert isinstance(response, RelayResponse) and response.headers["X-Stream-Relay"] == "transform"
    text = response.relay.feed(openai_stream(GPT_OSS.id)) + response.relay.end()
    assert '"usage"' not in text and text.endswith("data: [DONE]\n\n")


def test_completions_streams_follow_the_same_rule():
    def answer(model, inputs):
        return ModelStream(openai_stream(model))

    completions, _ = send("/v1/completions", {"model": GPT_OSS.id, "prompt": "hi", "stream": True}, answer=answer)
    text = "".join(run(collect(completions.chunks)))
    assert '"usage"' not in text and text.endswith("data: [DONE]\n\n")
    asked, _ = send("/v1/completions", {"model": GPT_OSS.id, "prompt": "hi", "stream": True,
                                         "stream_options": {"include_usage": True}}, answer=answer)
    chunks = [json.loads(e[6:]) for e in "".join(run(collect(asked.chunks))).split("\n\n") if e and e != "data: [DONE]"]
    assert [c for c in chunks if c.get("usage")] == [chunks[-1]] and chunks[-1]["usage"]["total_tokens"] == 5


# --- 8. non-string Responses content ----------------------------------------------------------------

@pytest.mark.parametrize(("item", "param"), [
    ({"role": "assistant", "content": [{"type": "refusal", "refusal": 123}]}, "input[0].content[0].refusal"),
    ({"role": "assistant", "content": [{"type": "refusal", "refusal": ["no"]}]}, "input[0].content[0].refusal"),
    ({"role": "assistant", "content": [{"type": "refusal"}]}, "input[0].content[0].refusal"),
    ({"role": "user", "content": [{"type": "input_text", "text": 5}]}, "input[0].content[0].text"),
    ({"role": "assistant", "content": [{"type": "output_text", "text": {"a": 1}}]}, "input[0].content[0].text"),
    ({"role": "user", "content": [{"type": "input_image", "image_url": 7}]}, "input[0].content[0].image_url"),
    ({"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}, "input[0].content[0].type"),
    ({"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}, "input[0].arguments"),
    ({"type": "function_call_output", "call_id": "c", "output": [{"type": "refusal", "refusal": 5}]}, "input[0].output[0].refusal"),
    # Found by the requests generated from OpenAI's description: a `type` that is an object or array.
    ({"type": "function_call_output", "call_id": "c", "output": [{"type": {}, "file_url": "https://0.com"}]}, "input[0].output[0].type"),
    ({"role": "user", "content": [{"type": [None, None], "text": ""}]}, "input[0].content[0].type"),
], ids=["refusal-int", "refusal-list", "refusal-missing", "input_text-int", "output_text-object", "image-int",
        "input_file", "arguments-object", "output-refusal-int", "type-object", "type-array"])
def test_non_string_responses_content_is_a_400_naming_the_field(item, param):
    response, ai = send("/v1/responses", {"input": [item]})
    assert error_of(response) == (400, param, "invalid_request_error")
    assert ai.calls == []


def test_a_string_refusal_is_taken_as_the_assistants_text():
    chat = responses.chat_body({"input": [{"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]}]})
    assert chat["messages"] == [{"role": "assistant", "content": "I can't."}]


# --- 10. repeated slashes ------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "pattern"), [
    ("POST", "//v1/chat/completions", "/v1/chat/completions"),
    ("POST", "/v1//chat//completions", "/v1/chat/completions"),
    ("POST", "///v1/responses", "/v1/responses"),
    ("POST", "//v1//v1/completions", "/v1/completions"),
    ("POST", "//chat/completions", "/v1/chat/completions"),
    ("GET", "//v1/models/", "/v1/models"),
    ("GET", "//health", "/health"),
    ("POST", "//v2/translate", "/v2/translate"),
])
def test_repeated_slashes_reach_the_route(method, path, pattern):
    assert resolve_route(method, path).route.pattern == pattern


def test_a_model_path_with_repeated_slashes_names_the_model():
    assert resolve_route("GET", "//v1/models//@cf/meta/llama-3.1-8b-instruct-fast").params == {"model": "@cf/meta/llama-3.1-8b-instruct-fast"}


def test_a_base_url_ending_in_a_slash_gets_its_answer():
    response, _ = send("//v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert response.status == 200 and json_of(response)["object"] == "chat.completion"


# --- 11. numeric ranges -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "param"), [
    ({"temperature": 5}, "temperature"), ({"temperature": 2.01}, "temperature"), ({"temperature": -0.1}, "temperature"),
    ({"top_p": 1.5}, "top_p"), ({"top_p": -0.5}, "top_p"),
    ({"presence_penalty": 3}, "presence_penalty"), ({"frequency_penalty": -3}, "frequency_penalty"),
    ({"n": 0}, "n"), ({"n": -1}, "n"), ({"n": 129}, "n"),
    ({"top_logprobs": 21}, "top_logprobs"), ({"top_logprobs": -1}, "top_logprobs"), ({"top_logprobs": 2.5}, "top_logprobs"),
    ({"max_tokens": 0}, "max_tokens"), ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"max_completion_tokens": 9, "max_tokens": 0}, "max_tokens"),
    ({"temperature": True}, "temperature"), ({"temperature": "1"}, "temperature"),
])
def test_chat_out_of_range_values_are_a_400_naming_the_parameter(extra, param):
    response, ai = send("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], **extra})
    assert error_of(response) == (400, param, "invalid_request_error")
    assert ai.calls == []


@pytest.mark.parametrize(("extra", "param"), [
    ({"temperature": 5}, "temperature"), ({"top_p": 1.5}, "top_p"), ({"presence_penalty": 3}, "presence_penalty"),
    ({"frequency_penalty": -3}, "frequency_penalty"), ({"n": 0}, "n"), ({"max_tokens": 0}, "max_tokens"),
])
def test_completions_out_of_range_values_are_a_400_naming_the_parameter(extra, param):
    response, ai = send("/v1/completions", {"prompt": "hi", **extra})
    assert error_of(response) == (400, param, "invalid_request_error")
    assert ai.calls == []


@pytest.mark.parametrize(("extra", "param"), [
    ({"temperature": 2.5}, "temperature"), ({"top_p": 1.01}, "top_p"), ({"max_output_tokens": 15}, "max_output_tokens"),
    ({"max_output_tokens": 0}, "max_output_tokens"), ({"top_logprobs": 21}, "top_logprobs"),
])
def test_responses_out_of_range_values_are_a_400_naming_the_parameter(extra, param):
    response, ai = send("/v1/responses", {"input": "hi", **extra})
    assert error_of(response) == (400, param, "invalid_request_error")
    assert ai.calls == []


def test_the_bounds_themselves_are_accepted_and_passed_on():
    bounds = {"temperature": 2, "top_p": 1, "presence_penalty": -2, "frequency_penalty": 2, "n": 1, "top_logprobs": 20,
              "max_tokens": 1}
    response, ai = send("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], **bounds})
    assert response.status == 200
    ((_, inputs),) = ai.calls
    # (presence_penalty -2 is OpenAI's; the model's own contract then moves it into its range.)
    assert {k: inputs[k] for k in ("temperature", "top_p", "frequency_penalty", "max_tokens")} == {
        "temperature": 2, "top_p": 1, "frequency_penalty": 2, "max_tokens": 1}
    lowest, _ = send("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "temperature": 0, "top_p": 0,
                                             "top_logprobs": 0})
    assert lowest.status == 200
    sixteen, ai = send("/v1/responses", {"input": "hi", "max_output_tokens": 16, "temperature": 2, "top_p": 1, "top_logprobs": 0})
    assert sixteen.status == 200 and ai.calls[0][1]["max_tokens"] == 16


def test_n_within_openais_range_but_above_one_is_still_refused_as_unsupported():
    response, _ = send("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 2})
    assert error_of(response) == (400, "n", "invalid_request_error")
    assert "Only `n: 1`" in json_of(response)["error"]["message"]


def test_a_range_refusal_says_the_range():
    with pytest.raises(ApiError) as caught:
        ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}], "temperature": 5}, LLAMA)
    assert caught.value.message == "`temperature` must be a number from 0 to 2."
    with pytest.raises(ApiError) as caught:
        responses.chat_body({"input": "hi", "max_output_tokens": 8})
    assert caught.value.message == "`max_output_tokens` must be an integer from 16 to 1000000."
