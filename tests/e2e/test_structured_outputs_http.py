"""Structured outputs (issue 30): JSON mode and `json_schema` answers that parse and match the
schema on every chat model, streamed or not, through the OpenAI SDK's `parse`, LangChain's
`with_structured_output`, and answers the model wraps in a fence or prose (scripted upstream).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import BaseModel
from werkzeug.wrappers import Response

KEY = {"Authorization": "Bearer sk-test-key"}

# The chat aliases of catalog.DEFAULT_ALIASES, and one model of each family: Workers AI's own
# JSON mode answering an object (llama-3.3 / llama-4-scout / granite), answering text
# (deepseek-r1-distill, qwen2.5-coder), OpenAI-shaped (gpt-oss, qwen3, glm), guided_json
# (mistral-small, gemma-3) and no JSON mode at all (llama-3.1-8b-fast, asked in words).
CHAT_ALIASES = ["gpt-3.5-turbo", "gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-nano", "gpt-4o", "chatgpt-4o-latest",
                "gpt-4", "gpt-4-turbo", "gpt-4.1", "gpt-5", "o1", "o3", "gpt-5-mini", "o1-mini", "o3-mini", "o4-mini"]
FAMILIES = ["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "@cf/meta/llama-4-scout-17b-16e-instruct",
            "@cf/ibm-granite/granite-4.0-h-micro", "@cf/qwen/qwen2.5-coder-32b-instruct", "@cf/openai/gpt-oss-20b",
            "@cf/qwen/qwen3-30b-a3b-fp8", "@cf/zai-org/glm-4.7-flash", "@cf/mistralai/mistral-small-3.1-24b-instruct",
            "@cf/google/gemma-3-12b-it", "@cf/meta/llama-3.1-8b-instruct-fast"]
LLAMA_FAST = "@cf/meta/llama-3.1-8b-instruct-fast"  # no JSON mode: asked in words, its JSON taken out of prose
JSON_MODE_OBJECT = ["gpt-4o", "gpt-4", "gpt-4.1", "@cf/meta/llama-4-scout-17b-16e-instruct", "@cf/ibm-granite/granite-4.0-h-micro"]


class Step(BaseModel):
    explanation: str
    output: str


class MathAnswer(BaseModel):
    steps: list[Step]
    final_answer: str
    confidence: float | None


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 1},
                                           "tags": {"type": "array", "items": {"enum": ["coast", "capital"]}}},
          "required": ["city", "population", "tags"], "additionalProperties": False}


def _schema_format():
    return {"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": SCHEMA}}


def _check_city(text: str) -> dict:
    value = json.loads(text)
    assert set(value) == {"city", "population", "tags"}
    assert isinstance(value["city"], str) and isinstance(value["population"], int) and value["population"] >= 1
    assert all(tag in ("coast", "capital") for tag in value["tags"])
    return value


# --- JSON mode on each family, streamed and not --------------------------------------------------------


@pytest.mark.parametrize("model", FAMILIES + ["gpt-4o", "gpt-4o-mini"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_json_schema_answer_matches_on_every_family(client, model, stream):
    messages = [{"role": "user", "content": "Describe Lisbon"}]
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=messages, response_format=_schema_format(), stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        text = client.chat.completions.create(model=model, messages=messages, response_format=_schema_format()).choices[0].message.content
    _check_city(text)


# zod's `.int()` (openai-node's zodResponseFormat, Claude Code's tools) bounds every integer by ±(2**53 - 1);
# the binding took those as BigInts it cannot serialise, and the call failed (502).
ZOD_INT = {"type": "integer", "minimum": -(2**53 - 1), "maximum": 2**53 - 1}
ZOD_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "population": ZOD_INT}, "required": ["city", "population"]}


@pytest.mark.parametrize("model", ["@cf/qwen/qwen3.8-27b", "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                                   "@cf/mistralai/mistral-small-3.1-24b-instruct", LLAMA_FAST])
def test_integer_bounds_of_zod_schemas_reach_the_model(client, model):
    messages = [{"role": "user", "content": "Describe Lisbon"}]
    answer = client.chat.completions.create(model=model, messages=messages, response_format={
        "type": "json_schema", "json_schema": {"name": "city", "schema": ZOD_SCHEMA}})
    assert isinstance(json.loads(answer.choices[0].message.content)["population"], int)
    called = client.chat.completions.create(model=model, messages=messages, tools=[
        {"type": "function", "function": {"name": "census", "parameters": ZOD_SCHEMA}}])
    assert called.choices[0].finish_reason in ("stop", "tool_calls")


@pytest.mark.parametrize("model", JSON_MODE_OBJECT)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_json_object_mode_keeps_the_object_workers_ai_answers(client, model, stream):
    # These models answer JSON mode with `response` as an object: it used to be lost when streamed.
    messages = [{"role": "user", "content": "Hello JSON"}]
    fmt = {"type": "json_object"}
    if stream:
        chunks = client.chat.completions.create(model=model, messages=messages, response_format=fmt, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = client.chat.completions.create(model=model, messages=messages, response_format=fmt).choices[0].message.content
    assert json.loads(text) == {"answer": "Hello JSON"}


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4.1", "@cf/ibm-granite/granite-4.0-h-micro"])
def test_streamed_responses_keep_json_mode_answers(client, model):
    fmt = {"type": "json_schema", "name": "city", "schema": SCHEMA, "strict": True}
    events = list(client.responses.create(model=model, input="Describe Porto", text={"format": fmt}, stream=True))
    done = [e for e in events if e.type == "response.completed"][0].response
    assert done.output, "the streamed response lost its output"
    _check_city(done.output_text)
    whole = client.responses.create(model=model, input="Describe Porto", text={"format": fmt})
    _check_city(whole.output_text)


def test_streamed_completions_keep_an_object_response(scripted_gateway, httpserver):
    # Workers AI's JSON-mode event shape, `{"response": {...}}`, relayed as text by every streamed endpoint.
    stream = 'data: {"response": {"a": 1}}\n\ndata: {"response": "", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}\n\ndata: [DONE]\n\n'
    httpserver.expect_request("/ai/run").respond_with_data(stream, content_type="text/event-stream")
    with httpx.stream("POST", f"{scripted_gateway.url}/v1/completions", headers=KEY, timeout=30,
                      json={"model": "gpt-4o", "prompt": "JSON please", "stream": True}) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ") and line != "data: [DONE]"]
    text = "".join(c["text"] for e in events for c in json.loads(e)["choices"])
    assert json.loads(text) == {"a": 1}


# --- client libraries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", CHAT_ALIASES + FAMILIES)
def test_openai_parse_with_pydantic(client, model):
    completion = client.chat.completions.parse(model=model, messages=[{"role": "user", "content": "Solve 8x + 7 = -23"}],
                                               response_format=MathAnswer)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, MathAnswer) and parsed.steps and isinstance(parsed.steps[0], Step)


def test_openai_parse_streamed(client):
    with client.chat.completions.stream(model="gpt-4o", messages=[{"role": "user", "content": "Solve 2x = 4"}],
                                        response_format=MathAnswer) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, MathAnswer)


@pytest.mark.parametrize("model", CHAT_ALIASES + FAMILIES)
def test_langchain_with_structured_output(gateway, model):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, model=model, max_retries=0)
    # strict: for gpt-3.5-turbo, gpt-4 and gpt-4-turbo LangChain switches to function calling, and
    # only a strict tool's arguments are checked (the emulator answers a strict tool's schema).
    answer = chat.with_structured_output(MathAnswer, strict=True).invoke("Solve 3x = 9")
    assert isinstance(answer, MathAnswer) and answer.final_answer


@pytest.mark.parametrize("model", ["gpt-4", "gpt-4o-mini", "@cf/openai/gpt-oss-20b"])
def test_langchain_structured_output_by_strict_function_calling(gateway, model):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, model=model, max_retries=0)
    answer = chat.with_structured_output(MathAnswer, method="function_calling", strict=True).invoke("Solve 3x = 9")
    assert isinstance(answer, MathAnswer) and answer.steps


NODE_ZOD = Path(__file__).with_name("clients") / "openai_node_zod.mjs"


def _node_zod(url: str, key: str, models: list[str]) -> dict:
    run = subprocess.run(["node", str(NODE_ZOD), f"{url}/v1", key, *models], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def _math_answer(result: dict) -> None:
    assert "ok" in result, result
    parsed = result["ok"]["parsed"]
    assert isinstance(parsed["steps"], list) and isinstance(parsed["final_answer"], str), parsed
    assert all(isinstance(step["explanation"], str) and isinstance(step["output"], str) for step in parsed["steps"])
    assert parsed["confidence"] is None or isinstance(parsed["confidence"], (int, float))


def test_openai_node_parse_with_zod_on_every_alias_and_family(gateway):
    """openai-node's zodResponseFormat / zodFunction helpers, whole and streamed, on every chat alias."""
    results = _node_zod(gateway.url, gateway.api_key, CHAT_ALIASES + FAMILIES)
    assert set(results) == set(CHAT_ALIASES + FAMILIES)
    for model, result in results.items():
        _math_answer(result["parse"])
        _math_answer(result["stream"])
        tool = result["tool"]
        assert "ok" in tool, (model, tool)
        assert tool["ok"]["name"] == "get_weather", (model, tool)
        arguments = tool["ok"]["parsed"]
        assert isinstance(arguments["city"], str) and arguments["unit"] in ("celsius", "fahrenheit"), (model, arguments)
        assert isinstance(arguments["days"], int) and arguments["days"] >= 1, (model, arguments)


