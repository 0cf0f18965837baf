"""Server-sent events: an incremental parser for Workers AI streams and the encoder for ours."""

from __future__ import annotations

import json
from typing import AsyncIterable, AsyncIterator

from .errors import UpstreamError

DONE = "[DONE]"

# A line (one `data:` field) longer than this ends the stream: a chat chunk is a few hundred bytes,
# and without a bound a 20 MB line without a newline took 16 s of CPU to scan.
MAX_LINE_BYTES = 1024 * 1024
# Bytes of one streamed answer relayed through the gateway: a long chat answer is a few hundred KB.
MAX_RELAYED_BYTES = 8 * 1024 * 1024


class SseParser:
    """Turns arbitrary byte chunks into the `data` payloads of complete events.

    Events may be split across chunks anywhere (even inside a UTF-8 sequence),
    lines may end in LF or CRLF, and `data:` may or may not be followed by a space.
    """

    def __init__(self):
        self._pending = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        if (not self._pending and not self._data and chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
                and chunk.count(b"\n") == 2 and b"\r" not in chunk):
            # The usual read of a model's stream: one whole `data: <payload>` event, nothing held
            # over. Per streamed chunk this is the parser's whole cost (the Python relay runs once
            # per read, inside the Free plan's 10 ms of CPU).
            return [chunk[6:-2].decode("utf-8", errors="replace")]
        # Only the new bytes can hold the next newline: the pending ones were searched already.
        search_from = len(self._pending)
        self._pending += chunk
        events: list[str] = []
        while True:
            newline = self._pending.find(b"\n", search_from)
            search_from = 0
            if newline < 0:
                if len(self._pending) > MAX_LINE_BYTES:
                    raise UpstreamError(f"the stream sent a line longer than {MAX_LINE_BYTES} bytes")
                return events
            line = self._pending[:newline].rstrip(b"\r").decode("utf-8", errors="replace")
            self._pending = self._pending[newline + 1 :]
            if not line:
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
            elif line.startswith("data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(" ") else value)
            # Comments (":"), `event:`, `id:` and `retry:` lines carry nothing we relay.

    def idle(self) -> bool:
        """Nothing held over from earlier chunks."""
        return not self._pending and not self._data

    def close(self) -> list[str]:
        """Whatever a stream that ended without a final blank line still held."""
        events = self.feed(b"\n\n") if self._pending else []
        if self._data:
            events.append("\n".join(self._data))
            self._data = []
        return events


async def sse_payloads(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    parser = SseParser()
    async for chunk in chunks:
        for payload in parser.feed(chunk):
            yield payload
    for payload in parser.close():
        yield payload


def encode_event(data) -> str:
    """One event, framed exactly `data: <json>\\n\\n` (OneAPI and new-api split on that)."""
    if isinstance(data, str):
        return f"data: {data}\n\n"
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    # Tells proxies in front of the worker not to buffer the stream.
    "X-Accel-Buffering": "no",
}
