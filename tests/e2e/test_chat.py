"""Chat completions end to end: the openai client, OneAPI's and new-api's channel tests, streams."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"
OPENAI_SHAPED_MODEL = "@cf/openai/gpt-oss-20b"


def sse_events(text: str) -> list[str]:
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    for event in events:
        assert event.startswith("data: "), event
    return [event[len("data: ") :] for event in events]


@pytest.mark.parametrize("model", [CHAT_MODEL, OPENAI_SHAPED_MODEL])
def test_non_stream_completion_with_the_openai_client(client, model):
    result = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello there"}])
    assert result.object == "chat.completion"
    assert result.model == model
    assert result.choices[0].message.role == "assistant"
    assert "You said: Hello there" in result.choices[0].message.content
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.completion_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


@pytest.mark.parametrize("model", [CHAT_MODEL, OPENAI_SHAPED_MODEL])
def test_streamed_completion_with_include_usage(client, model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"This is {model} (emulated). You said: Stream me"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0].choices == []
    assert usage_chunks[0] is chunks[-1]
    assert usage_chunks[0].usage.completion_tokens == len(text.split())
    assert all(c.model == model for c in chunks)


def test_stream_is_framed_for_oneapi(http, auth_headers):
    response = http.post(
        "/v1/chat/completions",
        headers=auth_headers,
        json={"model": CHAT_MODEL, "stream": True, "messages": [{"role": "user", "content": "frame check"}]},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_events(response.text)
    assert payloads[-1] == "[DONE]"
    for payload in payloads[:-1]:
        assert len(payload.encode()) < 64 * 1024
        assert json.loads(payload)["object"] == "chat.completion.chunk"


def test_oneapi_channel_test(http, auth_headers):
    response = http.post(
        "/v1/chat/completions",
        headers=auth_headers,
        json={
            "model": CHAT_MODEL,
            "messages": [{"role": "user", "content": "Output only your specific model name with no additional text."}],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["choices"][0]["message"]["content"], str)
    assert body["usage"]["total_tokens"] > 0
    assert "error" not in body


def test_new_api_channel_tests(http, auth_headers):
    chat = http.post(
        "/v1/chat/completions",
        headers=auth_headers,
        json={"model": CHAT_MODEL, "stream": False, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16},
    )
    assert chat.status_code == 200
    assert chat.json()["choices"][0]["message"]["content"]
    embedding = http.post("/v1/embeddings", headers=auth_headers, json={"input": ["hello world"]})
    assert embedding.status_code == 200
    assert len(embedding.json()["data"]) == 1


def test_max_tokens_cuts_the_answer_with_finish_reason_length(client):
    result = client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "long answer please"}], max_tokens=3)
    assert result.choices[0].finish_reason == "length"
    assert result.usage.completion_tokens == 3


def test_stop_sequences_cut_stream_and_non_stream(client):
    messages = [{"role": "user", "content": "alpha beta gamma"}]
    whole = client.chat.completions.create(model=CHAT_MODEL, messages=messages, stop=["beta"])
    assert whole.choices[0].message.content.endswith("You said: alpha ")
    streamed = client.chat.completions.create(model=CHAT_MODEL, messages=messages, stop=["beta"], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == whole.choices[0].message.content


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
]


@pytest.mark.parametrize("model", [CHAT_MODEL, OPENAI_SHAPED_MODEL])
def test_tool_calls_round_trip(client, model):
    result = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "find cats"}], tools=TOOLS)
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    # No text beside the call (a JS null must not come back as the text "null" on either runtime).
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": "find cats"}
    # Send the tool's answer back: the model answers in text.
    follow_up = client.chat.completions.create(
        model=model,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "find cats"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "3 cats found"},
        ],
    )
    assert follow_up.choices[0].finish_reason == "stop"
    assert follow_up.choices[0].message.content


@pytest.mark.parametrize("model", [CHAT_MODEL, OPENAI_SHAPED_MODEL])
def test_tool_calls_stream_as_deltas(client, model):
    chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "find dogs"}], tools=TOOLS, stream=True))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "lookup" and calls[0].index == 0
    assert json.loads(calls[0].function.arguments) == {"query": "find dogs"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_content_parts_and_charset_content_type(http, auth_headers):
    response = http.post(
        "/v1/chat/completions",
        headers={**auth_headers, "Content-Type": "application/json; charset=utf-8"},
        content=json.dumps(
            {"model": CHAT_MODEL, "messages": [{"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": " and two"}]}]}
        ),
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].endswith("You said: part one and two")


def test_images_are_refused_for_text_only_models(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
        )
    assert caught.value.body["code"] == "model_not_multimodal"


def test_vision_model_takes_image_parts(client):
    result = client.chat.completions.create(
        model="@cf/meta/llama-4-scout-17b-16e-instruct",
        messages=[{"role": "user", "content": [{"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
    )
    assert result.choices[0].message.content.endswith("You said: describe")


@pytest.mark.parametrize("path", ["/v1/v1/chat/completions", "/chat/completions"])
def test_lenient_base_url_paths(http, auth_headers, path):
    response = http.post(path, headers=auth_headers, json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"


def test_alias_answers_with_the_real_model_name(http, auth_headers):
    response = http.post("/v1/chat/completions", headers=auth_headers, json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert response.json()["model"] == CHAT_MODEL
    assert response.headers["x-model"] == CHAT_MODEL
    assert response.headers["x-requested-model"] == "gpt-4o-mini"
    assert response.headers["x-model-resolution"] == "alias"


@pytest.mark.parametrize("retired", ["@cf/meta/llama-2-7b-chat-int8", "@hf/thebloke/zephyr-7b-beta-awq", "@cf/qwen/qwen1.5-7b-chat-awq"])
def test_retired_models_are_redirected_and_say_so(http, auth_headers, retired):
    response = http.post("/v1/chat/completions", headers=auth_headers, json={"model": retired, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.json()["model"] == CHAT_MODEL
    assert response.headers["x-requested-model"] == retired
    assert response.headers["x-model-resolution"] == "retired"


def test_unknown_model_is_404_naming_it(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert "no-such-model" in caught.value.body["message"]
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="@cf/nobody/imaginary-model", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "model_not_found"
    assert "@cf/nobody/imaginary-model" in caught.value.body["message"]


@pytest.mark.parametrize(
    "body, param",
    [
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 3}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": "x"}], "model": 42}, "model"),
    ],
)
def test_bad_requests_get_400_naming_the_parameter(http, auth_headers, body, param):
    response = http.post("/v1/chat/completions", headers=auth_headers, json={"model": CHAT_MODEL, **body})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_malformed_json_is_a_400(http, auth_headers):
    response = http.post("/v1/chat/completions", headers=auth_headers, content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_unknown_fields_are_ignored(client):
    result = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}], extra_body={"frobnicate": True, "logit_bias": {"1": 2}}, user="someone"
    )
    assert result.choices[0].message.content
