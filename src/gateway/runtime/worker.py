"""The worker's entry: `serve()` builds the core's `Platform` from `env` and `ctx` for one request,
runs the core and answers; `ctx.waitUntil` carries deferred work and keeps a request alive."""

from __future__ import annotations

import asyncio

import js
import pyodide
from pyodide.ffi import JsProxy, to_js

from ..app import handle
from ..platform import Platform
from .ai import WorkersAi
from .cache import text_cache
from .d1 import D1Database
from .fetch import JsFetcher
from .ffi import unwrap
from .loop import install_clearable_timers, install_microtask_call_soon
from .r2 import R2Storage
from .request import core_request
from .response import js_response
from .settings import settings

_USAGE_DB = "USAGE_DB"
_PYODIDE_VERSION = getattr(pyodide, "__version__", None)


def _wait_until(ctx):
    """`() -> ctx.waitUntil` (or None), looked up when a request first asks, once."""
    found: list = []

    def get():
        if not found:
            found.append(getattr(unwrap(ctx), "waitUntil", None) if ctx is not None else None)
        return found[0]

    return get


def _deferrer(wait_until):
    """`ctx.waitUntil` for a Python coroutine (a translation cache write): it runs after the answer
    has gone out, and the runtime keeps the isolate alive until it settles."""

    async def guarded(coro):
        try:
            # Yield once first, so the answer goes out before the work starts: started at once, a
            # local D1 write once delayed the response by ~10 ms (p50 5.8 → 15.8 ms; with the yield 5.7).
            await asyncio.sleep(0)
            await coro
        except Exception as exc:  # a deferred write must never surface as an unhandled rejection
            print(f"deferred task failed: {type(exc).__name__}: {exc}")

    def defer(coro):
        task = asyncio.ensure_future(guarded(coro))
        if wait_until() is not None:
            wait_until()(to_js(task))

    return defer


def _keeper(wait_until):
    """Keeps the request alive until released: one JS promise given to waitUntil and resolved by the
    function returned (Promise.withResolvers: cheaper than handing waitUntil a Python future, whose
    to_js costs ~15 µs, which is the way left where the runtime's V8 lacks it)."""

    def keep_alive():
        if wait_until() is None:
            return _nothing
        if _PROMISE_WITH_RESOLVERS is not None:
            pending = _PROMISE_WITH_RESOLVERS()
            wait_until()(pending.promise)
            return pending.resolve
        future = asyncio.get_event_loop().create_future()
        wait_until()(to_js(future))
        return lambda: future.done() or future.set_result(None)

    return keep_alive


_PROMISE_WITH_RESOLVERS = getattr(js.Promise, "withResolvers", None)


def _nothing() -> None:
    return None


def _python_heap_bytes() -> int:
    import pyodide_js  # the Pyodide module object: its HEAP8 spans all of WebAssembly memory

    return int(pyodide_js._module.HEAP8.length)


async def serve(request, env, runtime: str, ctx=None) -> JsProxy:
    install_clearable_timers(asyncio.get_running_loop())
    install_microtask_call_soon(asyncio.get_running_loop())
    js_request = unwrap(request)
    env = unwrap(env)
    wait_until = _wait_until(ctx)
    ai, images, usage_db = getattr(env, "AI", None), getattr(env, "IMAGES", None), getattr(env, _USAGE_DB, None)
    platform = Platform(
        runtime=runtime,
        pyodide_version=_PYODIDE_VERSION,
        settings=settings(env),
        ai=WorkersAi(ai, settings(env).ai_gateway) if ai is not None else None,
        storage=R2Storage(images) if images is not None else None,
        fetcher=JsFetcher(),
        python_heap_bytes=_python_heap_bytes,
        cache=text_cache(),
        database=D1Database(usage_db) if usage_db is not None else None,
        defer=_deferrer(wait_until) if ctx is not None else None,
        keep_alive=_keeper(wait_until) if ctx is not None else None,
    )
    return js_response(await handle(core_request(js_request), platform))
