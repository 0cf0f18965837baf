"""Contract tests: every catalog model, driven through the public API with the parameters the official
`openai` SDK sends, against the strict emulator (which refuses, as Workers AI does, any call that breaks
the model's published schema: error 5006 → the gateway's 400 `invalid_input`). 0 violations means every
call below is answered 200.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import BaseModel
from werkzeug.wrappers import Response

from gateway import catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scripted_client(scripted_gateway, httpserver):
    return openai.OpenAI(base_url=f"{scripted_gateway.url}/v1", api_key=scripted_gateway.api_key, max_retries=0, timeout=30)


MODELS = {task: [m.id for m in catalog.MODELS if m.task == task] for task in catalog.WORKERS_AI_TASK}
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
DATA_URL = "data:image/png;base64," + base64.b64encode(TINY_PNG).decode()

# A tool as SDKs build it from a function signature: no description anywhere, an Optional parameter.
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    "required": ["city"]}}}]
TOOL_LOOP = [
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
]
# The SDK's chat parameters, at values OpenAI accepts and several models do not (seed 0, top_p 1.0, negative penalties).
SDK_PARAMS = dict(
    max_completion_tokens=64, temperature=0.7, top_p=1.0, seed=0, frequency_penalty=-1, presence_penalty=-0.5,
    stop=["\n\n"], n=1, tools=TOOLS, tool_choice="auto", parallel_tool_calls=True, logprobs=False, user="u-1",
    metadata={"k": "v"}, store=False, service_tier="auto", reasoning_effort="low", logit_bias={"1": 1},
)


@pytest.mark.parametrize("model", MODELS[catalog.CHAT])
@pytest.mark.parametrize("stream", [False, True])
def test_chat_tool_loop_with_the_sdk_parameter_set(client, model, stream):
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=TOOL_LOOP, stream=True,
                                                     stream_options={"include_usage": True}, **SDK_PARAMS))
        assert chunks[-1].usage is not None
    else:
        result = client.chat.completions.with_raw_response.create(model=model, messages=TOOL_LOOP, **SDK_PARAMS)
        assert result.http_response.status_code == 200
        assert result.parse().choices[0].message.content


@pytest.mark.parametrize("model", MODELS[catalog.CHAT])
def test_tools_are_called_with_undescribed_functions(client, model):
    result = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS)
    message = result.choices[0].message
    if message.tool_calls:  # the emulator calls the first tool
        assert message.tool_calls[0].function.name == "get_weather"


VISION = [m.id for m in catalog.MODELS if "vision" in m.capabilities and m.task == catalog.CHAT]


@pytest.mark.parametrize("model", VISION)
def test_vision_models_get_images_their_way(client, model, httpserver):
    # An http(s) image is fetched and becomes a data: URL (or the top-level bytes llama-3.2-vision takes).
    httpserver.expect_request("/cat.png").respond_with_data(TINY_PNG, content_type="image/png")
    for url in (DATA_URL, httpserver.url_for("/cat.png")):
        result = client.chat.completions.create(model=model, messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}])
        assert result.choices[0].message.content


def test_llama_vision_takes_one_image(http, auth_headers):
    content = [{"type": "text", "text": "two"}] + [{"type": "image_url", "image_url": {"url": DATA_URL}}] * 2
    response = http.post("/v1/chat/completions", headers=auth_headers, json={
        "model": "@cf/meta/llama-3.2-11b-vision-instruct", "messages": [{"role": "user", "content": content}]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_many_images"


class Country(BaseModel):
    name: str
    capital: str
    languages: list[str]
    population: int | None


@pytest.mark.parametrize("model", ["gpt-4o", "@cf/qwen/qwen3-30b-a3b-fp8", "@cf/openai/gpt-oss-120b", "@cf/zai-org/glm-4.7-flash",
                                   "@cf/mistralai/mistral-small-3.1-24b-instruct", "@cf/meta/llama-4-scout-17b-16e-instruct"])
def test_parse_with_a_pydantic_model(client, model):
    completion = client.chat.completions.parse(model=model, messages=[{"role": "user", "content": "Tell me about India."}],
                                               response_format=Country)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Country) and parsed.name


def test_json_mode_streams_as_one_answer(client):
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "json"}],
                                                 response_format={"type": "json_object"}, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert isinstance(json.loads(text), dict)


@pytest.mark.parametrize("model", MODELS[catalog.EMBEDDINGS])
@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_embeddings_batches_fit_max_items(client, model, encoding_format):
    texts = [f"text number {i}" for i in range(100)]
    result = client.embeddings.create(model=model, input=texts, encoding_format=encoding_format, user="u-1")
    assert [d.index for d in result.data] == list(range(100))


@pytest.mark.parametrize("model", MODELS[catalog.TEXT_TO_IMAGE])
def test_images_with_the_sdk_parameter_set(client, model, http):
    raw = client.images.with_raw_response.generate(
        model=model, prompt="a red fox", n=1, size="512x512", quality="standard", style="vivid", user="u-1",
        response_format="url", extra_body={"seed": 0, "negative_prompt": "blur", "guidance": 1, "steps": 4},
    )
    assert raw.http_response.status_code == 200
    url = raw.parse().data[0].url
    stored = http.get(url.replace(url.split("/file/")[0], ""))
    expected = "image/jpeg" if model in ("@cf/leonardo/phoenix-1.0", "@cf/leonardo/lucid-origin") or "/flux-" in model else "image/png"
    assert stored.headers["content-type"] == expected


def test_flux_drops_what_it_does_not_take_and_says_so(client):
    raw = client.images.with_raw_response.generate(model="dall-e-3", prompt="a fox", extra_body={"seed": 3, "negative_prompt": "x", "guidance": 3})
    assert set(raw.headers["x-dropped-params"].split(",")) >= {"seed", "negative_prompt", "guidance"}


def test_phoenix_guidance_is_clamped_and_reported(client):
    raw = client.images.with_raw_response.generate(model="@cf/leonardo/phoenix-1.0", prompt="a fox", extra_body={"guidance": 1})
    assert raw.http_response.status_code == 200 and raw.headers["x-clamped-params"] == "guidance"


@pytest.mark.parametrize("model", MODELS[catalog.IMAGE_TO_IMAGE])
def test_img2img_through_chat(client, model):
    parts = [{"type": "text", "text": "make it blue"}, {"type": "image_url", "image_url": {"url": DATA_URL}},
             {"type": "image_url", "image_url": {"url": DATA_URL}}]
    result = client.chat.completions.create(model=model, messages=[{"role": "user", "content": parts}], extra_body={"strength": 0.5})
    assert result.choices[0].message.content.startswith("![")


@pytest.mark.parametrize("model", MODELS[catalog.SPEECH_TO_TEXT])
def test_transcriptions_with_the_sdk_parameter_set(client, model):
    raw = client.audio.transcriptions.with_raw_response.create(
        model=model, file=("clip.wav", b"RIFF" + b"\x00" * 60, "audio/wav"), language="en", prompt="names",
        response_format="verbose_json", temperature=0, timestamp_granularities=["word", "segment"],
    )
    assert raw.http_response.status_code == 200
    if model == "@cf/deepgram/nova-3":  # takes a language hint, and the prompt as its key terms
        assert "x-dropped-params" not in raw.headers and raw.headers["x-mapped-params"] == "prompt=keyterm"
    elif model != "@cf/openai/whisper-large-v3-turbo":
        assert set(raw.headers["x-dropped-params"].split(",")) == {"language", "prompt"}


def test_translations(client):
    result = client.audio.translations.create(model="whisper-1", file=("clip.wav", b"\x00" * 16, "audio/wav"), prompt="p", temperature=0)
    assert result.text


@pytest.mark.parametrize("model,voice", [("tts-1", "alloy"), ("@cf/deepgram/aura-1", "alloy"), ("@cf/deepgram/aura-1", "Luna")])
def test_speech_with_the_sdk_parameter_set(client, model, voice):
    result = client.audio.speech.create(model=model, voice=voice, input="Hello", response_format="mp3", speed=1.0, instructions="calm")
    assert result.content


def test_an_unknown_aura_speaker_is_a_400_naming_voice(http, auth_headers):
    response = http.post("/v1/audio/speech", headers=auth_headers, json={"model": "@cf/deepgram/aura-1", "input": "hi", "voice": "bogus"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "voice"


# --- documented output variants, scripted ----------------------------------------------------------------------


def test_qwen3_text_completion_variant(scripted_client, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({
        "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "@cf/qwen/qwen3-30b-a3b-fp8",
        "choices": [{"index": 0, "text": "from text_completion", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}})
    result = scripted_client.chat.completions.create(model="@cf/qwen/qwen3-30b-a3b-fp8", messages=[{"role": "user", "content": "hi"}])
    assert result.choices[0].message.content == "from text_completion"


def test_qwen3_text_completion_variant_streamed(scripted_client, httpserver):
    events = [{"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": t, "finish_reason": None}]} for t in ("stre", "amed")]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(body, content_type="text/event-stream"))
    chunks = list(scripted_client.chat.completions.create(model="@cf/qwen/qwen3-30b-a3b-fp8", stream=True,
                                                          messages=[{"role": "user", "content": "hi"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed"


def test_bge_m3_response_variant(scripted_client, httpserver):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"response": [[0.5, 0.25], [0.125, 1.0]], "shape": [2, 2], "pooling": "cls"})
    result = scripted_client.embeddings.create(model="@cf/baai/bge-m3", input=["a", "b"])
    assert [d.embedding for d in result.data] == [[0.5, 0.25], [0.125, 1.0]]


@pytest.mark.parametrize("path,body", [
    ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/embeddings", {"model": "@cf/baai/bge-m3", "input": "hi"}),
])
def test_an_async_request_id_is_a_clear_error(scripted_gateway, httpserver, path, body):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"request_id": "3f0c3c9e-0000-4000-8000-000000000000"})
    response = httpx.post(f"{scripted_gateway.url}{path}", headers={"Authorization": f"Bearer {scripted_gateway.api_key}"}, json=body)
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_queued"


def test_phoenix_jpeg_is_served_as_jpeg(scripted_gateway, httpserver):
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(jpeg, content_type="image/jpeg"))
    client = openai.OpenAI(base_url=f"{scripted_gateway.url}/v1", api_key=scripted_gateway.api_key, max_retries=0)
    url = client.images.generate(model="@cf/leonardo/phoenix-1.0", prompt="fox").data[0].url
    assert url.endswith(".jpg")
    stored = httpx.get(url)
    assert stored.headers["content-type"] == "image/jpeg" and stored.content == jpeg


def test_the_scripted_calls_are_contract_checked_too(scripted_client, httpserver):
    # The strict check runs before forwarding: a tool loop reaches the scripted model fitted.
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"response": "ok"})
    scripted_client.chat.completions.create(model="@cf/mistralai/mistral-small-3.1-24b-instruct", messages=TOOL_LOOP, tools=TOOLS)
    sent = json.loads(httpserver.log[-1][0].get_data())["inputs"]
    assert sent["messages"][2]["content"] == "" and len(sent["messages"][3]["tool_call_id"]) == 9
    assert sent["tools"][0]["function"]["description"] == "get_weather"


# --- the emulator itself refuses what Workers AI refuses ------------------------------------------------------

REFUSALS = [
    ("@cf/black-forest-labs/flux-1-schnell", {"prompt": "x", "seed": 1}, "/seed"),
    ("@cf/black-forest-labs/flux-1-schnell", {"prompt": "x", "steps": 9}, "/steps"),
    ("@cf/meta/llama-3.1-8b-instruct-fast", {"messages": [{"role": "assistant", "tool_calls": []}]}, "/messages/0"),
    ("@cf/meta/llama-3.1-8b-instruct-fast", {"messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]}, "/tools/0"),
    ("@cf/meta/llama-3.2-11b-vision-instruct", {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, "/messages/0/content"),
    ("@cf/meta/llama-4-scout-17b-16e-instruct", {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}, "/messages/0/content"),
    ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", {"messages": [{"role": "user", "content": "x"}], "top_p": 0}, "/top_p"),
    ("@cf/meta/llama-3.1-8b-instruct-fast", {"messages": [{"role": "user", "content": "x"}], "seed": 0}, "/seed"),
    ("@cf/qwen/qwen3-embedding-0.6b", {"text": ["x"] * 33}, "/text"),
    ("@cf/deepgram/aura-1", {"text": "x", "speaker": "bogus"}, "/speaker"),
    ("@cf/leonardo/phoenix-1.0", {"prompt": "x", "guidance": 1}, "/guidance"),
    ("@cf/leonardo/lucid-origin", {"prompt": "x", "guidance": 20}, "/guidance"),
]


def test_the_strict_emulator_refuses_contract_breaks():
    script = """
import emulator from "./scripts/local/ai-emulator.mjs";
import fs from "node:fs";
const ai = emulator({ CONTRACTS: JSON.parse(fs.readFileSync("src/gateway/model_contracts.json", "utf8")) });
const cases = JSON.parse(process.argv[1]);
const out = [];
for (const [model, inputs] of cases) {
  try { await ai.run(model, inputs); out.push(null); } catch (e) { out.push(`${e.name} ${e.message}`); }
}
console.log(JSON.stringify(out));
"""
    cases = [[model, inputs] for model, inputs, _ in REFUSALS]
    done = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(cases)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout)
    for (model, _, field), error in zip(REFUSALS, errors):
        assert error and error.startswith("AiError 5006: Error:") and field in error, (model, field, error)
