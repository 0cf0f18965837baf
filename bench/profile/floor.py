"""The floor of a Python answer: what any Python worker must do to answer chat, DeepLX translate or
embeddings through the AI binding, and nothing more. It reads the body (one await), parses it,
calls the model with a converted object (one await) and hands the model's answer back serialised
by the runtime (`Response.json`): no auth, validation, OpenAI shape, usage or timeouts.
bench/cpu.mjs loads it beside the gateway's modules and it uses the gateway's event-loop scheduler,
so the gap between it and the gateway is what the gateway itself adds. Not a gateway: a yardstick."""

import asyncio
import json

import js
from pyodide.ffi import to_js

from gateway.runtime.ffi import unwrap
from gateway.runtime.loop import install_microtask_call_soon

_MODELS = {"/v1/chat/completions": "@cf/meta/llama-3.1-8b-instruct-fast", "/translate": "@cf/meta/m2m100-1.2b", "/v1/embeddings": "@cf/baai/bge-m3"}


def _inputs(path: str, body: dict) -> dict:
    if path == "/translate":
        return {"text": body["text"], "source_lang": body["source_lang"].lower(), "target_lang": body["target_lang"].lower()}
    if path == "/v1/embeddings":
        return {"text": body["input"]}
    return {"messages": body["messages"], "max_tokens": body.get("max_tokens") or 256}


async def on_fetch(request, env, ctx=None):
    install_microtask_call_soon(asyncio.get_running_loop())
    request, env = unwrap(request), unwrap(env)  # the JS objects, as the gateway uses them
    path = js.URL.new(request.url).pathname
    body = json.loads((await request.arrayBuffer()).to_bytes())
    result = await env.AI.run(_MODELS[path], to_js(_inputs(path, body), dict_converter=js.Object.fromEntries))
    return js.Response.json(result)
