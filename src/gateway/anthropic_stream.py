"""The chat stream re-shaped as Anthropic's Messages stream.

`message_start`, a `ping`, then per content block `content_block_start` / `content_block_delta`
(`thinking_delta`, `text_delta`, `input_json_delta`) / `content_block_stop`, in the order the model
wrote them (reasoning, text, each tool call), then `message_delta` (stop reason and usage) and
`message_stop`; an `error` event when the model's stream broke off. Each chat event is parsed once
and each Anthropic event written as text from fixed pieces (this runs per chunk, inside the Free
plan's 10 ms of CPU).
"""

from __future__ import annotations

import json
import json.encoder as json_encoder
import re
from typing import AsyncIterable, AsyncIterator

from .anthropic_messages import STOP_REASONS, message_id, shell, tool_use_id, usage
from .chat_stops import StopFilter

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json_str = json_encoder.encode_basestring


def event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {_COMPACT.encode(data)}\n\n"


# The usual chat event: one piece of text and nothing else (the relay's own chunks, and most models'
# verbatim ones). Its JSON string is taken as it is, undecoded, into the text_delta.
_TEXT_ONLY = re.compile(r'"choices":\[\{"index":0,"delta":\{"content":("(?:[^"\\]|\\.)*")\}(?:,"logprobs":null)?'
                        r',"finish_reason":null\}\]\}')

_DELTA_FIELD = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking"),
                "tool_use": ("input_json_delta", "partial_json")}


class AnthropicStream:
    """The state of one translated stream: which block is open, the tool calls seen, the usage."""

    def __init__(self, model: str, stops: list[str], input_estimate: int, show_thinking: bool = True):
        self.model = model
        self.show_thinking = show_thinking
        self.id = message_id()
        self.stop = StopFilter(stops)
        self.input_estimate = input_estimate
        self.blocks = 0  # blocks started so far: the next block's index
        self.open: str | None = None  # the kind of the open block
        self.calls: dict[int, int] = {}  # the chat tool call's index → its block's index
        self.open_call: int | None = None
        self.chat_usage = None
        self.finish = None
        self._prefix: dict[str, str] = {}

    def start(self) -> list[str]:
        message = shell(self.model, [], None, None, {**usage(None), "input_tokens": self.input_estimate}, self.id)
        return [event("message_start", {"type": "message_start", "message": message}),
                event("ping", {"type": "ping"})]

    def _close(self, out: list[str]) -> None:
        if self.open is not None:
            out.append(event("content_block_stop", {"type": "content_block_stop", "index": self.blocks - 1}))
            self.open, self.open_call = None, None

    def _begin(self, kind: str, block: dict, out: list[str]) -> None:
        self._close(out)
        out.append(event("content_block_start", {"type": "content_block_start", "index": self.blocks, "content_block": block}))
        self.blocks += 1
        self.open = kind
        delta_type, field = _DELTA_FIELD[kind]
        self._prefix[kind] = ('event: content_block_delta\ndata: {"type":"content_block_delta","index":' + str(self.blocks - 1)
                              + ',"delta":{"type":"' + delta_type + '","' + field + '":')

    def _delta(self, kind: str, piece: str, out: list[str]) -> None:
        # The beta stream's thinking_delta carries `estimated_tokens` (null: none is estimated).
        out.append(self._prefix[kind] + _json_str(piece) + (',"estimated_tokens":null}}\n\n' if kind == "thinking" else "}}\n\n"))

    def _piece(self, kind: str, piece: str, out: list[str]) -> None:
        if self.open != kind:
            block = {"type": "text", "text": "", "citations": None} if kind == "text" else \
                {"type": "thinking", "thinking": "", "signature": ""}
            self._begin(kind, block, out)
        self._delta(kind, piece, out)

    def _call(self, call: dict, out: list[str]) -> None:
        position = call.get("index", len(self.calls))
        function = call.get("function") or {}
        if position not in self.calls:
            self._begin("tool_use", {"type": "tool_use", "id": tool_use_id(call.get("id")), "name": function.get("name") or "",
                                     "input": {}, "caller": {"type": "direct"}}, out)
            self.calls[position] = self.blocks - 1
            self.open_call = position
        arguments = function.get("arguments")
        if arguments and isinstance(arguments, str):
            if self.open_call != position:
                # Blocks follow one another: arguments for a call whose block is closed have no place.
                print("a model streamed arguments for an earlier tool call; they are left out")
                return
            self._delta("tool_use", arguments, out)

    def feed(self, payload: str, out: list[str]) -> bool:
        """One chat event's data; False once the answer has ended (a stop sequence, [DONE], an error)."""
        if payload == "[DONE]":
            return False
        if self.open == "text" and not self.stop.stops and payload.endswith("}]}") and '"usage"' not in payload:
            found = _TEXT_ONLY.search(payload)
            if found is not None and found.end() == len(payload):
                if len(found[1]) > 2:  # not ""
                    out.append(self._prefix["text"] + found[1] + "}}\n\n")
                return True
        chunk = json.loads(payload)
        if "error" in chunk:
            self._close(out)
            message = (chunk["error"] or {}).get("message") or "The model's stream broke off."
            out.append(event("error", {"type": "error", "error": {"type": "api_error", "message": message}, "request_id": None}))
            self.finish = "error"
            return False
        if chunk.get("usage"):
            self.chat_usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            self.finish = choice.get("finish_reason") or self.finish
            reasoning = delta.get("reasoning_content")
            if reasoning:
                if self.show_thinking:
                    self._piece("thinking", reasoning, out)
                elif self.open != "thinking":
                    self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            text = delta.get("content")
            if text:
                text = self.stop.feed(text)
                if text:
                    self._piece("text", text, out)
                if self.stop.matched is not None:
                    return False
            for call in delta.get("tool_calls") or ():
                self._call(call, out)
        return True

    def end(self) -> list[str]:
        out: list[str] = []
        if self.finish == "error":
            return out
        tail = self.stop.flush()
        if tail:
            self._piece("text", tail, out)
        self._close(out)
        if self.stop.matched is not None:
            reason = "stop_sequence"
        elif self.calls:
            reason = "tool_use"
        else:
            reason = STOP_REASONS.get(self.finish, "end_turn")
        counted = usage(self.chat_usage)
        delta_usage = {key: counted[key] for key in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                                     "cache_read_input_tokens", "output_tokens_details", "server_tool_use",
                                                     "iterations")}
        out.append(event("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": reason, "stop_sequence": self.stop.matched, "stop_details": None, "container": None},
            "usage": delta_usage, "context_management": None}))
        out.append(event("message_stop", {"type": "message_stop"}))
        return out


