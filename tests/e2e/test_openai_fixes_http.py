"""Deviations from OpenAI's API description, fixed, through HTTP: null parameters, `refusal` on chat
messages, the Responses API's usage details and function tools, usage in streams only when asked for,
non-string Responses content, a base URL ending in `/`, and the numeric ranges of parameters.

Expected values are written out from OpenAI's description and the emulator's answers."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"
GPT_OSS = "@cf/openai/gpt-oss-20b"
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
USAGE_KEYS = {"input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details", "total_tokens"}


def post(http, auth_headers, path, body) -> httpx.Response:
    return http.post(path, headers=auth_headers, json=body)


def data_events(text: str) -> list:
    events = [e[len("data: "):] for e in text.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]", text[-300:]
    return [json.loads(e) for e in events[:-1]]


def responses_events(text: str) -> list[dict]:
    return [json.loads(block.split("data: ", 1)[1]) for block in text.split("\n\n") if "data: " in block]


# --- 2. null is unset ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body", "kind"), [
    ("/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "nulls"}], "stream": None,
                              "stream_options": None, "temperature": None, "top_p": None, "max_tokens": None,
                              "max_completion_tokens": None, "stop": None, "n": None, "seed": None, "user": None,
                              "presence_penalty": None, "frequency_penalty": None, "top_logprobs": None,
                              "response_format": None, "tools": None, "tool_choice": None}, "chat.completion"),
    ("/v1/chat/completions", {"model": GPT_OSS, "messages": [{"role": "user", "content": "nulls"}], "stream": None,
                              "temperature": None, "max_tokens": None}, "chat.completion"),
    ("/v1/completions", {"model": CHAT, "prompt": "nulls", "stream": None, "stream_options": None, "temperature": None,
                         "top_p": None, "max_tokens": None, "stop": None, "n": None, "seed": None, "user": None,
                         "echo": None, "logprobs": None, "best_of": None, "suffix": None}, "text_completion"),
    ("/v1/responses", {"model": CHAT, "input": "nulls", "stream": None, "temperature": None, "top_p": None,
                       "max_output_tokens": None, "user": None, "instructions": None, "tools": None, "tool_choice": None,
                       "text": None, "metadata": None, "previous_response_id": None, "top_logprobs": None}, "response"),
], ids=["chat", "chat-openai-shaped", "completions", "responses"])
def test_null_parameters_are_answered_as_if_unset(http, auth_headers, path, body, kind):
    response = post(http, auth_headers, path, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert answer["object"] == kind
    text = json.dumps(answer)
    assert f"You said: nulls" in text


def test_a_null_stream_does_not_let_a_non_boolean_echo_through(http, auth_headers):
    response = post(http, auth_headers, "/v1/completions", {"model": CHAT, "prompt": "x", "stream": None, "echo": {}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "echo"


# --- 4. `refusal` on every chat message -------------------------------------------------------------

@pytest.mark.parametrize("model", [CHAT, GPT_OSS])
def test_chat_messages_carry_a_null_refusal(http, auth_headers, model):
    answer = post(http, auth_headers, "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "Hi"}]}).json()
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": f"This is {model} (emulated). You said: Hi",
                                               "refusal": None}


@pytest.mark.parametrize("model", [CHAT, GPT_OSS])
def test_a_tool_calling_message_keeps_its_calls_beside_a_null_refusal(http, auth_headers, model):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["parameters"]}}]
    answer = post(http, auth_headers, "/v1/chat/completions",
                  {"model": model, "messages": [{"role": "user", "content": "Weather?"}], "tools": tools}).json()
    message = answer["choices"][0]["message"]
    assert message["role"] == "assistant" and message["content"] is None and message["refusal"] is None
    assert [call["function"]["name"] for call in message["tool_calls"]] == ["get_weather"]


def test_text_completions_and_streamed_chunks_are_unchanged(http, auth_headers):
    text = post(http, auth_headers, "/v1/completions", {"model": CHAT, "prompt": "Hi"}).json()
    assert text["choices"][0] == {"text": f"This is {CHAT} (emulated). You said: Hi", "index": 0, "logprobs": None,
                                  "finish_reason": "stop"}
    chunks = data_events(post(http, auth_headers, "/v1/chat/completions",
                              {"model": CHAT, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}).text)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}


# --- 5. the Responses API's usage details and function tools ---------------------------------------

def test_a_response_echoes_function_tools_with_strict_and_reports_token_details(http, auth_headers):
    answer = post(http, auth_headers, "/v1/responses", {"model": GPT_OSS, "input": "Weather in Oslo?",
                                                        "tools": [WEATHER, {**WEATHER, "name": "other", "strict": False}]}).json()
    assert answer["tools"] == [{**WEATHER, "strict": True}, {**WEATHER, "name": "other", "strict": False}]
    assert set(answer["usage"]) >= USAGE_KEYS
    assert answer["usage"]["input_tokens_details"] == {"cached_tokens": 0}
    assert answer["usage"]["output_tokens_details"] == {"reasoning_tokens": 0}


def test_the_responses_stream_echoes_the_same_tools_and_usage_details(http, auth_headers):
    response = post(http, auth_headers, "/v1/responses", {"model": CHAT, "input": "Stream it", "stream": True,
                                                          "tools": [{k: v for k, v in WEATHER.items() if k != "parameters"}],
                                                          "tool_choice": "none"})
    by_type = {event["type"]: event for event in responses_events(response.text)}
    expected = [{"type": "function", "name": "get_weather", "description": "Current weather in a city", "parameters": None,
                 "strict": True}]
    for kind in ("response.created", "response.in_progress", "response.completed"):
        assert by_type[kind]["response"]["tools"] == expected, kind
    usage = by_type["response.completed"]["response"]["usage"]
    assert usage["input_tokens_details"] == {"cached_tokens": 0} and usage["output_tokens_details"] == {"reasoning_tokens": 0}


def test_the_sdk_reads_strict_back(client):
    response = client.responses.create(model=GPT_OSS, input="Weather in Rome?", tools=[WEATHER])
    assert response.tools[0].strict is True
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


# --- 7. usage in a chat stream only when asked for ----------------------------------------------------

@pytest.mark.parametrize("model", [GPT_OSS, QWEN3, CHAT])
@pytest.mark.parametrize("options", [{}, {"stream_options": {"include_usage": False}}, {"stream_options": None}],
                         ids=["unset", "false", "null"])
def test_a_stream_that_did_not_ask_for_usage_has_none(http, auth_headers, model, options):
    response = post(http, auth_headers, "/v1/chat/completions",
                    {"model": model, "stream": True, "messages": [{"role": "user", "content": "No usage"}], **options})
    assert response.status_code == 200
    chunks = data_events(response.text)
    assert [c for c in chunks if c.get("usage")] == []
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == f"This is {model} (emulated). You said: No usage"


@pytest.mark.parametrize("model", [GPT_OSS, QWEN3, CHAT])
def test_a_stream_that_asked_for_usage_has_it_in_its_own_last_chunk(http, auth_headers, model):
    response = post(http, auth_headers, "/v1/chat/completions", {"model": model, "stream": True, "stream_options": {"include_usage": True},
                                                                 "messages": [{"role": "user", "content": "Some usage"}]})
    chunks = data_events(response.text)
    assert [c for c in chunks if c.get("usage")] == [chunks[-1]] and chunks[-1]["choices"] == []
    # The emulator counts the words of its answer, "This is <model> (emulated). You said: Some usage".
    assert chunks[-1]["usage"]["completion_tokens"] == 8


def test_the_sdk_sees_no_usage_unless_it_asks(client):
    chunks = list(client.chat.completions.create(model=GPT_OSS, messages=[{"role": "user", "content": "sdk"}], stream=True))
    assert [c.usage for c in chunks] == [None] * len(chunks)


# --- 8. non-string Responses content ----------------------------------------------------------------

@pytest.mark.parametrize(("item", "param"), [
    ({"role": "assistant", "content": [{"type": "refusal", "refusal": 123}]}, "input[0].content[0].refusal"),
    ({"role": "user", "content": [{"type": "input_text", "text": 5}]}, "input[0].content[0].text"),
    ({"role": "user", "content": [{"type": "input_image", "image_url": 7}]}, "input[0].content[0].image_url"),
    ({"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}, "input[0].arguments"),
], ids=["refusal", "input_text", "input_image", "arguments"])
def test_non_string_responses_content_is_a_400_naming_the_field(http, auth_headers, item, param):
    response = post(http, auth_headers, "/v1/responses", {"model": CHAT, "input": [item]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param and response.json()["error"]["type"] == "invalid_request_error"


def test_a_string_refusal_in_the_history_is_fine(client):
    response = client.responses.create(model=CHAT, input=[
        {"role": "user", "content": "Tell me a secret"},
        {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
        {"role": "user", "content": "Then a joke"},
    ])
    assert response.output_text.endswith("You said: Then a joke")


# --- 10. a base URL ending in `/` ---------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "//v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "slashes"}]}),
    ("POST", "//v1/completions", {"model": CHAT, "prompt": "slashes"}),
    ("POST", "//v1/responses", {"model": CHAT, "input": "slashes"}),
    ("POST", "/v1//chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "slashes"}]}),
    ("POST", "//chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "slashes"}]}),
    ("POST", "//v1/embeddings", {"model": "@cf/baai/bge-small-en-v1.5", "input": "slashes"}),
    ("GET", "//v1/models", None),
    ("GET", f"//v1/models/{CHAT}", None),
    ("GET", "//health", None),
])
def test_repeated_slashes_reach_the_route(gateway, auth_headers, method, path, body):
    # Sent as written: httpx keeps the path's slashes.
    response = httpx.request(method, gateway.url + path, headers=auth_headers, json=body, timeout=30)
    assert response.status_code == 200, response.text


def test_the_sdk_with_a_base_url_ending_in_a_slash(gateway):
    client = openai.OpenAI(base_url=f"{gateway.url}//v1/", api_key=gateway.api_key, max_retries=0, timeout=30)
    result = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "slash"}])
    assert result.choices[0].message.content.endswith("You said: slash")


# --- 11. numeric ranges -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "param"), [
    ({"temperature": 5}, "temperature"), ({"top_p": 1.5}, "top_p"), ({"presence_penalty": 3}, "presence_penalty"),
    ({"frequency_penalty": -3}, "frequency_penalty"), ({"n": 0}, "n"), ({"top_logprobs": 21}, "top_logprobs"),
    ({"max_tokens": 0}, "max_tokens"), ({"max_completion_tokens": 0}, "max_completion_tokens"),
])
def test_chat_refuses_out_of_range_values(client, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "x"}], **extra)
    assert caught.value.body["param"] == param and caught.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize(("extra", "param"), [
    ({"temperature": 2.5}, "temperature"), ({"top_p": 1.5}, "top_p"), ({"n": 0}, "n"), ({"max_tokens": 0}, "max_tokens"),
])
def test_completions_refuse_out_of_range_values(client, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=CHAT, prompt="x", **extra)
    assert caught.value.body["param"] == param


@pytest.mark.parametrize(("extra", "param"), [
    ({"max_output_tokens": 15}, "max_output_tokens"), ({"temperature": 3}, "temperature"), ({"top_p": 2}, "top_p"),
    ({"top_logprobs": 21}, "top_logprobs"),
])
def test_responses_refuse_out_of_range_values(client, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=CHAT, input="x", **extra)
    assert caught.value.body["param"] == param


def test_the_bounds_are_accepted(client):
    chat = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "x"}], temperature=2, top_p=1,
                                          presence_penalty=2, frequency_penalty=-2, n=1, top_logprobs=20, max_tokens=1)
    assert chat.choices[0].finish_reason == "length"
    response = client.responses.create(model=CHAT, input="x", max_output_tokens=16, temperature=0, top_p=0)
    assert response.status == "completed"
