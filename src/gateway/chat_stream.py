"""A Workers AI text-generation stream re-framed as OpenAI `chat.completion.chunk` events: the
relay state machine the runtime feeds once per read, and the ways to drive it from Python.

Older models stream `data: {"response": ...}`; newer ones OpenAI's own chunks.
"""

from __future__ import annotations

import json
import json.encoder as json_encoder
import re
from typing import Any, AsyncIterable, AsyncIterator, Callable

from .chat_completion import choose_finish_reason, completion_usage, new_completion_id, openai_tool_calls
from .chat_contract import carry_usage_details
from .chat_request import ChatRequest
from .chat_stops import StopFilter
from .errors import UpstreamError
from .sse import DONE, MAX_RELAYED_BYTES, SseParser, encode_event

# One SSE event must stay well inside OneAPI's 64 KiB line limit.
MAX_DELTA_CHARS = 16_384


def _as_text(value):
    """An event's text. Workers AI's JSON mode (llama-3.3-70b, llama-4-scout, granite) sends the
    answer as a JSON object in `response` instead of a string: it is the answer, written as JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else None


def _split(text: str) -> list[str]:
    return [text[i : i + MAX_DELTA_CHARS] for i in range(0, len(text), MAX_DELTA_CHARS)] or [""]


# One encoder for every chunk (json.dumps with arguments builds a new one per call).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json_str = json_encoder.encode_basestring  # a str as JSON, exactly as _COMPACT writes it
_CONTENT_SUFFIX = '},"logprobs":null,"finish_reason":null}]}\n\n'

# json.loads is a few Python calls and two regex matches around this C scanner; per streamed
# event, calling it directly saves a quarter of the relay's time.
_scan_json = json.JSONDecoder().scan_once
# A read holding only plain text events of an older model, each `data: {"response":"<JSON string>"}`
# (maybe with Workers AI's `p` padding): feed_bytes re-frames it with one substitution. The string
# is non-empty, without control characters; reads are capped so no string passes MAX_DELTA_CHARS.
_PLAIN_EVENT = re.compile(rb'data: \{"response":("(?:[^"\\\x00-\x1f]|\\[^\x00-\x1f])+")(?:,"p":"[^"\\\x00-\x1f]*")?\}\n\n')
_PLAIN_READ = re.compile(b"(?:" + _PLAIN_EVENT.pattern + b")+")
_PLAIN_READ_MAX = 8192
# The keys of an older model's plain text event (`p` is Workers AI's padding).
_PLAIN_TEXT_KEYS = frozenset(("response", "p"))
# The delta fields an OpenAI-shaped event may carry and still be relayed byte for byte.
_VERBATIM_DELTA_KEYS = frozenset(("role", "content", "tool_calls", "reasoning_content"))


class ChatStreamRelay:
    """Re-frames a Workers AI SSE stream as OpenAI `chat.completion.chunk` events: a synchronous
    state machine the runtime feeds with each read of the model's stream (a JS TransformStream
    calls `feed` once per read, with every event that read delivered), so no await per chunk.

    Older models stream `data: {"response": ...}`: each event becomes a chunk in OpenAI's shape.
    Newer models already stream OpenAI chunks: an event that needs nothing changed for this
    request (it names the model as the gateway reports it, carries only delta fields, no stop
    string is being cut) is relayed as the model sent it, less the usage a model adds to its last
    chunk; otherwise it is rebuilt, keeping the model's id and `created`. Usage reaches the client
    only when it asked for it (`stream_options.include_usage`), in a last chunk of its own;
    `on_finish` is told it either way.

    A failure midway (an error event, a stream without `[DONE]`, the runtime's idle watchdog)
    ends the stream with an `error` event and no `[DONE]`, so clients can tell a cut answer from
    a complete one.

    `on_finish(usage, completion_chars)` is told once, when the stream ends or breaks, what the
    model reported as its usage (None if nothing) and how to count the characters it relayed
    (metering.MeteredStream.report).
    """

    def __init__(self, request: ChatRequest, *, created: int,
                 on_finish: Callable[[Any, Callable[[], int]], None] | None = None):
        self.request = request
        self.model_id = request.model.id
        self.completion_id = new_completion_id()
        self.created = created
        self.finished = False  # [DONE] (or a stop string) seen: everything after it is ignored
        self.closed = False  # the last event was produced: feed/end/fail return nothing more
        self._parser = SseParser()
        self._stop = StopFilter(request.stop)
        self._stops = bool(request.stop)
        self._prefix_text: str | None = None
        self._started = False
        self._finish_sent = False
        self._produced: list[str] = []
        self._plain_reads: list[bytes] = []  # reads re-framed by feed_bytes' fast path
        self._plain_template: bytes | None = None
        self._plain_head = self._plain_tail = b""
        self._plain_ready = False  # feed_bytes may take its fast path (see feed_events)
        self._usage_raw = None
        self._reported = None
        self._tool_calls: list = []
        self._on_finish = on_finish
        self._other_chars = 0  # reasoning and tool-call text, counted for an answer without usage
        self._received = 0

    # --- the runtime's side -------------------------------------------------------------------

    def feed(self, data: bytes) -> str:
        """The SSE text to send for one read of the model's stream ('' when nothing is ready)."""
        return "".join(self.feed_events(data))

    def feed_bytes(self, data: bytes) -> bytes:
        """`feed` for the runtime's pipe, bytes in and out. A read made only of an older model's
        plain text events (`data: {"response":"..."}`) is re-framed without parsing, keeping each
        JSON string as the model wrote it: a read of one event (the usual case) is one regex match
        and one concatenation, a read of several one substitution (Pyodide 314: 5.8 → 2.9 µs per
        event with the substitution, 3.7 with the C scanner alone)."""
        if self._plain_ready and len(data) <= _PLAIN_READ_MAX and self._received + len(data) <= MAX_RELAYED_BYTES:
            single = _PLAIN_EVENT.fullmatch(data)
            if single is not None or _PLAIN_READ.fullmatch(data):
                self._received += len(data)
                self._plain_reads.append(data)
                if single is not None:
                    return self._plain_head + single[1] + self._plain_tail
                return _PLAIN_EVENT.sub(self._plain_template, data)
        return self.feed(data).encode()

    def end(self) -> str:
        """The model's stream ended."""
        return "".join(self.end_events())

    def fail(self, reason: str) -> str:
        """The stream broke (read error, idle timeout): the error event, once."""
        return "".join(self.fail_events(reason))

    def feed_events(self, data: bytes) -> list[str]:
        if self.closed or self.finished:
            return []
        self._received += len(data)
        if self._received > MAX_RELAYED_BYTES:
            return self.fail_events(f"the stream passed {MAX_RELAYED_BYTES} bytes")
        out: list[str] = []
        try:
            for payload in self._parser.feed(data):
                self._event(payload, out)
                if self.finished:
                    break
        except UpstreamError as exc:
            return out + self.fail_events(str(exc))
        # The one flag feed_bytes' fast path reads: nothing held over, nothing ended.
        self._plain_ready = self._plain_template is not None and not self.finished and self._parser.idle()
        return out

    def end_events(self) -> list[str]:
        if self.closed:
            return []
        out: list[str] = []
        try:
            if not self.finished:
                for payload in self._parser.close():
                    self._event(payload, out)
                    if self.finished:
                        break
            if not self.finished:
                # Workers AI ends every complete stream with [DONE]; without it the answer was cut.
                raise UpstreamError("the stream ended without [DONE]")
        except UpstreamError as exc:
            return out + self.fail_events(str(exc))
        self._begin(out)
        tail = self._stop.flush()
        if tail:
            self._produced.append(tail)
            out.append(self._chunk({"content": tail}))
        usage, _ = completion_usage(self._usage_raw, self.request, lambda: "".join(self._produced) + self._plain_text())
        if not self._finish_sent:
            out.append(self._chunk({}, choose_finish_reason(self.request, self._reported, self._tool_calls, usage, self._stop.stopped)))
        if self.request.include_usage:
            carry_usage_details({"usage": usage}, self._usage_raw)  # the cached and reasoning counts too
            out.append(encode_event({"id": self.completion_id, "object": "chat.completion.chunk", "created": self.created,
                                     "model": self.model_id, "choices": [], "usage": usage}))
        out.append(encode_event(DONE))
        self.closed = True
        self._plain_ready = False
        self._finish()
        return out

    def fail_events(self, reason: str) -> list[str]:
        if self.closed:
            return []
        print(f"chat stream from {self.model_id} broke: {reason}")
        out: list[str] = []
        self._begin(out)
        out.append(encode_event({"error": {"message": f"The stream from {self.model_id} broke off before it finished.",
                                           "type": "server_error", "param": None, "code": "stream_interrupted"}}))
        self.closed = True
        self._plain_ready = False
        self._finish()
        return out

    def _finish(self) -> None:
        if self._on_finish is not None:
            on_finish, self._on_finish = self._on_finish, None
            on_finish(self._usage_raw, self._relayed_chars)

    def _relayed_chars(self) -> int:
        return sum(map(len, self._produced)) + len(self._plain_text()) + self._other_chars

    def _allow_plain_reads(self) -> None:
        """From now on, whole reads of plain text events may take feed_bytes' fast path."""
        if self._plain_template is None:
            self._plain_head = self._prefix().encode() + b'{"content":'
            self._plain_tail = _CONTENT_SUFFIX.encode()
            self._plain_template = self._plain_head.replace(b"\\", b"\\\\") + b"\\1" + self._plain_tail

    def _plain_text(self) -> str:
        """What the fast path relayed, as text (only asked when the model reported no usage)."""
        literals = [match for data in self._plain_reads for match in _PLAIN_EVENT.findall(data)]
        return "".join(json.loads(b"[" + b",".join(literals) + b"]")) if literals else ""

    # --- one event ----------------------------------------------------------------------------

    def _prefix(self) -> str:
        # Everything of a chunk before its delta, made once: the bytes are json.dumps's (compact,
        # keys in this order), without a JSON encoder per chunk.
        if self._prefix_text is None:
            self._prefix_text = (
                'data: {"id":' + _json_str(self.completion_id) + ',"object":"chat.completion.chunk","created":'
                + _COMPACT.encode(self.created) + ',"model":' + _json_str(self.model_id) + ',"choices":[{"index":0,"delta":'
            )
        return self._prefix_text

    def _chunk(self, delta: dict, finish_reason=None) -> str:
        finish = "null" if finish_reason is None else _COMPACT.encode(finish_reason)
        return self._prefix() + _COMPACT.encode(delta) + ',"logprobs":null,"finish_reason":' + finish + "}]}\n\n"

    def _content_chunk(self, piece: str) -> str:
        return self._prefix() + '{"content":' + _json_str(piece) + _CONTENT_SUFFIX

    def _begin(self, out: list[str]) -> None:
        # Older models' streams start with the role, as OpenAI's do; OpenAI-shaped ones bring their own.
        if not self._started:
            self._started = True
            out.append(self._chunk({"role": "assistant", "content": ""}))

    def _text(self, text: str, out: list[str]) -> None:
        if not self._stops and len(text) <= MAX_DELTA_CHARS:
            self._produced.append(text)
            out.append(self._content_chunk(text))
            return
        for piece in _split(self._stop.feed(text)):
            if piece:
                self._produced.append(piece)
                out.append(self._content_chunk(piece))

    def _event(self, payload: str, out: list[str]) -> None:
        if payload == DONE or payload.strip() == DONE:
            self.finished = True
            return
        try:
            event, end = _scan_json(payload, 0)
            if end != len(payload):
                event = json.loads(payload)  # whitespace after the value is fine, anything else not
        except (StopIteration, ValueError):
            try:
                event = json.loads(payload)
            except ValueError:
                return
        if not isinstance(event, dict):
            return
        if self._started and not self._stops and event.keys() <= _PLAIN_TEXT_KEYS:
            # The usual event of an older model's stream, `{"response": "..."}` (Workers AI may
            # add a `p` padding field): one content chunk, without the general path's checks.
            text = event.get("response")
            if type(text) is str and len(text) <= MAX_DELTA_CHARS:
                if text:
                    self._produced.append(text)
                    out.append(self._content_chunk(text))
                self._allow_plain_reads()
                return
        if "error" in event or "errors" in event:
            detail = event.get("error") or event.get("errors")
            raise UpstreamError(f"error event in stream: {detail}")
        choices = event.get("choices")
        if isinstance(choices, list):
            self._openai_event(event, choices, payload, out)
        else:
            if not self._started:
                self._begin(out)
            usage = event.get("usage")
            if usage:
                self._usage_raw = usage
            raw_calls = event.get("tool_calls")
            if raw_calls:
                for call in openai_tool_calls(raw_calls):
                    out.append(self._chunk({"tool_calls": [{"index": len(self._tool_calls), **call}]}))
                    self._tool_calls.append(call)
            text = _as_text(event.get("response"))
            if text:
                self._text(text, out)
            if not self._stops and event.keys() <= _PLAIN_TEXT_KEYS:
                self._allow_plain_reads()
        if self._stop.stopped:
            self.finished = True

    def _verbatim(self, event: dict, choices: list) -> bool:
        if self.request.stop or event.get("model") != self.model_id or event.get("object") != "chat.completion.chunk":
            return False
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict) or not _VERBATIM_DELTA_KEYS.issuperset(delta):
                return False
            content = delta.get("content")
            if content is not None and (not isinstance(content, str) or len(content) > MAX_DELTA_CHARS):
                return False
            calls = delta.get("tool_calls")
            if calls is not None and not (isinstance(calls, list) and all(isinstance(c, dict) and "index" in c for c in calls)):
                return False
            if calls and self.request.ids_back and any(c.get("id") in self.request.ids_back for c in calls):
                return False  # tool-call ids go back to the client's own
        return True

    def _openai_event(self, event: dict, choices: list, payload: str, out: list[str]) -> None:
        if not self._started:
            # The model's own id and time, so rebuilt chunks match the ones relayed as sent.
            self._started = True
            if isinstance(event.get("id"), str):
                self.completion_id = event["id"]
            if isinstance(event.get("created"), int) and not isinstance(event["created"], bool):
                self.created = event["created"]
            self._prefix_text = None
            # Clients build the message from the first delta's role (openai-node refuses a stream
            # without one): a model whose first chunk lacks it, or a whole `message`, gets one first.
            if not any(isinstance(c, dict) and isinstance(c.get("delta"), dict) and "role" in c["delta"] for c in choices):
                out.append(self._chunk({"role": "assistant", "content": ""}))
        self._usage_raw = event.get("usage") or self._usage_raw
        if self._verbatim(event, choices):
            if "usage" in event:
                # The model adds usage to its last chunk whatever was asked; a client gets it only
                # when it asked (`stream_options.include_usage`), in a chunk of its own (end_events).
                if not choices:
                    return
                payload = _COMPACT.encode({key: value for key, value in event.items() if key != "usage"})
            out.append(f"data: {payload}\n\n")
            for choice in choices:
                delta = choice["delta"]
                if choice.get("finish_reason"):
                    self._finish_sent = True
                if delta.get("content"):
                    self._produced.append(delta["content"])
                if delta.get("tool_calls"):
                    self._tool_calls.extend(delta["tool_calls"])
            return
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            # A model that ignored `stream` sends one whole `message`.
            delta = choice.get("delta") or choice.get("message") or {}
            self._reported = choice.get("finish_reason") or self._reported
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                self._other_chars += len(reasoning) if isinstance(reasoning, str) else 0
                out.append(self._chunk({"reasoning_content": reasoning}))
            text, calls = _as_text(delta.get("content")), delta.get("tool_calls")
            if text is None and isinstance(choice.get("text"), str):
                text = choice["text"]  # text_completion chunks
            if calls:
                for call in calls:
                    index = call.get("index", len(self._tool_calls))
                    call_out = {k: v for k, v in call.items() if k in ("id", "type", "function")}
                    if call_out.get("id") in self.request.ids_back:
                        call_out["id"] = self.request.ids_back[call_out["id"]]
                    self._tool_calls.append(call_out)
                    out.append(self._chunk({"tool_calls": [{"index": index, **call_out}]}))
            if text:
                self._text(text, out)


