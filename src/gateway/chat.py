"""OpenAI chat completions ⇄ Workers AI text generation.

Workers AI answers in two shapes: older models `{response, usage, tool_calls}`
(streamed as `data: {"response": ...}`), newer ones OpenAI's `choices`. Both are
turned into `chat.completion` objects and `chat.completion.chunk` streams.
"""

from __future__ import annotations

import json
import json.encoder as json_encoder
import math
import re
from dataclasses import dataclass, field
from typing import Any, AsyncIterable, AsyncIterator, Callable

from . import ids, openai_params
from .catalog import Model
from .chat_contract import carry_usage_details
from .errors import QueuedError, UpstreamError, bad_request
from .platform import is_blob
from .sse import DONE, MAX_RELAYED_BYTES, SseParser, encode_event

ROLES = {"system", "developer", "user", "assistant", "tool"}
# The checked numbers (openai_params.CHAT) that the model is given as they are.
_MODEL_PARAMETERS = ("temperature", "top_p", "top_k", "seed", "frequency_penalty", "presence_penalty", "repetition_penalty")
# One SSE event must stay well inside OneAPI's 64 KiB line limit.
MAX_DELTA_CHARS = 16_384


def estimate_tokens(text: str) -> int:
    """A rough count (about four characters a token) for when the model reports none."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def new_completion_id() -> str:
    return "chatcmpl-" + ids.hex_id(24)


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _message(raw, index: int, model: Model) -> dict:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise bad_request(f"`{where}` must be an object.", param=where)
    role = raw.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise bad_request(f"`{where}.role` must be one of {', '.join(sorted(ROLES))}.", param=f"{where}.role")
    content = raw.get("content")
    if content is None:
        if not (role == "assistant" and raw.get("tool_calls")):
            content = ""
    elif isinstance(content, list):
        content = _parts(content, where, model)
    elif not isinstance(content, str):
        raise bad_request(f"`{where}.content` must be a string or an array of parts.", param=f"{where}.content")
    # Workers AI models know no "developer" role; it is OpenAI's new name for system.
    message: dict[str, Any] = {"role": "system" if role == "developer" else role, "content": content}
    for key in ("name", "tool_call_id", "tool_calls"):
        if raw.get(key) is not None:
            message[key] = raw[key]
    return message


def _parts(parts: list, where: str, model: Model):
    has_image = False
    for i, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            continue
        if kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not (isinstance(url, str) and url) and not is_blob(url):
                raise bad_request(f"`{where}.content[{i}].image_url.url` must be a URL.", param=f"{where}.content")
            has_image = True
            continue
        raise bad_request(
            f"`{where}.content[{i}]` must be a text or image_url part.", param=f"{where}.content"
        )
    if not has_image:
        # Text-only parts become one string: every Workers AI chat model takes that.
        return _text_of(parts)
    if "vision" not in model.capabilities:
        raise bad_request(
            f"'{model.id}' does not accept images; use a vision model such as @cf/meta/llama-4-scout-17b-16e-instruct.",
            param=f"{where}.content", code="model_not_multimodal",
        )
    return parts


@dataclass
class ChatRequest:
    model: Model
    inputs: dict
    stream: bool = False
    include_usage: bool = False
    stop: list[str] = field(default_factory=list)
    max_tokens: int | None = None
    # Tool-call ids rewritten for the model's contract → the client's own (chat_contract).
    ids_back: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, body: dict, model: Model) -> "ChatRequest":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("`messages` must be a non-empty array.", param="messages")
        inputs: dict[str, Any] = {"messages": [_message(m, i, model) for i, m in enumerate(messages)]}

        values = openai_params.checked(body, openai_params.CHAT)
        max_tokens = values.get("max_completion_tokens", values.get("max_tokens"))
        if max_tokens is not None:
            inputs["max_tokens"] = max_tokens
        for name in _MODEL_PARAMETERS:
            if name in values:
                inputs[name] = values[name]
        if values.get("n", 1) != 1:
            raise bad_request("Only `n: 1` is supported: Workers AI returns one choice.", param="n")

        stop = body.get("stop")
        if stop is None:
            stops = []
        elif isinstance(stop, str):
            stops = [stop]
        elif isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop):
            stops = list(stop)
        else:
            raise bad_request("`stop` must be a string or an array of up to 4 strings.", param="stop")

        response_format = body.get("response_format")
        if response_format is not None:
            if not isinstance(response_format, dict) or response_format.get("type") not in ("text", "json_object", "json_schema"):
                raise bad_request("`response_format.type` must be text, json_object or json_schema.", param="response_format")
            if response_format["type"] != "text":
                inputs["response_format"] = response_format

        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
                raise bad_request("`tools` must be an array of tool objects.", param="tools")
            if tools:
                inputs["tools"] = tools
                if body.get("tool_choice") is not None:
                    inputs["tool_choice"] = body["tool_choice"]

        stream = body.get("stream")
        if stream is None:
            stream = False  # null is OpenAI's default, as if unset
        if not isinstance(stream, bool):
            raise bad_request("`stream` must be true or false.", param="stream")
        if stream:
            inputs["stream"] = True
        options = body.get("stream_options")
        include_usage = bool(stream and isinstance(options, dict) and options.get("include_usage"))
        return cls(model, inputs, stream, include_usage, [s for s in stops if s], max_tokens)

    def prompt_text(self) -> str:
        return "\n".join(_text_of(m.get("content")) for m in self.inputs["messages"])


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True


class StopFilter:
    """Applies stop sequences to streamed text, holding back only what could start one."""

    def __init__(self, stops: list[str]):
        self.stops = stops
        self.held = ""
        self.stopped = False
        self._keep = max((len(s) for s in stops), default=1) - 1

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        self.held += text
        cut, self.stopped = cut_at_stop(self.held, self.stops)
        if self.stopped:
            self.held = ""
            return cut
        ready = len(self.held) - self._keep
        if ready <= 0:
            return ""
        out, self.held = self.held[:ready], self.held[ready:]
        return out

    def flush(self) -> str:
        out, self.held = self.held, ""
        return "" if self.stopped else out


def _tool_calls_openai(raw_calls) -> list[dict]:
    """Tool calls in OpenAI's shape, from either Workers AI shape."""
    calls = []
    for i, call in enumerate(raw_calls or []):
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else call
        arguments = function.get("arguments", {})
        calls.append(
            {
                "id": call.get("id") or f"call_{ids.hex_id(16)}",
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False),
                },
            }
        )
    return calls


