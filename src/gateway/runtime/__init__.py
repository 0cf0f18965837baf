"""The Workers runtime adapter: the only package that touches `js` and `pyodide`.

It turns the JS request into a core `Request`, gives the core its bindings as plain-Python objects
(the `platform.py` protocols), and turns the core's response back into a JS `Response`. Works on both
Python Workers runtimes: the legacy one (module-level `on_fetch`, embedded Pyodide 0.26) and the
modern one (`WorkerEntrypoint`, where the SDK wraps `env`). One module per platform service:

- `worker`: `serve()`, the entry, and the request's lifetime (`ctx.waitUntil`);
- `settings`: the worker's vars and secrets, read once per isolate;
- `request`, `body`: the JS request as the core's `Request`, its body read only as far as a limit;
- `inline`, `token_ids`: a JSON body's long base64 data: URLs and token-id arrays, left in JS;
- `response`, `relay`: the core's response as a JS `Response`; a model's stream through the relay;
- `ai`, `vectors`: the AI binding, and embedding vectors kept in JS;
- `r2`, `d1`, `cache`, `fetch`: R2, D1, the Cache API, remote images through `fetch`;
- `streams`, `buffers`: JS ReadableStreams and bytes held in JS (files, base64, Uint8Arrays);
- `strings`, `ffi`: JS strings held without copying them; the crossings every module uses;
- `loop`: the event-loop patches (clearable timers, call_soon through microtasks).
"""

from .worker import serve

__all__ = ["serve"]