def passthrough_safe(request: ChatRequest) -> bool:
    """Whether the model's own stream is what `ChatStreamRelay` would send for this request, byte
    for byte, so the runtime may hand it to the client with no Python per chunk. Never, for the
    models the catalog knows: those that stream OpenAI chunks (`stream="openai"`) put their usage
    on the last chunk whether or not it was asked for, and a client gets usage only when it asks,
    in a chunk of its own, so the relay always has that chunk to rewrite. Passing streams through
    again needs the runtime to drop that usage from the bytes it hands on (the meter reads its
    own copy)."""
    return False


async def completion_chunks(source: AsyncIterable[bytes], request: ChatRequest, *, created: int) -> AsyncIterator[str]:
    """`ChatStreamRelay` over an async byte source, an event at a time (answers that were not
    streamed by the model, and tests)."""
    async for event in relay_events(source, ChatStreamRelay(request, created=created)):
        yield event


async def relay_events(source: AsyncIterable[bytes], relay: "ChatStreamRelay") -> AsyncIterator[str]:
    """A relay driven from Python, an event at a time: for the endpoints that re-shape every
    chat event anyway (/v1/completions, /v1/responses) instead of the runtime's pipe."""
    try:
        async for data in source:
            for event in relay.feed_events(data):
                yield event
            if relay.closed or relay.finished:
                break
    except Exception as exc:  # noqa: BLE001 - whatever broke, the client must learn the stream is cut
        for event in relay.fail_events(f"{type(exc).__name__}: {exc}"):
            yield event
        return
    except BaseException:
        # Closed before its end (the client left): what was relayed so far is reported.
        relay.fail_events("the stream was closed before its end")
        raise
    for event in relay.end_events():
        yield event


async def chunks_from_completion(result: dict) -> AsyncIterator[bytes]:
    """A Workers AI SSE stream equivalent to a non-streamed result, for models that ignore `stream`."""
    yield ("data: " + json.dumps(result) + "\n\ndata: [DONE]\n\n").encode()