def _usage(raw, request: "ChatRequest", completion: Callable[[], str]) -> tuple[dict, bool]:
    """The model's token counts when it gave them; otherwise an estimate, marked as one (the
    prompt's and the answer's text are only made for an estimate)."""
    if isinstance(raw, dict) and isinstance(raw.get("prompt_tokens"), int) and isinstance(raw.get("completion_tokens"), int):
        usage = {
            "prompt_tokens": raw["prompt_tokens"],
            "completion_tokens": raw["completion_tokens"],
            "total_tokens": raw.get("total_tokens") or raw["prompt_tokens"] + raw["completion_tokens"],
        }
        return usage, False
    prompt_tokens, completion_tokens = estimate_tokens(request.prompt_text()), estimate_tokens(completion())
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "estimated": True,
    }
    return usage, True


def _finish_reason(request: ChatRequest, reported, tool_calls, usage: dict, stopped: bool) -> str:
    if tool_calls:
        return "tool_calls"
    if stopped:
        return "stop"
    if reported in ("stop", "length", "tool_calls", "content_filter"):
        return reported
    if request.max_tokens and usage.get("completion_tokens", 0) >= request.max_tokens:
        return "length"
    return "stop"


def completion(result: Any, request: ChatRequest, *, created: int) -> dict:
    """A `chat.completion` object from a non-streamed Workers AI result (either shape)."""
    if not isinstance(result, dict):
        raise UpstreamError(f"unexpected result type {type(result).__name__}")
    reported = None
    reasoning = None
    if isinstance(result.get("request_id"), str) and not result.get("choices") and "response" not in result:
        # Workers AI queued the call (its async answer) instead of answering it.
        raise QueuedError(f"the model queued the request (async request_id {result['request_id']}) instead of answering")
    if isinstance(result.get("choices"), list) and result["choices"]:
        choice = result["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
        if content is None and isinstance(choice.get("text"), str):
            # The `text_completion` output variant (qwen3): choices[0].text.
            content = choice["text"]
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        raw_calls = message.get("tool_calls")
        reported = choice.get("finish_reason")
    elif "response" in result or "tool_calls" in result:
        content = result.get("response")
        raw_calls = result.get("tool_calls")
    else:
        raise UpstreamError("result has neither `choices` nor `response`")
    if content is not None and not isinstance(content, (str, dict, list)):
        # Not text: a JS null that the production runtime's Pyodide hands over as a JsNull proxy
        # (`{response: null, tool_calls}`), which must not become the text "null".
        content = None
    if content is not None and not isinstance(content, str):
        # JSON mode: some models hand back the parsed object.
        content = json.dumps(content, ensure_ascii=False)
    tool_calls = _tool_calls_openai(raw_calls)
    content, stopped = cut_at_stop(content or "", request.stop)
    usage, _ = _usage(result.get("usage"), request, lambda: content)
    # `refusal` is required (null when the model did not refuse): Workers AI models never say they do.
    message_out: dict[str, Any] = {"role": "assistant", "content": None if tool_calls and not content else content,
                                   "refusal": None}
    if reasoning:
        message_out["reasoning_content"] = reasoning
    if tool_calls:
        message_out["tool_calls"] = tool_calls
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": created,
        "model": request.model.id,
        "choices": [
            {
                "index": 0,
                "message": message_out,
                "logprobs": None,
                "finish_reason": _finish_reason(request, reported, tool_calls, usage, stopped),
            }
        ],
        "usage": usage,
    }


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
        usage, _ = _usage(self._usage_raw, self.request, lambda: "".join(self._produced) + self._plain_text())
        if not self._finish_sent:
            out.append(self._chunk({}, _finish_reason(self.request, self._reported, self._tool_calls, usage, self._stop.stopped)))
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
                for call in _tool_calls_openai(raw_calls):
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

