"""The synchronous stream relay (issue 18): fed one read at a time, as the runtime's TransformStream does."""

import json

import pytest

from gateway.catalog import BY_ID
from gateway.chat_request import ChatRequest
from gateway.chat_stream import ChatStreamRelay, passthrough_safe

GPT_OSS = BY_ID["@cf/openai/gpt-oss-20b"]
LLAMA = BY_ID["@cf/meta/llama-3.1-8b-instruct-fast"]
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def parse(body, model=GPT_OSS):
    return ChatRequest.parse({"messages": [{"role": "user", "content": "hi"}], "stream": True, **body}, model)


def openai_stream(model_id=GPT_OSS.id, pieces=("Hel", "lo"), finish="stop", usage=USAGE) -> bytes:
    base = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 7, "model": model_id}
    events = [{**base, "choices": [{"index": 0, "delta": ({"role": "assistant", "content": p} if i == 0 else {"content": p}), "finish_reason": None}]}
              for i, p in enumerate(pieces)]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], **({"usage": usage} if usage else {})})
    return ("".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events) + "data: [DONE]\n\n").encode()


def relay_all(request, data: bytes, cuts=()) -> str:
    relay = ChatStreamRelay(request, created=1)
    out, last = [], 0
    for cut in [*cuts, len(data)]:
        out.append(relay.feed(data[last:cut]))
        last = cut
        if relay.finished:
            break
    out.append(relay.end())
    return "".join(out)


def payloads(text: str) -> list:
    events = [e[len("data: "):] for e in text.split("\n\n") if e]
    return [e if e == "[DONE]" else json.loads(e) for e in events]


def test_an_openai_stream_needing_nothing_is_relayed_byte_for_byte_however_it_is_cut():
    data = openai_stream(usage=None)
    request = parse({})
    for cut in range(1, len(data), 7):
        assert relay_all(request, data, [cut]).encode() == data


def test_all_events_of_one_read_come_out_of_one_call():
    relay = ChatStreamRelay(parse({}, LLAMA), created=1)
    out = relay.feed(b'data: {"response":"a"}\n\ndata: {"response":"b"}\n\ndata: {"response":"c"}\n\n')
    assert [p["choices"][0]["delta"].get("content") for p in payloads(out)] == ["", "a", "b", "c"]


@pytest.mark.parametrize("body", [{"stop": ["lo"]}, {"stream_options": {"include_usage": True}}])
def test_stop_strings_and_usage_chunks_are_not_passthrough_safe_and_are_rewritten(body):
    request = parse(body)
    assert not passthrough_safe(request)
    events = payloads(relay_all(request, openai_stream()))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["id"] for c in chunks} == {"chatcmpl-up"} and {c["created"] for c in chunks} == {7}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    if "stop" in body:
        assert text == "Hel"
        assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == ["stop"]
    else:
        assert text == "Hello"
        assert [c for c in chunks if c.get("usage")] == [chunks[-1]] and chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE


def test_a_model_named_otherwise_is_renamed_to_what_the_gateway_reports():
    events = payloads(relay_all(parse({}), openai_stream(model_id="gpt-oss-20b")))
    assert {e["model"] for e in events[:-1]} == {GPT_OSS.id}
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1]) == "Hello"


def test_older_models_and_models_not_marked_openai_are_not_passthrough_safe():
    assert not passthrough_safe(parse({}, LLAMA))


def test_relay_after_done_and_after_failure_says_nothing_more():
    relay = ChatStreamRelay(parse({}, LLAMA), created=1)
    relay.feed(b'data: {"response":"a"}\n\ndata: [DONE]\n\n')
    assert relay.finished
    assert relay.end().endswith("data: [DONE]\n\n")
    assert relay.feed(b'data: {"response":"late"}\n\n') == "" and relay.end() == "" and relay.fail("x") == ""


def test_idle_failure_is_an_error_event_after_the_role_chunk():
    relay = ChatStreamRelay(parse({}, LLAMA), created=1)
    events = payloads(relay.fail("the stream was silent for 1s"))
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-1]["error"]["code"] == "stream_interrupted"
    assert relay.closed and relay.fail("again") == ""


def test_error_event_in_the_middle_of_a_read_cuts_the_stream_there():
    relay = ChatStreamRelay(parse({}, LLAMA), created=1)
    out = relay.feed(b'data: {"response":"ok"}\n\ndata: {"error":"boom"}\n\ndata: {"response":"never"}\n\n')
    assert "never" not in out and "stream_interrupted" in out and relay.closed


# --- feed_bytes: the runtime's per-read entry, with its fast path for plain `response` events ---------

def plain_event(text: str, **extra) -> bytes:
    return ("data: " + json.dumps({"response": text, **extra}, ensure_ascii=False, separators=(",", ":")) + "\n\n").encode()


PLAIN_READS = [
    plain_event("Hello"),
    plain_event(" wörld"),
    plain_event(' "quoted" \\ tab\t'),
    plain_event(" é😀\u2028"),
    plain_event(" padded", p="abcdefgh"),
    plain_event(" two") + plain_event(" in one read"),
    plain_event(""),  # empty text: no chunk
    b'data: {"response":"","usage":' + json.dumps(USAGE).encode() + b"}\n\ndata: [DONE]\n\n",
]