class AnthropicRelay:
    """The chat relay's events re-shaped as Anthropic's, inside the runtime's stream pipe: the same
    synchronous interface (`feed_bytes`, `end`, `fail`, `finished`, `closed`) as ChatStreamRelay,
    which it drives, so a Messages stream costs one Python call per read of the model's stream, as
    a chat stream does, with no async generator between the model and the client.

    The chat relay still meters (its `on_finish`) and watches the size; a stop sequence ends the
    Anthropic stream here, and the chat relay is then ended too so the usage is settled."""

    def __init__(self, chat_relay, stream: AnthropicStream):
        self._chat = chat_relay
        self._stream = stream
        self._pending: list[str] | None = stream.start()  # sent with the first read
        self._over = False  # the Anthropic answer has ended (stop sequence, [DONE], an error event)
        self.closed = False

    @property
    def finished(self) -> bool:
        return self._over or self._chat.finished

    def _translate(self, chat_events: list[str], out: list[str]) -> None:
        for text in chat_events:
            if self._over:
                return
            payload = text[6:].rstrip("\n") if text.startswith("data: ") else text.strip()
            if payload and not self._stream.feed(payload, out):
                self._over = True

    def _take_pending(self) -> list[str]:
        out, self._pending = self._pending or [], None
        return out

    def feed_bytes(self, data: bytes) -> bytes:
        if self.closed or self._over:
            return b""
        out = self._take_pending()
        self._translate(self._chat.feed_events(data), out)
        return "".join(out).encode()

    def end(self) -> str:
        """The model's stream ended, or the answer did: the chat relay settles, the message ends."""
        if self.closed:
            return ""
        out = self._take_pending()
        if self._over:
            # Ended here (a stop sequence) before the model's stream did: what was relayed is metered.
            self._chat.fail_events("the Messages answer ended before the model's stream")
        else:
            self._translate(self._chat.end_events(), out)
        out += self._stream.end()
        self.closed = True
        return "".join(out)

    def fail(self, reason: str) -> str:
        if self.closed:
            return ""
        out = self._take_pending()
        self._translate(self._chat.fail_events(reason), out)
        self.closed = True
        return "".join(out)


async def message_events(chat_events: AsyncIterable[str], stream: AnthropicStream) -> AsyncIterator[str]:
    """The chat pipeline's SSE events (`data: <chunk>`) as Anthropic's stream, read in Python: for
    a chat answer made whole first (a checked or non-streaming model's), not the runtime's pipe."""
    for text in stream.start():
        yield text
    try:
        async for raw in chat_events:
            out: list[str] = []
            going = stream.feed(raw[6:].rstrip("\n") if raw.startswith("data: ") else raw.strip(), out)
            if out:
                yield "".join(out)
            if not going:
                break
    finally:
        close = getattr(chat_events, "aclose", None)
        if close is not None:
            await close()  # an answer cut by a stop sequence ends the model's stream too
    for text in stream.end():
        yield text
