"""JS ReadableStreams: iterated for their bytes, tee'd with a copy the runtime keeps, or read into one
Uint8Array up to a limit (a body, a fetched image, a generated image)."""

from __future__ import annotations

import js
from pyodide.ffi import JsException, JsProxy

from .buffers import JsBuffer
from .ffi import is_js_proxy, is_null, js_object


class JsReadableStream:
    """A JS ReadableStream: iterate for its bytes, or pass `handle` on untouched."""

    def __init__(self, handle: JsProxy):
        self.handle = handle

    async def __aiter__(self):
        reader = self.handle.getReader()
        finished = False
        try:
            while True:
                chunk = await reader.read()
                if chunk.done:
                    finished = True
                    return
                value = chunk.value
                yield value.to_bytes() if is_js_proxy(value) else bytes(value)
        finally:
            if finished:
                reader.releaseLock()
            else:
                # Stopped early (a timeout, a gone client): tell the source to stop producing.
                # Not awaited: this may run while the generator is being closed.
                reader.cancel()

    async def buffer(self, max_bytes: int) -> "JsBuffer | None":
        """The stream's bytes kept in JS (a generated image), or None once it passes `max_bytes`."""
        data = await read_at_most(self.handle, max_bytes)
        return None if data is None else JsBuffer(data)

    def tee(self):
        """(the stream for the client, an awaitable `JsStreamCopy` of the same bytes). The copy is read
        by the runtime's own Response.arrayBuffer() from now on: no Python runs per chunk, and it
        is read to its end whatever the client's branch does."""
        branches = self.handle.tee()
        whole = js.Response.new(branches[1]).arrayBuffer()

        async def copy() -> "JsStreamCopy":
            return JsStreamCopy(await whole)

        return JsReadableStream(branches[0]), copy()


class JsStreamCopy:
    """A stream's bytes in one JS ArrayBuffer: Python reads only the slices it asks for."""

    def __init__(self, buffer: JsProxy):
        self._buffer = buffer
        self.size = int(buffer.byteLength)

    def tail(self, max_bytes: int) -> bytes:
        start = max(0, self.size - max_bytes)
        return js.Uint8Array.new(self._buffer, start, self.size - start).to_bytes()

    def slices(self, step: int):
        for start in range(0, self.size, step):
            yield js.Uint8Array.new(self._buffer, start, min(step, self.size - start)).to_bytes()


async def read_at_most(stream, max_bytes: int):
    """The bytes of a JS ReadableStream as one Uint8Array, or None (the stream cancelled) as soon as
    it passes `max_bytes`. Nothing crosses into Python; a BYOB `readAtLeast` takes one crossing."""
    if is_null(stream):
        return js.Uint8Array.new(0)
    try:
        reader = stream.getReader(js_object({"mode": "byob"}))
    except JsException:
        reader = None
    if reader is not None and getattr(reader, "readAtLeast", None) is not None:
        # Resolves once max_bytes + 1 bytes arrived (too many) or the stream ended (fewer).
        view = js.Uint8Array.new(max_bytes + 1)
        total = 0
        while True:
            chunk = await reader.readAtLeast(max_bytes + 1 - total, view.subarray(total))
            value = chunk.value
            got = 0
            if not is_null(value):
                # The read transferred the buffer: the result views the same memory, now ours again.
                view = js.Uint8Array.new(value.buffer)
                got = int(value.byteLength)
                total += got
            if total > max_bytes:
                reader.cancel()
                return None
            if chunk.done or got == 0:
                break
        return view.subarray(0, total)
    reader = stream.getReader()
    parts = js.Array.new()
    total = 0
    while True:
        chunk = await reader.read()
        if chunk.done:
            break
        total += int(chunk.value.byteLength)
        if total > max_bytes:
            reader.cancel()
            return None
        parts.push(chunk.value)
    return js.Uint8Array.new(await js.Blob.new(parts).arrayBuffer())
