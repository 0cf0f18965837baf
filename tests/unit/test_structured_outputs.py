"""structured.py: the JSON Schema subset validator, JSON extraction, and the repair flow."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway import structured
from gateway.chat_request import ChatRequest
from gateway.chat_stream import ChatStreamRelay
from gateway.catalog import Model
from gateway.errors import ApiError

PERSON = {
    "$defs": {"Pet": {"type": "object", "properties": {"kind": {"enum": ["cat", "dog"]}}, "required": ["kind"],
                      "additionalProperties": False}},
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1}, "age": {"type": ["integer", "null"]},
                   "pets": {"type": "array", "items": {"$ref": "#/$defs/Pet"}},
                   "id": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "v": {"const": 1}},
    "required": ["name", "age", "pets"],
    "additionalProperties": False,
}


def test_a_conforming_value_has_no_errors():
    assert structured.validate({"name": "A", "age": None, "pets": [{"kind": "cat"}], "id": 3, "v": 1}, PERSON) == []


@pytest.mark.parametrize("value, expected", [
    ({"name": "A", "pets": []}, "$: the required property 'age' is missing"),
    ({"name": "A", "age": 1.5, "pets": []}, "$.age: expected integer or null, got number"),
    ({"name": "A", "age": True, "pets": []}, "$.age: expected integer or null, got boolean"),
    ({"name": "A", "age": 1, "pets": [{"kind": "fish"}]}, '$.pets[0].kind: must be one of ["cat", "dog"]'),
    ({"name": "A", "age": 1, "pets": [], "x": 1}, "$: the property 'x' is not allowed"),
    ({"name": "", "age": 1, "pets": []}, "$.name: shorter than 1 characters"),
    ({"name": "A", "age": 1, "pets": [], "id": [1]}, "$.id: matches 0 of the anyOf alternatives"),
    ({"name": "A", "age": 1, "pets": [], "v": True}, "$.v: must be 1"),
    ([], "$: expected object, got array"),
])
def test_each_broken_rule_is_named_with_its_path(value, expected):
    assert any(error.startswith(expected) for error in structured.validate(value, PERSON)), structured.validate(value, PERSON)


def test_recursive_refs_and_nullable():
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}, "label": {"type": "string", "nullable": True}}}
    assert structured.validate({"label": None, "children": [{"children": [{}]}]}, tree) == []
    assert structured.validate({"children": [{"children": [{"label": 3}]}]}, tree) == ["$.children[0].children[0].label: expected string, got integer"]


@pytest.mark.parametrize("text", [
    '{"a": 1}',
    '```json\n{"a": 1}\n```',
    'Here it is:\n```\n{"a": 1}\n```\nDone.',
    'Sure! {"a": 1} Hope that helps.',
    'Not this {broken, but {"a": 1}',
])
def test_json_is_found_in_fences_and_prose(text):
    assert structured.extract(text, {"type": "object", "required": ["a"]}) == ({"a": 1}, [])


def test_brackets_nested_past_the_parsers_depth_are_no_json_not_a_crash():
    deep = "[" * 100_000 + "]" * 100_000
    for text in (deep, f"```json\n{deep}\n```", f"Here: {deep} and {{\"a\": 1}}"):
        value, errors = structured.extract(text, {"type": "object", "required": ["a"]})
        assert value in (None, {"a": 1}) and (value is not None or errors)


def test_the_first_candidate_that_matches_wins():
    text = 'Example: {"b": 2}. Answer: {"a": 1}'
    assert structured.extract(text, {"type": "object", "required": ["a"]})[0] == {"a": 1}
    assert structured.extract("no json here", None) == (None, ["the answer holds no JSON value"])
    assert structured.extract("[1, 2]", None)[1] == ["$: expected object, got array"]


def test_requirement_reads_formats_and_strict_tools():
    assert structured.requirement({"response_format": {"type": "text"}}) is None
    need = structured.requirement({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": PERSON}},
                                   "tools": [{"type": "function", "function": {"name": "f", "strict": True, "parameters": {"type": "object"}}},
                                             {"type": "function", "function": {"name": "g"}}]})
    assert need.schema == PERSON and need.json_content and need.name == "x" and list(need.strict_tools) == ["f"]
    assert structured.requirement({"response_format": {"type": "json_object"}}).schema is None


def _completion(content=None, calls=None, tokens=10):
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": tokens, "completion_tokens": tokens, "total_tokens": 2 * tokens}}


SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": False}
NEED = structured.Requirement(schema=SCHEMA, json_content=True)


class FakeAi:
    """Answers repair calls in order and keeps what it was asked."""

    def __init__(self, *answers):
        self.answers, self.asked = list(answers), []

    async def __call__(self, inputs):
        self.asked.append(inputs)
        return self.answers.pop(0)


def _enforce(first, ai, need=NEED):
    inputs = {"messages": [{"role": "user", "content": "count"}], "stream": True}
    return asyncio.run(structured.enforce(first, need, inputs, "@cf/test/model", ai))


def test_a_valid_answer_costs_no_extra_call_and_is_normalised():
    ai = FakeAi()
    body, repairs = _enforce(_completion('```json\n{"n": 1}\n```'), ai)
    assert repairs == 0 and ai.asked == [] and body["choices"][0]["message"]["content"] == '{"n": 1}'


def test_one_repair_sends_the_error_back():
    ai = FakeAi(_completion('{"n": 2}'))
    body, repairs = _enforce(_completion('{"n": "one"}'), ai)
    assert repairs == 1 and json.loads(body["choices"][0]["message"]["content"]) == {"n": 2}
    assert body["usage"]["total_tokens"] == 40
    (asked,) = ai.asked
    assert "stream" not in asked
    assert asked["messages"][-2] == {"role": "assistant", "content": '{"n": "one"}'}
    assert "$.n: expected integer, got string" in asked["messages"][-1]["content"]


def test_a_second_failure_is_structured_output_failed():
    with pytest.raises(ApiError) as raised:
        _enforce(_completion("nope"), FakeAi(_completion('{"n": 1, "m": 2}')))
    assert raised.value.status == 502 and raised.value.code == "structured_output_failed"
    assert "'m' is not allowed" in raised.value.message and raised.value.param == "response_format"


def test_strict_tool_arguments_are_checked_and_repaired():
    need = structured.Requirement(strict_tools={"f": SCHEMA})
    bad = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"n": "x"}'}}]
    good = [{"id": "c2", "type": "function", "function": {"name": "f", "arguments": '{ "n" : 3 }'}}]
    body, repairs = _enforce(_completion(None, bad), FakeAi(_completion(None, good)), need)
    assert repairs == 1 and body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"n": 3}'
    with pytest.raises(ApiError) as raised:
        _enforce(_completion(None, bad), FakeAi(_completion(None, bad)), need)
    assert raised.value.param == "tools"


def test_the_stream_relay_keeps_an_object_response():
    model = Model(id="@cf/meta/llama-3.3-70b-instruct-fp8-fast", task="chat")
    request = ChatRequest(model, {"messages": []}, stream=True)
    relay = ChatStreamRelay(request, created=1)
    events = relay.feed_events(b'data: {"response": {"a": [1, 2]}}\n\ndata: [DONE]\n\n') + relay.end_events()
    text = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content") or ""
                   for e in events if e.startswith("data: {") and json.loads(e[6:])["choices"])
    assert json.loads(text) == {"a": [1, 2]}


# --- the JSON-mode sibling --------------------------------------------------------------------------------

from gateway.catalog import DEFAULT_ALIASES, resolve  # noqa: E402

GRANITE = "@cf/ibm-granite/granite-4.0-h-micro"
LLAMA_FAST = "@cf/meta/llama-3.1-8b-instruct-fast"
SCHEMA_FORMAT = {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}}


@pytest.mark.parametrize("name, body, expected, via", [
    ("gpt-4o-mini", SCHEMA_FORMAT, GRANITE, "alias+json-mode"),
    ("gpt-4o-mini", {"response_format": {"type": "json_object"}}, GRANITE, "alias+json-mode"),
    ("gpt-4o-mini-2024-07-18", SCHEMA_FORMAT, GRANITE, "family+json-mode"),
    (None, SCHEMA_FORMAT, GRANITE, "default+json-mode"),
    ("gpt-4o-mini", {}, LLAMA_FAST, "alias"),  # no JSON asked for
    ("gpt-4o-mini", {"response_format": {"type": "text"}}, LLAMA_FAST, "alias"),
    ("gpt-4o-mini", {"tools": [{"type": "function", "function": {"name": "f", "strict": True, "parameters": {"type": "object"}}}]},
     LLAMA_FAST, "alias"),  # strict tools are checked, not a reason to change the model
    (LLAMA_FAST, SCHEMA_FORMAT, LLAMA_FAST, "id"),  # named by id: the client's choice stands
    ("gpt-4o", SCHEMA_FORMAT, "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "alias"),  # has JSON mode itself
])
def test_an_alias_asking_for_json_gets_the_json_mode_sibling(name, body, expected, via):
    resolved = resolve(name, "chat", aliases=DEFAULT_ALIASES)
    routed = structured.json_mode_sibling(resolved, structured.requirement(body))
    assert (routed.model.id, routed.via) == (expected, via)
    assert routed.requested == resolved.requested


def test_the_sibling_has_json_mode_and_costs_less():
    from gateway import contracts, pricing

    def json_mode(model_id):  # the contract's Messages variant takes `response_format`
        return "response_format" in contracts.contract_for(model_id).variant("messages").get("properties", {})

    for model_id, sibling in structured.JSON_MODE_SIBLINGS.items():
        assert json_mode(sibling) and not json_mode(model_id)
        assert pricing.PRICES[sibling].output < pricing.PRICES[model_id].output
