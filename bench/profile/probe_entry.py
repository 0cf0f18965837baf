"""Probe entry for the gateway (loaded by bench/run.mjs as `bench_probe_entry.py` beside src/'s
modules, so `import gateway` is the real code; nothing in src/ is changed).

Pyodide's clock stands still while a request runs (workerd only advances time on I/O), so steps
cannot be timed from inside. Instead, `x-bench-probe: <step>:<N>` repeats one step N times before
the request is served as usual; the client measures how much longer the request takes, and
(p50 with N − p50 with none) / N is the cost of one step inside Pyodide.

`x-bench-patch: settings_once | no_wait_for | all` serves the request with one
change to the gateway (monkeypatched for that request only) to see what it would save.
"""

import asyncio
import json
import time

import js
from pyodide.ffi import create_proxy, to_js

from gateway import app, auth, catalog, chat_completion, chat_request, chat_stream, cors, http, sse
from gateway.config import Settings
from gateway.endpoints import common
from gateway.platform import Platform
from gateway.runtime import worker
from gateway.runtime.ffi import js_object
from gateway.runtime.loop import install_clearable_timers
from gateway.runtime.request import core_request
from gateway.runtime.response import js_response
from gateway.runtime.streams import JsReadableStream

CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"

# --- patches -------------------------------------------------------------------------------------------

_original_settings = worker.settings
_settings_cache = {}


def _settings_once(env):
    if "value" not in _settings_cache:
        _settings_cache["value"] = _original_settings(env)
    return _settings_cache["value"]


_original_metered = app.metered


def _metered_no_wait_for(request, platform, credential, route):
    """The request's metered platform with no timeout round its AI calls (metering.MeteredAi)."""
    own = _original_metered(request, platform, credential, route)
    if own.ai is not None:
        own.ai._timeout = None
    return own


_ORIGINALS = {"settings": worker.settings}


def _apply(patch: str):
    names = {"settings_once", "no_wait_for"} if patch == "all" else {patch}
    worker.settings = _settings_once if "settings_once" in names else _ORIGINALS["settings"]
    app.metered = _metered_no_wait_for if "no_wait_for" in names else _original_metered


# --- probes ----------------------------------------------------------------------------------------------


class _BytesBody:
    def __init__(self, data: bytes):
        self.data = data

    async def read_bytes(self, max_bytes: int):
        return self.data


class _FakeAi:
    def __init__(self, result):
        self.result = result

    async def run(self, model, inputs, options=None, *, vectors_key=None):
        return self.result


async def _noop():
    return None


async def _chunks(items):
    for item in items:
        yield item