def both_ways(request, reads):
    slow, fast = ChatStreamRelay(request, created=1), ChatStreamRelay(request, created=1)
    fast.completion_id = slow.completion_id
    slow_out = "".join(slow.feed(r) for r in reads) + slow.end()
    fast_out = b"".join(fast.feed_bytes(r) for r in reads) + fast.end().encode()
    return slow_out, fast_out.decode(), fast


def test_feed_bytes_sends_what_feed_sends_and_takes_the_fast_path_for_plain_reads():
    slow, fast, relay = both_ways(parse({}, LLAMA), PLAIN_READS)
    assert payloads(fast) == payloads(slow)
    assert fast == slow  # the models' JSON strings are written the way the gateway writes them
    contents = [p["choices"][0]["delta"].get("content") for p in payloads(fast) if isinstance(p, dict) and p.get("choices")]
    assert "".join(c for c in contents if c) == 'Hello wörld "quoted" \\ tab\t é😀\u2028 padded two in one read'
    assert len(relay._plain_reads) == 5  # every plain read after the first event (which also sends the role chunk)


def test_feed_bytes_estimates_usage_from_fast_path_text_when_the_model_reports_none():
    reads = [plain_event("abcd"), plain_event("efgh"), plain_event("ijklmnop"), b"data: [DONE]\n\n"]
    slow, fast, relay = both_ways(parse({"stream_options": {"include_usage": True}}, LLAMA), reads)
    assert relay._plain_reads
    assert payloads(fast)[-2]["usage"] == payloads(slow)[-2]["usage"]
    assert payloads(fast)[-2]["usage"]["completion_tokens"] == 4 and payloads(fast)[-2]["usage"]["estimated"] is True


@pytest.mark.parametrize("body", [{"stop": ["wör"]}, {}])
def test_feed_bytes_leaves_stop_strings_split_events_and_other_events_to_the_general_path(body):
    data = b"".join(PLAIN_READS)
    cuts = [3, 20, 21, 40, 77, 78, 100]
    relay = ChatStreamRelay(parse(body, LLAMA), created=1)
    out, last = [], 0
    for cut in [*cuts, len(data)]:
        out.append(relay.feed_bytes(data[last:cut]))
        last = cut
    fast = (b"".join(out) + relay.end().encode()).decode()
    slow = relay_all(parse(body, LLAMA), data, cuts)
    strip = lambda ps: [{k: v for k, v in p.items() if k != "id"} if isinstance(p, dict) else p for p in ps]
    assert strip(payloads(fast)) == strip(payloads(slow))
    if body.get("stop"):
        assert relay._plain_reads == [] and "wör" not in fast


def test_feed_bytes_fast_path_waits_for_a_held_over_event_and_stops_after_the_end():
    relay = ChatStreamRelay(parse({}, LLAMA), created=1)
    relay.feed_bytes(plain_event("first"))
    half = plain_event(" second")
    assert relay.feed_bytes(half[:10]) == b""  # part of an event: held over by the parser
    finished = relay.feed_bytes(half[10:] + plain_event(" third"))
    assert relay._plain_reads == []  # a read that completes a held-over event takes the general path
    assert [p["choices"][0]["delta"]["content"] for p in payloads(finished.decode())] == [" second", " third"]
    assert relay.feed_bytes(plain_event(" fourth")) and len(relay._plain_reads) == 1
    relay.fail("gone")
    assert relay.feed_bytes(plain_event(" after")) == b"" and len(relay._plain_reads) == 1
    ended = ChatStreamRelay(parse({}, LLAMA), created=1)
    ended.feed_bytes(plain_event("a") + b"data: [DONE]\n\n")
    ended.end()
    assert ended.feed_bytes(plain_event("late")) == b"" and ended._plain_reads == []


def test_the_usage_chunk_keeps_the_cached_and_reasoning_counts_the_model_reported():
    usage = {**USAGE, "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 1}}
    last = payloads(relay_all(parse({"stream_options": {"include_usage": True}}), openai_stream(usage=usage)))[-2]
    assert last["choices"] == [] and last["usage"] == {
        "prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 1}}


@pytest.mark.parametrize("first", [
    {"delta": {"content": "Hel"}},  # a model whose first chunk has no role
    {"message": {"role": "assistant", "content": "Hello"}},  # a whole answer (a model that ignored `stream`, or a checked one)
], ids=["no-role-delta", "whole-message"])
def test_every_stream_starts_with_the_assistant_role(first):
    base = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 7, "model": GPT_OSS.id}
    data = (f"data: {json.dumps({**base, 'choices': [{'index': 0, **first, 'finish_reason': None}]})}\n\n"
            "data: [DONE]\n\n").encode()
    chunks = [p for p in payloads(relay_all(parse({}), data)) if p != "[DONE]"]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert sum(1 for c in chunks for choice in c["choices"] if "role" in choice["delta"]) == 1
    assert "".join(choice["delta"].get("content") or "" for c in chunks for choice in c["choices"]) in ("Hel", "Hello")
