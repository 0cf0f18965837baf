"""Driven by bench/profile/node-profile.mjs (globals SRC, HERE, ENDPOINT, REQUESTS, TOP)."""

import collections
import cProfile
import pstats
import sys
import time

sys.path[:0] = [SRC, HERE]

import js

from floor import on_fetch as floor_fetch
from gateway.runtime import serve

env = js.GATEWAY_ENV


def request():
    return js.makeRequest()


async def empty():
    request()
    return js.Response.new('{"ok":true}')


async def floor():
    return await floor_fetch(request(), env)


async def gateway():
    return await serve(request(), env, runtime="node", ctx=js.GATEWAY_CTX)


async def per_request_us(handler, rounds: int = 3) -> float:
    response = await handler()
    if response.status != 200:
        raise SystemExit(f"{handler.__name__}: {response.status} {await response.text()}")
    for _ in range(REQUESTS // 5):
        await handler()
    best = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(REQUESTS):
            await handler()
        best.append((time.perf_counter() - started) / REQUESTS * 1e6)
    return min(best)


figures = {name: await per_request_us(handler) for name, handler in (("empty", empty), ("floor", floor), ("gateway", gateway))}
print(f"{ENDPOINT}: µs per request (best of 3 × {REQUESTS}), node {js.process.version}, Pyodide {sys.version.split()[0]}")
for name, us in figures.items():
    print(f"  {name:8s} {us:7.1f}")
print(f"  gateway ÷ floor {figures['gateway'] / figures['floor']:.2f}")

profile = cProfile.Profile()
profile.enable()
for _ in range(REQUESTS):
    await gateway()
profile.disable()
stats = pstats.Stats(profile).stats
by_module, calls = collections.Counter(), collections.Counter()
functions = []
for (file, line, name), (_, count, own, _cumulative, _callers) in stats.items():
    if file == "~":
        module = f"(built-in) {name}"
    elif "/gateway/" in file:
        module = "gateway/" + file.split("/gateway/", 1)[1]
    else:
        module = file.rsplit("/", 1)[-1]
    by_module[module] += own
    calls[module] += count
    functions.append((own, count, f"{module}:{line} {name}"))
total = sum(by_module.values())
print(f"\ncProfile of the gateway, own time per request (µs, profiled; total {total / REQUESTS * 1e6:.0f}). "
      "A call into JS (a method or property of a JS object) counts as the calling function's own time.")
print("by module:")
for module, own in by_module.most_common(TOP):
    print(f"  {own / REQUESTS * 1e6:7.1f}  {calls[module] / REQUESTS:5.1f} calls  {module}")
print("by function:")
for own, count, name in sorted(functions, reverse=True)[:TOP]:
    print(f"  {own / REQUESTS * 1e6:7.1f}  {count / REQUESTS:5.1f} calls  {name}")
