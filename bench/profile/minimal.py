"""A minimal Python worker doing the benchmark's conversions the plainest way: how fast Python can
be on this runtime for the same work, with none of the gateway's layers (no Settings, router,
catalog, validation, timeouts). Not a gateway: a yardstick between the JS worker and src/.

Routes: POST /v1/chat/completions (stream or not), POST /translate (DeepLX).
Streams are re-framed by a read/write pump like the gateway's (src/gateway/runtime/response.py
`_stream_body`), or with `x-bench-stream: transform` by piping the model's stream through a JS
TransformStream whose `transform` is a Python function (no await per chunk).
"""

import asyncio
import json
import secrets
import time
from urllib.parse import parse_qs, urlsplit

from js import Object, Response, TextEncoder, TransformStream
from pyodide.ffi import create_proxy, to_js


def _obj(value):
    return to_js(value, dict_converter=Object.fromEntries)


def _json(data, status=200, headers=None):
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response.new(body, _obj({"status": status, "headers": {"Content-Type": "application/json", **(headers or {})}}))


def _sse(data):
    return "data: " + (data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))) + "\n\n"


async def _chat(request, env):
    body = json.loads(await request.text())
    model = body.get("model") or "@cf/meta/llama-3.1-8b-instruct-fast"
    inputs = {"messages": [{"role": m["role"], "content": m.get("content") or ""} for m in body["messages"]]}
    for name in ("max_tokens", "temperature"):
        if body.get(name) is not None:
            inputs[name] = body[name]
    stream = body.get("stream") is True
    if stream:
        inputs["stream"] = True
    result = await env.AI.run(model, _obj(inputs))
    created = int(time.time())
    completion_id = "chatcmpl-" + secrets.token_hex(12)
    headers = {"X-Model": model}
    if not stream:
        result = result.to_py()
        content = result.get("response") or ""
        return _json(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None, "finish_reason": "stop"}],
                "usage": result.get("usage"),
            },
            headers=headers,
        )

    def chunk(delta, finish=None):
        return _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    encoder = TextEncoder.new()
    sse_headers = _obj({"headers": {"Content-Type": "text/event-stream; charset=utf-8", **headers}})

    if request.headers.get("x-bench-stream") == "transform":
        pending = [b""]

        def start(controller):
            controller.enqueue(encoder.encode(chunk({"role": "assistant", "content": ""})))

        def transform(data, controller):
            *events, pending[0] = (pending[0] + data.to_bytes()).split(b"\n\n")
            for event in events:
                payload = event.decode()[6:]
                if payload == "[DONE]":
                    continue
                text = json.loads(payload).get("response")
                if text:
                    controller.enqueue(encoder.encode(chunk({"content": text})))

        def flush(controller):
            controller.enqueue(encoder.encode(chunk({}, "stop") + _sse("[DONE]")))
            asyncio.get_event_loop().call_soon(lambda: [proxy.destroy() for proxy in proxies])

        proxies = [create_proxy(start), create_proxy(transform), create_proxy(flush)]
        transformer = TransformStream.new(_obj({"start": proxies[0], "transform": proxies[1], "flush": proxies[2]}))
        return Response.new(result.pipeThrough(transformer), sse_headers)

    pipe = TransformStream.new()
    writer = pipe.writable.getWriter()

    async def pump():
        reader = result.getReader()
        await writer.write(encoder.encode(chunk({"role": "assistant", "content": ""})))
        pending = b""
        while True:
            read = await reader.read()
            if read.done:
                break
            pending += read.value.to_bytes()
            while b"\n\n" in pending:
                event, pending = pending.split(b"\n\n", 1)
                payload = event.decode()[6:]
                if payload == "[DONE]":
                    continue
                text = json.loads(payload).get("response")
                if text:
                    await writer.write(encoder.encode(chunk({"content": text})))
        await writer.write(encoder.encode(chunk({}, "stop") + _sse("[DONE]")))
        await writer.close()

    asyncio.ensure_future(pump())
    return Response.new(pipe.readable, sse_headers)


async def _translate(request, env):
    body = json.loads(await request.text())
    source, target = body["source_lang"].lower(), body["target_lang"].lower()
    model = "@cf/meta/m2m100-1.2b"
    lines = body["text"].split("\n")
    out = []
    for line in lines:
        if line.strip():
            result = (await env.AI.run(model, _obj({"text": line.strip(), "source_lang": source, "target_lang": target}))).to_py()
            out.append(result["translated_text"])
        else:
            out.append(line)
    return _json({"code": 200, "id": secrets.randbelow(10**10), "data": "\n".join(out), "alternatives": [],
                  "source_lang": source.upper(), "target_lang": body["target_lang"], "method": "Free"}, headers={"X-Model": model})


async def on_fetch(request, env):
    parts = urlsplit(request.url)
    keys = [k.strip() for k in (env.API_KEYS or "").split(",") if k.strip()]
    if parts.path == "/translate":
        secret = (parse_qs(parts.query).get("password") or [None])[0]
        if secret not in keys:
            return _json({"code": 401, "message": "Unauthorized"}, 401)
        return await _translate(request, env)
    header = request.headers.get("authorization") or ""
    if not header.startswith("Bearer ") or header[7:].strip() not in keys:
        return _json({"error": {"message": "Incorrect API key provided."}}, 401)
    if parts.path == "/v1/chat/completions":
        return await _chat(request, env)
    return _json({"error": {"message": "not found"}}, 404)
