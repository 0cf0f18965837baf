import json

import pytest

from gateway.catalog import BY_ID
from gateway.chat_completion import completion
from gateway.chat_request import ChatRequest
from gateway.chat_stops import StopFilter
from gateway.chat_stream import completion_chunks
from gateway.errors import ApiError, UpstreamError

from fakes import collect, run

LLAMA = BY_ID["@cf/meta/llama-3.1-8b-instruct-fast"]
VISION = BY_ID["@cf/meta/llama-4-scout-17b-16e-instruct"]


def parse(body, model=LLAMA):
    return ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}], **body}, model)


def test_max_completion_tokens_wins_and_text_format_is_dropped():
    request = parse({"max_tokens": 5, "max_completion_tokens": 9, "response_format": {"type": "text"}})
    assert request.inputs["max_tokens"] == 9
    assert "response_format" not in request.inputs


def test_text_parts_are_joined_for_text_models_and_kept_for_vision():
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert parse({"messages": [{"role": "user", "content": parts}]}).inputs["messages"][0]["content"] == "ab"
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]
    assert parse({"messages": [{"role": "user", "content": image}]}, VISION).inputs["messages"][0]["content"] == image
    with pytest.raises(ApiError):
        parse({"messages": [{"role": "user", "content": image}]})


def test_legacy_shape_completion():
    request = parse({"max_tokens": 2})
    out = completion({"response": "two words", "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}, request, created=1)
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "two words", "refusal": None}
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_openai_shape_completion_with_reasoning_and_tools():
    request = parse({})
    result = {
        "choices": [{"message": {"content": None, "reasoning_content": "hmm", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    message = completion(result, request, created=1)["choices"][0]["message"]
    assert message["content"] is None and message["reasoning_content"] == "hmm"
    assert message["tool_calls"][0]["id"] == "c1"


def test_legacy_tool_calls_get_ids_and_string_arguments():
    out = completion({"response": None, "tool_calls": [{"name": "f", "arguments": {"x": 1}}]}, parse({}), created=1)
    call = out["choices"][0]["message"]["tool_calls"][0]
    assert call["id"].startswith("call_") and json.loads(call["function"]["arguments"]) == {"x": 1}
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_missing_usage_is_estimated_not_zero():
    usage = completion({"response": "some answer"}, parse({}), created=1)["usage"]
    assert usage["estimated"] is True and usage["completion_tokens"] > 0


def test_unrecognised_result_is_an_upstream_error():
    with pytest.raises(UpstreamError):
        completion({"weird": 1}, parse({}), created=1)


@pytest.mark.parametrize("pieces", [["abcSTOPdef"], ["abcS", "TO", "Pdef"], ["a", "b", "c", "S", "T", "O", "P"]])
def test_stop_filter_across_chunk_boundaries(pieces):
    stop = StopFilter(["STOP"])
    out = "".join(stop.feed(p) for p in pieces) + stop.flush()
    assert out == "abc" and stop.stopped


def test_stop_filter_releases_text_that_is_not_a_stop():
    stop = StopFilter(["STOP"])
    assert "".join(stop.feed(p) for p in ["ST", "ay", " here"]) + stop.flush() == "STay here"
    assert not stop.stopped


async def chunks(*raw: bytes):
    for item in raw:
        yield item


def test_stream_reframing_and_done():
    request = parse({"stream": True, "stream_options": {"include_usage": True}})
    source = chunks(b'data: {"response":"Hel"}\n\ndata: {"response":"lo"}\n\n', b'data: {"response":"","usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}\n\ndata: [DONE]\n\n')
    events = run(collect(completion_chunks(source, request, created=1)))
    assert events[-1] == "data: [DONE]\n\n"
    payloads = [json.loads(e[6:]) for e in events[:-1]]
    assert [p["choices"][0]["delta"].get("content") for p in payloads if p["choices"]] == ["", "Hel", "lo", None]
    assert payloads[-1]["usage"]["total_tokens"] == 4 and payloads[-1]["choices"] == []


def test_stream_without_done_is_reported_as_cut():
    events = run(collect(completion_chunks(chunks(b'data: {"response":"Hel"}\n\n'), parse({"stream": True}), created=1)))
    assert "[DONE]" not in events[-1]
    assert json.loads(events[-1][6:])["error"]["code"] == "stream_interrupted"


def test_huge_deltas_are_split_under_oneapis_line_limit():
    big = "x" * 100_000
    source = chunks(("data: " + json.dumps({"response": big}) + "\n\ndata: [DONE]\n\n").encode())
    events = run(collect(completion_chunks(source, parse({"stream": True}), created=1)))
    assert all(len(e.encode()) < 64 * 1024 for e in events)
    text = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert text == big