async def _probe(name: str, n: int, request, env):
    settings = worker.settings(env)
    raw = None
    if name in ("json_loads", "chat_parse", "to_js_inputs", "ai_run_raw", "to_py_result", "completion", "json_response",
                "js_response", "js_response_one_to_js", "js_response_json_init", "full_handle"):
        raw = await request.clone().text()
    body = json.loads(raw) if raw else None

    if name == "settings":
        for _ in range(n):
            worker.settings(env)
    elif name == "core_request":
        for _ in range(n):
            core_request(request)
    elif name == "headers_entries":
        for _ in range(n):
            http.Headers([(pair[0], pair[1]) for pair in request.headers.entries()])
    elif name == "headers_fromentries":
        for _ in range(n):
            http.Headers(js.Object.fromEntries(request.headers).to_py())
    elif name == "headers_json":
        for _ in range(n):
            http.Headers(json.loads(js.JSON.stringify(js.Object.fromEntries(request.headers))))
    elif name == "route_auth":
        core = core_request(request)
        for _ in range(n):
            app.resolve_route(core.method, core.path)
            auth.require_api_key(core, settings)
    elif name == "json_loads":
        for _ in range(n):
            json.loads(raw)
    elif name == "chat_parse":
        for _ in range(n):
            resolved = catalog.resolve(body.get("model"), catalog.CHAT, aliases=settings.model_aliases,
                                       redirect_retired=settings.redirect_retired_models,
                                       also=(catalog.TEXT_TO_IMAGE, catalog.IMAGE_TO_IMAGE))
            chat_request.ChatRequest.parse(body, resolved.model)
    else:
        resolved = catalog.resolve(body.get("model") if body else CHAT_MODEL, catalog.CHAT, aliases=settings.model_aliases)
        parsed = chat_request.ChatRequest.parse(body, resolved.model) if body else None
        if name == "to_js_inputs":
            for _ in range(n):
                js_object(parsed.inputs)
        elif name in ("ai_run_raw", "to_py_result", "completion", "json_response", "js_response", "js_response_one_to_js",
                      "js_response_json_init", "full_handle"):
            js_inputs = js_object(parsed.inputs)
            js_result = await env.AI.run(resolved.model.id, js_inputs)
            result = js_result.to_py()
            if name == "ai_run_raw":
                for _ in range(n):
                    await env.AI.run(resolved.model.id, js_inputs)
            elif name == "to_py_result":
                for _ in range(n):
                    js_result.to_py()
            elif name == "completion":
                for _ in range(n):
                    chat_completion.completion(result, parsed, created=int(time.time()))
            elif name == "json_response":
                out = chat_completion.completion(result, parsed, created=int(time.time()))
                for _ in range(n):
                    http.json_response(out)
            elif name.startswith("js_response"):
                # The gateway's chat answer: JSON with its Content-Type, X-Model and the two CORS headers.
                out = http.json_response(chat_completion.completion(result, parsed, created=int(time.time())), headers={"X-Model": CHAT_MODEL})
                out.headers.update({"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": cors.EXPOSED_HEADERS})
                if name == "js_response":
                    for _ in range(n):
                        js_response(out)
                elif name == "js_response_one_to_js":
                    for _ in range(n):
                        js.Response.new(out.body, to_js({"status": out.status, "headers": out.headers}, dict_converter=js.Object.fromEntries))
                else:
                    for _ in range(n):
                        js.Response.new(out.body, js.JSON.parse(json.dumps({"status": out.status, "headers": out.headers})))
            elif name == "full_handle":
                platform = Platform(runtime="probe", settings=settings, ai=_FakeAi(result))
                headers = http.Headers([(pair[0], pair[1]) for pair in request.headers.entries()])
                for _ in range(n):
                    core = http.Request("POST", request.url, headers, _BytesBody(raw.encode()))
                    await app.handle(core, platform)
        elif name == "wait_for":
            for _ in range(n):
                await asyncio.wait_for(_noop(), 120)
        elif name == "sleep0":
            for _ in range(n):
                await asyncio.sleep(0)
        elif name == "chunk_python":
            stream_request = chat_request.ChatRequest(resolved.model, {"messages": [{"role": "user", "content": "x"}]}, stream=True)
            events = [b'data: {"response":" w%d"}\n\n' % i for i in range(n)] + [b"data: [DONE]\n\n"]
            async for _ in chat_stream.completion_chunks(_chunks(events), stream_request, created=int(time.time())):
                pass
        elif name == "chunk_read":
            words = " ".join(f"w{i}" for i in range(n + 10))
            stream = await env.AI.run(CHAT_MODEL, js_object({"messages": [{"role": "user", "content": words}], "max_tokens": n, "stream": True}))
            async for _ in JsReadableStream(stream):
                pass
        elif name == "chunk_write":
            pipe = js.TransformStream.new()
            done = pipe.readable.pipeTo(js.WritableStream.new())
            writer = pipe.writable.getWriter()
            encoder = js.TextEncoder.new()
            text = 'data: {"id":"chatcmpl-0123456789abcdef01234567","object":"chat.completion.chunk","choices":[]}\n\n'
            for _ in range(n):
                await writer.write(encoder.encode(text))
            await writer.close()
            await done
        elif name == "chunk_transform":
            # The alternative to the read/write pump: the stream piped through a JS TransformStream
            # whose `transform` is a Python function (one synchronous call per chunk, no awaits).
            words = " ".join(f"w{i}" for i in range(n + 10))
            stream = await env.AI.run(CHAT_MODEL, js_object({"messages": [{"role": "user", "content": words}], "max_tokens": n, "stream": True}))
            encoder = js.TextEncoder.new()
            parser = sse.SseParser()
            base = {"id": "chatcmpl-0123456789abcdef01234567", "object": "chat.completion.chunk", "created": int(time.time()), "model": CHAT_MODEL}

            def transform(chunk, controller):
                for payload in parser.feed(chunk.to_bytes()):
                    if payload == sse.DONE:
                        continue
                    text = json.loads(payload).get("response")
                    if text:
                        event = {**base, "choices": [{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}]}
                        controller.enqueue(encoder.encode(sse.encode_event(event)))

            proxy = create_proxy(transform)
            transformer = js.TransformStream.new(to_js({"transform": proxy}, dict_converter=js.Object.fromEntries))
            await stream.pipeThrough(transformer).pipeTo(js.WritableStream.new())
            proxy.destroy()
        elif name == "chunk_wait_for":
            async for _ in common.idle_timeout(_chunks([b"x"] * n), 120):
                pass
        elif name != "none":
            raise ValueError(f"unknown probe {name}")


async def on_fetch(request, env, ctx=None):
    install_clearable_timers(asyncio.get_running_loop())
    patch = request.headers.get("x-bench-patch") or "none"
    _apply(patch)
    probe = request.headers.get("x-bench-probe")
    if probe:
        name, _, n = probe.partition(":")
        await _probe(name, int(n or 0), request, env)
    return await worker.serve(request, env, runtime="legacy")
