"""The event-loop patches Pyodide's WebLoop needs on Workers: timers whose cancel() clears the JS
timeout, and call_soon through a JS microtask instead of setTimeout(0)."""

from __future__ import annotations

import asyncio
import collections
import math

import js
from pyodide.ffi import create_once_callable, create_proxy


class _ClearableTimer(asyncio.Handle):
    """A timer handle whose cancel() clears the JS timeout. Pyodide's WebLoop.call_later never
    clears its setTimeout, so every cancelled timer (one per `asyncio.wait_for`, i.e. one per AI
    call) stays set until it would have fired, 120 s later. On Pyodide 0.26 each also stayed in the
    Python heap (a stream's per-chunk timeouts grew it by ~8 KiB per streamed answer: 24 → 41 MiB in
    2 load rounds). On every runtime each stays an active timeout, of which workerd allows 10 000:
    a translation of 10 000 lines failed on Pyodide 314 with "QuotaExceededError: You have exceeded
    the number of active timeouts you may set" at its 10 001st timer."""

    _timer = None
    _proxy = None

    def cancel(self):
        super().cancel()
        self._release()

    def _release(self):
        if self._proxy is not None:
            js.clearTimeout(self._timer)
            self._proxy.destroy()
            self._proxy = None


# setTimeout's largest delay; WebLoop caps it the same way.
_MAX_TIMEOUT_MS = 2**31 - 1


def install_clearable_timers(loop) -> None:
    if getattr(loop, "_gateway_timers", False):
        return
    # Pyodide >= 0.28 re-installs the running loop before each callback (each call may run on
    # its own thread state under stack switching); 0.26's WebLoop has neither method.
    before_callback = [getattr(loop, name) for name in ("_install_running_loop", "_install_asyncgen_hooks") if hasattr(loop, name)]

    def call_later(delay, callback, *args, context=None):
        if delay < 0:
            raise ValueError("Can't schedule in the past")
        handle = _ClearableTimer(callback, args, loop, context=context)
        if delay == math.inf:
            return handle

        def fire():
            handle._proxy = None  # a once-callable destroys itself when called
            for prepare in before_callback:
                prepare()
            if not handle.cancelled():
                handle._run()

        handle._proxy = create_once_callable(fire)
        handle._timer = js.setTimeout(handle._proxy, min(delay * 1000, _MAX_TIMEOUT_MS))
        return handle

    # WebLoop.call_at (used by asyncio.timeout/wait_for) goes through self.call_later.
    loop.call_later = call_later
    loop._gateway_timers = True


def install_microtask_call_soon(loop) -> None:
    """call_soon through a JS microtask instead of WebLoop's setTimeout(0): every `await` of a JS
    promise and every task step is a call_soon, and each setTimeout(0) went once round workerd's
    event loop (a timer, then I/O) before Python resumed; a microtask runs as soon as the current
    JS turn ends. FIFO like call_soon. Handles wait in a Python queue drained by ONE proxy made
    once per isolate: a JS function per call_soon (create_once_callable, with its finalizer
    registration) cost more than the step it scheduled. Nothing in the gateway polls with
    `sleep(0)`, the one pattern a microtask loop could starve I/O with."""
    if getattr(loop, "_gateway_microtasks", False):
        return
    queue_microtask = getattr(js, "queueMicrotask", None)
    if queue_microtask is None:
        return
    before_callback = [getattr(loop, name) for name in ("_install_running_loop", "_install_asyncgen_hooks") if hasattr(loop, name)]
    ready: collections.deque = collections.deque()

    def drain():
        # Handles scheduled while draining run in this same pass, in order, as call_soon promises.
        while ready:
            handle = ready.popleft()
            if handle.cancelled():
                continue
            for prepare in before_callback:
                prepare()
            handle._run()

    drain_proxy = create_proxy(drain)

    def call_soon(callback, *args, context=None):
        handle = asyncio.Handle(callback, args, loop, context=context)
        if not ready:
            queue_microtask(drain_proxy)
        ready.append(handle)
        return handle

    loop.call_soon = call_soon
    loop._gateway_microtasks = True