def test_strict_tool_arguments_match_the_parameters(client):
    tool = {"type": "function", "function": {"name": "book", "strict": True, "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "nights": {"type": "integer", "minimum": 1}},
        "required": ["city", "nights"], "additionalProperties": False}}}
    for model in ("gpt-4o-mini", "gpt-4o", "@cf/openai/gpt-oss-20b"):
        call = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Book Rome"}],
                                              tools=[tool]).choices[0].message.tool_calls[0]
        arguments = json.loads(call.function.arguments)
        assert set(arguments) == {"city", "nights"} and arguments["nights"] >= 1


# --- answers wrapped in prose, repaired, or failing (scripted upstream) ------------------------------------


def _legacy(text: str) -> dict:
    return {"response": text, "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}


def _scripted(httpserver, answers: list):
    calls = []

    def answer(request):
        calls.append(json.loads(request.get_data()))
        return Response(json.dumps(answers[min(len(calls), len(answers)) - 1]), content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(answer)
    return calls


def _scripted_client(scripted_gateway):
    return openai.OpenAI(base_url=f"{scripted_gateway.url}/v1", api_key="sk-test-key", max_retries=0, timeout=30)


GOOD = {"city": "Lisbon", "population": 545000, "tags": ["coast", "capital"]}


@pytest.mark.parametrize("wrapped", [
    "```json\n" + json.dumps(GOOD) + "\n```",
    "Sure! Here is the JSON:\n" + json.dumps(GOOD) + "\nLet me know if you need more.",
    "Here you go:\n```\n" + json.dumps(GOOD, indent=2) + "\n```\nThat is all.",
], ids=["fence", "prose", "prose-and-fence"])
@pytest.mark.parametrize("model", [LLAMA_FAST, "gpt-4o"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_wrapped_json_is_taken_out(scripted_gateway, httpserver, wrapped, model, stream):
    calls = _scripted(httpserver, [_legacy(wrapped)])
    client = _scripted_client(scripted_gateway)
    if stream:
        chunks = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Lisbon"}],
                                                response_format=_schema_format(), stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Lisbon"}],
                                              response_format=_schema_format()).choices[0].message.content
    assert json.loads(text) == GOOD
    assert len(calls) == 1


def test_openai_node_zod_parses_an_answer_wrapped_in_prose_and_a_fence(scripted_gateway, httpserver):
    answer = {"steps": [{"explanation": "Subtract 7", "output": "8x = -30"}], "final_answer": "x = -3.75", "confidence": 0.9}
    calls = _scripted(httpserver, [_legacy("Here is the solution:\n```json\n" + json.dumps(answer) + "\n```\nHope it helps.")])
    result = _node_zod(scripted_gateway.url, "sk-test-key", [LLAMA_FAST])[LLAMA_FAST]
    assert result["parse"] == {"ok": {"parsed": answer, "model": LLAMA_FAST}}
    assert result["stream"] == {"ok": {"parsed": answer}}
    assert len(calls) == 3  # parse, stream, tool: one upstream call each, none repaired


def test_a_wrong_answer_is_repaired_once_with_the_error(scripted_gateway, httpserver):
    calls = _scripted(httpserver, [_legacy('{"city": "Lisbon", "population": "many"}'), _legacy(json.dumps(GOOD))])
    response = httpx.post(f"{scripted_gateway.url}/v1/chat/completions", headers=KEY, timeout=30, json={
        "model": LLAMA_FAST, "messages": [{"role": "user", "content": "Lisbon"}], "response_format": _schema_format()})
    assert response.status_code == 200, response.text
    assert json.loads(response.json()["choices"][0]["message"]["content"]) == GOOD
    assert response.headers["X-Structured-Output"] == "repaired"
    assert response.json()["usage"]["total_tokens"] == 60  # both calls
    assert len(calls) == 2
    correction = calls[1]["inputs"]["messages"][-1]["content"]
    assert "$.population: expected integer" in correction and "'tags' is missing" in correction


def test_a_second_wrong_answer_is_a_clear_error(scripted_gateway, httpserver):
    calls = _scripted(httpserver, [_legacy("I cannot do JSON."), _legacy('{"city": 5}')])
    response = httpx.post(f"{scripted_gateway.url}/v1/chat/completions", headers=KEY, timeout=30, json={
        "model": LLAMA_FAST, "messages": [{"role": "user", "content": "Lisbon"}], "response_format": _schema_format(),
        "stream": True})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "structured_output_failed" and error["type"] == "server_error" and "$.city" in error["message"]
    assert len(calls) == 2


def test_strict_tool_arguments_are_repaired(scripted_gateway, httpserver):
    tool = {"type": "function", "function": {"name": "book", "strict": True, "parameters": {
        "type": "object", "properties": {"nights": {"type": "integer"}}, "required": ["nights"], "additionalProperties": False}}}
    calls = _scripted(httpserver, [
        {"response": "", "tool_calls": [{"name": "book", "arguments": {"nights": "two"}}]},
        {"response": "", "tool_calls": [{"name": "book", "arguments": {"nights": 2}}]},
    ])
    completion = _scripted_client(scripted_gateway).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Book two nights"}], tools=[tool])
    assert json.loads(completion.choices[0].message.tool_calls[0].function.arguments) == {"nights": 2}
    assert len(calls) == 2


# --- an alias whose model has no JSON mode answers by its JSON-mode sibling -----------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_an_alias_asking_for_json_is_answered_by_the_json_mode_sibling(scripted_gateway, httpserver, stream):
    calls = _scripted(httpserver, [{"response": GOOD, "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}])
    response = httpx.post(f"{scripted_gateway.url}/v1/chat/completions", headers=KEY, timeout=30, json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Lisbon"}], "response_format": _schema_format(),
        "stream": stream})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model"] == "@cf/ibm-granite/granite-4.0-h-micro"
    assert response.headers["X-Model-Resolution"] == "alias+json-mode"
    assert response.headers["X-Requested-Model"] == "gpt-4o-mini"
    # Asked through Workers AI's own JSON mode, with the client's schema.
    assert calls[0]["inputs"]["response_format"] == {"type": "json_schema", "json_schema": SCHEMA}
    if stream:
        events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
        assert {e["model"] for e in events} == {"@cf/ibm-granite/granite-4.0-h-micro"}
        assert json.loads("".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])) == GOOD
    else:
        assert response.json()["model"] == "@cf/ibm-granite/granite-4.0-h-micro"
        assert json.loads(response.json()["choices"][0]["message"]["content"]) == GOOD


@pytest.mark.parametrize("body", [
    {"model": "gpt-4o-mini"},  # no JSON asked for
    {"model": LLAMA_FAST, "response_format": _schema_format()},  # the model named by id: the client chose it
], ids=["no-json", "by-id"])
def test_the_sibling_stands_in_only_for_an_alias_asking_for_json(scripted_gateway, httpserver, body):
    _scripted(httpserver, [_legacy(json.dumps(GOOD))])
    response = httpx.post(f"{scripted_gateway.url}/v1/chat/completions", headers=KEY, timeout=30,
                          json={**body, "messages": [{"role": "user", "content": "Lisbon"}]})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model"] == LLAMA_FAST
