"""Every chat model: an OpenAI request with the SDK's full parameter set and a tool loop fits the contract."""

import pytest

from gateway import catalog, chat_contract, contracts
from gateway.chat_request import ChatRequest

CHAT_MODELS = [m for m in catalog.MODELS if m.task == catalog.CHAT and contracts.contract_for(m.id) is not None]

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    "required": ["city"]}}}]


def full_body(model_id: str, **extra) -> dict:
    body = {
        "model": model_id,
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_abc123DEF456", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_abc123DEF456", "content": "{\"temp\": 21}"},
        ],
        "max_tokens": 64, "temperature": 0.7, "top_p": 0, "seed": 0, "frequency_penalty": -1, "presence_penalty": -0.5,
        "stop": ["\n\n"], "n": 1, "tools": TOOLS, "tool_choice": "auto", "parallel_tool_calls": True,
        "logprobs": False, "user": "u1", "metadata": {"a": "b"}, "store": False,
    }
    body.update(extra)
    return body


@pytest.mark.parametrize("model", CHAT_MODELS, ids=lambda m: m.id)
@pytest.mark.parametrize("stream", [False, True])
def test_full_openai_request_fits(model, stream):
    request = ChatRequest.parse(full_body(model.id, stream=stream), model)
    plan = chat_contract.adapt(model.id, request.inputs, stream=stream)
    assert contracts.check_input(model.id, request.inputs) == []
    assert request.inputs["messages"][2]["content"] == ""


@pytest.mark.parametrize("model", CHAT_MODELS, ids=lambda m: m.id)
def test_json_schema_response_format_fits(model):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    body = {"model": model.id, "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}}
    request = ChatRequest.parse(body, model)
    plan = chat_contract.adapt(model.id, request.inputs, stream=False)
    assert contracts.check_input(model.id, request.inputs) == []
    variant = contracts.contract_for(model.id).variant("messages")
    if "response_format" in variant["properties"] and "properties" in contracts.resolve(variant["properties"]["response_format"]):
        assert request.inputs["response_format"] == {"type": "json_schema", "json_schema": schema}
    elif "guided_json" in variant["properties"]:
        assert request.inputs["guided_json"] == schema and "response_format=guided_json" in plan.notes.mapped
    elif "response_format" not in variant["properties"]:
        assert "response_format=prompt" in plan.notes.mapped


def test_tool_call_ids_are_rewritten_and_restored():
    model = catalog.BY_ID["@cf/mistralai/mistral-small-3.1-24b-instruct"]
    request = ChatRequest.parse(full_body(model.id), model)
    plan = chat_contract.adapt(model.id, request.inputs, stream=False)
    new_id = request.inputs["messages"][3]["tool_call_id"]
    assert len(new_id) == 9 and new_id.isalnum()
    assert request.inputs["messages"][2]["tool_calls"][0]["id"] == new_id
    body = {"choices": [{"message": {"tool_calls": [{"id": new_id}]}}]}
    assert chat_contract.restore_ids(body, plan)["choices"][0]["message"]["tool_calls"][0]["id"] == "call_abc123DEF456"


def test_clamped_values_are_reported():
    model = catalog.BY_ID["@cf/meta/llama-3.1-8b-instruct-fast"]
    request = ChatRequest.parse(full_body(model.id), model)
    plan = chat_contract.adapt(model.id, request.inputs, stream=False)
    assert request.inputs["seed"] == 1 and request.inputs["frequency_penalty"] == 0
    headers = plan.notes.headers()
    assert "seed" in headers["X-Clamped-Params"] and "tool_choice" in headers["X-Dropped-Params"]


def test_vision_image_moves_to_top_level_for_llama_3_2_vision():
    model = catalog.BY_ID["@cf/meta/llama-3.2-11b-vision-instruct"]
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}
    request = ChatRequest.parse(body, model)
    plan = chat_contract.adapt(model.id, request.inputs, stream=False)
    assert plan.top_level_image == "https://example.com/a.png"
    chat_contract.fill_images(plan, request.inputs, {}, [0x89, 0x50, 0x4E, 0x47])
    assert request.inputs["messages"][0]["content"] == "What is this?"
    assert request.inputs["image"] == [0x89, 0x50, 0x4E, 0x47]
    assert contracts.check_input(model.id, request.inputs) == []


def test_https_image_becomes_a_data_url_for_scout():
    model = catalog.BY_ID["@cf/meta/llama-4-scout-17b-16e-instruct"]
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}
    request = ChatRequest.parse(body, model)
    plan = chat_contract.adapt(model.id, request.inputs, stream=False)
    assert plan.fetch == ["https://example.com/a.png"]
    chat_contract.fill_images(plan, request.inputs, {"https://example.com/a.png": "data:image/png;base64,iVBORw=="})
    assert request.inputs["messages"][0]["content"][1]["image_url"]["url"] == "data:image/png;base64,iVBORw=="
    assert contracts.check_input(model.id, request.inputs) == []


@pytest.mark.parametrize("model_id", ["@cf/moonshotai/kimi-k2.6", "@cf/qwen/qwen3.8-27b", "@cf/google/gemma-4-26b-a4b-it"])
def test_a_page_writing_messages_by_role_still_takes_image_parts(model_id):
    """Their pages give messages as a oneOf by role; the user's content takes image parts, so an image
    stays a part (not a data: URL pasted as text), and the call fits."""
    model = catalog.BY_ID[model_id]
    url = "data:image/png;base64,iVBORw0KGgo="
    body = {"model": model_id, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]}]}
    request = ChatRequest.parse(body, model)
    chat_contract.adapt(model_id, request.inputs, stream=False)
    parts = request.inputs["messages"][0]["content"]
    assert isinstance(parts, list) and {"type": "image_url", "image_url": {"url": url}} in parts
    assert contracts.check_input(model_id, request.inputs) == []
