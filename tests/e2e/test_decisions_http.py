"""Clef's decision models through /ai/run/<model> (the Workers AI REST shape), and the models that
have their own task refused where another task's endpoint is asked: Clef by chat, Deepgram's
WebSocket-only flux by transcription. Answers are checked against the model page's own output
schema (tests/data/workers-ai-models/clef.json) with the jsonschema library."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import jsonschema
import pytest
from werkzeug.wrappers import Response

KEY = {"Authorization": "Bearer sk-test-key"}
PAGES = Path(__file__).resolve().parents[1] / "data" / "workers-ai-models"
TINY_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")
QUESTIONS = {
    "urgent": {"type": "noul", "instructions": "Is the ticket urgent?"},
    "team": {"type": "choice", "instructions": "Which team owns it?", "criteria": {"billing": "money", "infra": "servers"}},
    "tone": {"type": "score", "instructions": "How angry is the customer?", "criteria": ["calm", "annoyed", "furious"]},
}


def _output_schema(doc: str) -> dict:
    return json.loads((PAGES / doc).read_text())["output"]


@pytest.mark.parametrize("model, selector, doc", [
    ("@cf/cloudflare/clef", "clef", "clef.json"),
    ("@cf/cloudflare/clef-flash", "clef-flash", "clef-flash.json"),
    ("@cf/cloudflare/clef-omni", "clef-omni", "clef-omni.json"),
])
def test_a_decision_answers_every_question_in_the_page_s_shape(gateway, model, selector, doc):
    response = httpx.post(f"{gateway.url}/ai/run/{model}", headers=KEY, timeout=30,
                          json={"state": "Our site is down and I am losing money!", "questions": QUESTIONS})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model"] == model
    body = response.json()
    assert body["success"] is True and body["errors"] == []
    result = body["result"]
    jsonschema.validate(result, _output_schema(doc))
    assert result["model"] == selector  # filled in from the path when the body leaves it out
    assert set(result["answers"]) == set(QUESTIONS)
    assert result["answers"]["team"]["choice"] in ("billing", "infra")
    assert set(result["answers"]["tone"]["probabilities"]) == {"1", "2", "3"}


@pytest.mark.parametrize("body, named", [
    ({"state": "x", "questions": {}}, "fewer than 1 properties"),
    ({"state": "x", "questions": {f"q{i}": {"type": "noul", "instructions": "?"} for i in range(65)}}, "more than 64 properties"),
    ({"questions": QUESTIONS}, "'state' is missing"),
    ({"state": "x", "questions": {"q": {"type": "score", "instructions": "?", "criteria": ["only one"]}}}, "/questions/q"),
    ({"state": "x", "questions": QUESTIONS, "model": "gpt-4o"}, "/model"),
    ({"state": "x", "questions": QUESTIONS, "images": ["https://example.com/a.png"]}, "/images/0"),
], ids=["no-question", "65-questions", "no-state", "one-level-score", "wrong-selector", "remote-image"])
def test_an_input_the_page_refuses_is_a_400_naming_it_and_no_call(scripted_gateway, httpserver, body, named):
    calls = []
    httpserver.expect_request("/ai/run").respond_with_handler(lambda r: calls.append(r) or Response("{}"))
    response = httpx.post(f"{scripted_gateway.url}/ai/run/@cf/cloudflare/clef", headers=KEY, timeout=30, json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["success"] is False and error["result"] is None
    assert named in error["errors"][0]["message"]
    assert calls == []


def test_an_image_sent_as_a_data_url_reaches_the_model_as_one(scripted_gateway, httpserver):
    sent = []

    def clef(request):
        sent.append(json.loads(request.get_data())["inputs"])
        return Response(json.dumps({"model": "clef", "answers": {"q": {"type": "noul", "noul": 0.25}},
                                    "usage": {"input_tokens": 300, "output_tokens": 1}}), content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(clef)
    url = "data:image/png;base64," + base64.b64encode(TINY_PNG * 200).decode()  # long: kept in the runtime
    response = httpx.post(f"{scripted_gateway.url}/ai/run/@cf/cloudflare/clef", headers=KEY, timeout=30,
                          json={"state": {"screen": "checkout"}, "images": [url],
                                "questions": {"q": {"type": "noul", "instructions": "Is an error shown?"}}})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["answers"]["q"]["noul"] == 0.25
    assert sent[0]["images"] == [url]
    assert sent[0]["model"] == "clef" and sent[0]["state"] == {"screen": "checkout"}


def test_chat_refuses_a_decision_model_by_its_task(gateway):
    response = httpx.post(f"{gateway.url}/v1/chat/completions", headers=KEY, timeout=30,
                          json={"model": "@cf/cloudflare/clef", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "model_task_mismatch" and "decision" in error["message"]


def test_transcription_refuses_the_websocket_speech_model_by_its_task(gateway):
    response = httpx.post(f"{gateway.url}/v1/audio/transcriptions", headers=KEY, timeout=30,
                          files={"file": ("a.wav", b"RIFF" + b"\0" * 40, "audio/wav")}, data={"model": "@cf/deepgram/flux"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "model_task_mismatch" and "streaming-speech-to-text" in error["message"]


def test_the_model_list_names_each_model_s_own_task(gateway):
    models = {m["id"]: m for m in httpx.get(f"{gateway.url}/v1/models", headers=KEY, timeout=30).json()["data"]}
    assert models["@cf/cloudflare/clef"]["task"] == "decision"
    assert models["@cf/deepgram/flux"]["task"] == "streaming-speech-to-text"
