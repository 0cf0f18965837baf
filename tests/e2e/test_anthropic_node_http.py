"""The official Node client (`@anthropic-ai/sdk`) against the gateway's Messages API: create, the stream
helper, a tool round trip (non-streamed and streamed), countTokens, models.list and a bad key, run by tests/e2e/clients/anthropic_node.mjs."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

NODE_CLIENT = Path(__file__).with_name("clients") / "anthropic_node.mjs"


@pytest.fixture(scope="module", params=["@cf/meta/llama-3.1-8b-instruct-fast", "@cf/openai/gpt-oss-20b"])
def node(request, gateway):
    model = request.param
    run = subprocess.run(["node", str(NODE_CLIENT), gateway.url, gateway.api_key, model],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return model, json.loads(run.stdout)


def test_create(node):
    model, out = node
    create = out["create"].get("ok")
    assert create, out["create"]
    assert create["model"] == model and create["id"].startswith("msg_")
    assert create["text"].endswith("You said: Hello from node")
    assert create["stop_reason"] == "end_turn"
    assert create["usage"]["input_tokens"] > 0 and create["usage"]["output_tokens"] > 0


def test_stream(node):
    _, out = node
    stream = out["stream"].get("ok")
    assert stream, out["stream"]
    assert len(stream["pieces"]) > 1 and "".join(stream["pieces"]) == stream["text"]
    assert stream["text"].endswith("You said: Stream from node")
    assert stream["stop_reason"] == "end_turn" and stream["usage"]["output_tokens"] > 0


def test_tool_round_trip(node):
    _, out = node
    tools = out["tools"].get("ok")
    assert tools, out["tools"]
    assert tools["first_stop"] == "tool_use"
    assert tools["call"]["name"] == "get_weather" and re.fullmatch(r"[a-zA-Z0-9_-]+", tools["call"]["id"])
    assert isinstance(tools["call"]["input"], dict) and tools["call"]["input"]
    assert tools["second_stop"] == "end_turn" and tools["second_types"] == ["text"]


def test_streamed_tool_call(node):
    _, out = node
    streamed = out["streamed_tool"].get("ok")
    assert streamed, out["streamed_tool"]
    assert json.loads(streamed["partial"]) == streamed["input"] and streamed["input"]
    assert streamed["stop_reason"] == "tool_use"


def test_count_tokens(node):
    _, out = node
    counted = out["count_tokens"].get("ok")
    assert counted, out["count_tokens"]
    assert 0 < counted["short"] < counted["longer"] and counted["longer"] >= 200


def test_models_list_pages_through_every_model(node):
    _, out = node
    listed = out["models"].get("ok")
    assert listed, out["models"]
    # The SDK follows `has_more` / `last_id` page by page (5 at a time): every entry once.
    assert len(listed["ids"]) > 5 and len(set(listed["ids"])) == len(listed["ids"])
    assert "@cf/meta/llama-3.1-8b-instruct-fast" in listed["ids"] and "claude-sonnet-4-5-20250929" in listed["ids"]


def test_bad_key(node):
    _, out = node
    assert out["bad_key"]["error"] == "AuthenticationError", out["bad_key"]
    assert out["bad_key"]["status"] == 401 and out["bad_key"]["type"] == "authentication_error"
