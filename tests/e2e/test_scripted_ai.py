"""Workers AI answers scripted from Python: the emulator forwards each `run` to pytest-httpserver."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from werkzeug.wrappers import Response

CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"


@pytest.fixture
def scripted(scripted_gateway, httpserver):
    return scripted_gateway


@pytest.fixture
def scripted_client(scripted):
    return openai.OpenAI(base_url=f"{scripted.url}/v1", api_key=scripted.api_key, max_retries=0, timeout=30)


def ai_error(code: int, message: str, status: int = 400) -> Response:
    return Response(json.dumps({"success": False, "errors": [{"code": code, "message": message}]}), status, content_type="application/json")


def sse_stream(events, delay: float = 0.0, then_cut: bool = False):
    def generate():
        for i, event in enumerate(events):
            if i and delay:
                time.sleep(delay)
            yield f"data: {json.dumps(event)}\n\n".encode()
        if then_cut:
            raise ConnectionAbortedError("scripted cut")
        yield b"data: [DONE]\n\n"

    return Response(generate(), content_type="text/event-stream")


def test_scripted_answer_comes_back_through_the_worker(scripted_client, httpserver):
    # JSON, as `response_format: json_object` asks (a non-JSON answer would be repaired: structured.py).
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json(
        {"response": '{"from": "pytest"}', "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}
    )
    result = scripted_client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "system", "content": "be brief"}, {"role": "developer", "content": "really"}, {"role": "user", "content": "hi"}],
        max_tokens=32, temperature=0.2, top_p=0.9, seed=7, frequency_penalty=0.1, presence_penalty=0.2,
        response_format={"type": "json_object"},
    )
    assert json.loads(result.choices[0].message.content) == {"from": "pytest"}
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (11, 3, 14)
    # What the worker sent to Workers AI: the model and the mapped parameters.
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["model"] == CHAT_MODEL
    inputs = sent["inputs"]
    # llama-3.1-8b-instruct-fast publishes no JSON mode: the gateway asks for JSON in a system message instead.
    assert [m["role"] for m in inputs["messages"]] == ["system", "system", "system", "user"]
    assert "JSON" in inputs["messages"][0]["content"]
    assert inputs["max_tokens"] == 32 and inputs["temperature"] == 0.2 and inputs["top_p"] == 0.9 and inputs["seed"] == 7
    assert inputs["frequency_penalty"] == 0.1 and inputs["presence_penalty"] == 0.2
    assert "response_format" not in inputs
    assert "stream" not in inputs


def test_missing_usage_is_estimated_and_says_so(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"response": "no usage here"})
    response = httpx.post(
        f"{scripted.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {scripted.api_key}"},
        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    usage = response.json()["usage"]
    assert usage["estimated"] is True and usage["completion_tokens"] > 0
    assert response.headers["x-usage-estimated"] == "true"


def test_json_mode_object_response_becomes_a_string(scripted_client, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"response": {"answer": 42}, "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    result = scripted_client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "json"}], response_format={"type": "json_object"})
    assert json.loads(result.choices[0].message.content) == {"answer": 42}


def test_capacity_error_3040_is_a_429_with_retry_after(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(ai_error(3040, "Capacity temporarily exceeded, please try again.", 429))
    response = httpx.post(
        f"{scripted.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {scripted.api_key}"},
        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "capacity_exceeded"
    assert "3040" in response.json()["error"]["message"]


def test_daily_allocation_used_up_is_a_clear_429(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(
        ai_error(3036, "You have used up your daily free allocation of 10,000 neurons, please upgrade to Cloudflare's Workers Paid plan", 429)
    )
    response = httpx.post(
        f"{scripted.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {scripted.api_key}"},
        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "daily_allocation_exhausted" and "00:00 UTC" in error["message"]
    assert 0 < int(response.headers["retry-after"]) <= 86400


def test_invalid_input_5006_is_a_400_with_the_reason(scripted_client, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(ai_error(5006, "Error: oneOf at '/' not all subschemas are valid"))
    with pytest.raises(openai.BadRequestError) as caught:
        scripted_client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert "not all subschemas are valid" in caught.value.body["message"]


def test_upstream_500_is_a_502_without_upstream_detail(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(ai_error(3043, "internal at host gpu-17.example account 0123abcd", 500))
    response = httpx.post(
        f"{scripted.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {scripted.api_key}"},
        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 502
    assert "gpu-17" not in response.text and "0123abcd" not in response.text
    assert "error" in response.json() and response.json()["error"]["type"] == "server_error"


def test_stream_arrives_incrementally(scripted, httpserver):
    """The emulator emits a chunk every 100 ms; each must reach the client as it is made."""
    words = [f"w{i} " for i in range(8)]
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(sse_stream([{"response": w} for w in words], delay=0.1))
    arrivals: list[tuple[float, str]] = []
    start = time.monotonic()
    with httpx.stream(
        "POST",
        f"{scripted.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {scripted.api_key}"},
        json={"model": CHAT_MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if delta:
                    arrivals.append((time.monotonic() - start, delta))
    assert [d for _, d in arrivals] == words
    gaps = [b - a for (a, _), (b, _) in zip(arrivals, arrivals[1:])]
    print("chunk arrival times (s):", [round(t, 3) for t, _ in arrivals])
    # Buffered delivery would bunch every chunk at the end (gaps ~0).
    assert all(gap > 0.05 for gap in gaps), gaps
    assert arrivals[-1][0] - arrivals[0][0] > 0.5


def test_stream_cut_midway_ends_with_an_error_event_and_no_done(scripted, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(sse_stream([{"response": "partial "}, {"response": "answer"}], then_cut=True))
    response = httpx.post(
        f"{scripted.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {scripted.api_key}"},
        json={"model": CHAT_MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    text = response.text
    assert "data: [DONE]" not in text
    last = [line for line in text.split("\n\n") if line][-1]
    assert json.loads(last[len("data: "):])["error"]["code"] == "stream_interrupted"
    assert '"content":"partial "' in text


def test_error_event_inside_a_stream(scripted, httpserver):
    def generate():
        yield b'data: {"response": "ok "}\n\n'
        yield b'data: {"error": "model crashed"}\n\n'

    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(generate(), content_type="text/event-stream"))
    response = httpx.post(
        f"{scripted.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {scripted.api_key}"},
        json={"model": CHAT_MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert "data: [DONE]" not in response.text
    assert "stream_interrupted" in response.text


def test_openai_shaped_stream_with_reasoning_is_relayed(scripted_client, httpserver):
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "@cf/openai/gpt-oss-20b"}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"reasoning_content": "thinking"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "Answer"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
    ]
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(sse_stream(events))
    chunks = list(
        scripted_client.chat.completions.create(
            model="@cf/openai/gpt-oss-20b", messages=[{"role": "user", "content": "q"}], stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Answer"
    assert chunks[-1].usage.total_tokens == 7
    assert any((c.choices and (c.choices[0].delta.model_extra or {}).get("reasoning_content") == "thinking") for c in chunks)


def test_large_embedding_batches_are_split_and_joined(scripted_client, httpserver):
    def answer(request):
        texts = json.loads(request.get_data())["inputs"]["text"]
        return Response(json.dumps({"shape": [len(texts), 3], "data": [[float(len(t)), 0.0, 1.0] for t in texts]}), content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(answer)
    texts = ["x" * (i + 1) for i in range(250)]
    result = scripted_client.embeddings.create(model="@cf/baai/bge-m3", input=texts)
    assert [item.index for item in result.data] == list(range(250))
    assert [item.embedding[0] for item in result.data] == [float(i + 1) for i in range(250)]
    sizes = [len(json.loads(req.get_data())["inputs"]["text"]) for req, _ in httpserver.log]
    assert sizes == [100, 100, 50]
