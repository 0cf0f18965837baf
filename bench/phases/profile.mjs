// Phase "profile" of bench/run.mjs: where the Python time goes. End-to-end variants of the gateway
// and probe workers (bench/profile/), pump against transform streaming, and per-step costs in Pyodide.

import http from "node:http";
import { chatStream, endpoints, log, median, now, percentile, round, send, tableWriter } from "../common.mjs";
import { KEY, runWorkers, startInstance } from "../config.mjs";
import { load } from "./load.mjs";
import { streamThroughput, timedStream } from "./streaming.mjs";

const { chat, translate: TRANSLATE } = endpoints(KEY);
const STREAM = chatStream(KEY);

// Pyodide's clock does not advance while a request runs (workerd freezes time between I/O), so
// nothing can be timed from inside. Instead the probe worker repeats one step N times inside a
// request, and the client sees the request take longer: (p50 with N repeats − p50 without) / N is
// the cost of one step in Pyodide.
const PROBES = [
  // [name, what it does per repeat, N]
  ["js_to_py_call", "py-empty worker: a request in and a Response out (the floor of any Python worker)", 0],
  ["settings", "runtime.settings.settings(env): read once per isolate, so a cached lookup (it was 9 env lookups across the FFI + Settings parsing per request)", 200],
  ["core_request", "runtime.request.core_request(js_request): the lazy JsHeaders (no header read yet), urlsplit, parse_qs", 200],
  ["headers_entries", "copying every header pair by pair over the FFI (what _core_request did before JsHeaders)", 200],
  ["headers_fromentries", "alternative: Object.fromEntries(headers).to_py()", 200],
  ["headers_json", "alternative: json.loads(JSON.stringify(Object.fromEntries(headers)))", 200],
  ["route_auth", "app.resolve_route + auth.require_api_key", 500],
  ["json_loads", "json.loads of the request body", 1000],
  ["chat_parse", "catalog.resolve + chat.ChatRequest.parse", 500],
  ["to_js_inputs", "runtime.ffi.js_object(inputs): to_js with Object.fromEntries", 300],
  ["ai_run_raw", "await env.AI.run(...) on the JS object (the binding and emulator, no conversion)", 100],
  ["to_py_result", "result.to_py() of the emulator's chat answer", 300],
  ["wait_for", "asyncio.wait_for(<an already-finished coroutine>, 120) (one per AI call)", 300],
  ["sleep0", "await asyncio.sleep(0): one trip through the event loop (a microtask once serve() has installed its call_soon)", 300],
  ["completion", "chat.completion(result, ...) (the OpenAI dict)", 500],
  ["json_response", "http.json_response(body) (json.dumps)", 500],
  ["js_response", "runtime.response.js_response(...): _js_init (one js_object call) + Response.new", 300],
  ["js_response_one_to_js", "alternative: Response.new(body, to_js(init, dict_converter=Object.fromEntries)), one conversion", 300],
  ["js_response_json_init", "alternative: Response.new(body, JSON.parse(json.dumps(init)))", 300],
  ["full_handle", "app.handle(...) of the chat request with a Python fake AI (all core work, no FFI)", 100],
  ["chunk_python", "per streamed chunk: SSE parse + json.loads + chunk dict + json.dumps (pure Python)", 2000],
  ["chunk_read", "per streamed chunk: await reader.read() of a JS stream + to_bytes", 1000],
  ["chunk_write", "per streamed chunk: TextEncoder.encode + await writer.write (TransformStream)", 1000],
  ["chunk_wait_for", "per streamed chunk: idle_timeout's asyncio.wait_for around __anext__", 1000],
  ["chunk_transform", "alternative per chunk: stream.pipeThrough(TransformStream) with a Python transform (parse + re-frame + enqueue), no awaits", 1000],
];

async function probeP50(url, headers, body, count) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  for (let i = 0; i < count; i++) {
    const t = now();
    const r = await send(agent, url, { headers, body });
    times.push(now() - t);
    if (r.status !== 200) throw new Error(`probe ${headers["x-bench-probe"] ?? url}: ${r.status} ${r.body.toString().slice(0, 500)}`);
  }
  agent.destroy();
  return median(times);
}

export async function measure({ upstream, settings }) {
  const QUICK = settings.quick;
  const instance = await startInstance(runWorkers("py", "js", "py-empty", "py-minimal", "py-probe", "js-probe"), { upstream });
  const count = QUICK ? 9 : 25;
  const out = { probes: {}, variants: {} };
  try {
    const chatUrl = (kind) => new URL(chat.path, instance.urls[kind]).href;
    // Warm every worker.
    for (const kind of ["py", "js", "py-empty", "py-minimal", "py-probe", "js-probe"]) await load(instance.urls[kind], chat, 1, settings.warmup, null);
    for (const kind of ["py", "js", "py-empty", "py-minimal", "py-probe"]) {
      out.variants[kind] = {
        chat_p50_ms: round(await probeP50(chatUrl(kind), chat.headers, chat.body, count * 4), 3),
        translate_p50_ms: kind === "py-empty" ? null : round(await probeP50(new URL(TRANSLATE.path, instance.urls[kind]).href, TRANSLATE.headers, TRANSLATE.body, count * 4), 3),
      };
    }
    // The gateway with one change at a time (x-bench-patch), same worker.
    for (const patch of ["settings_once", "no_wait_for", "all"]) {
      out.variants[`py-probe+${patch}`] = {
        chat_p50_ms: round(await probeP50(chatUrl("py-probe"), { ...chat.headers, "x-bench-patch": patch }, chat.body, count * 4), 3),
        translate_p50_ms: round(await probeP50(new URL(TRANSLATE.path, instance.urls["py-probe"]).href, { ...TRANSLATE.headers, "x-bench-patch": patch }, TRANSLATE.body, count * 4), 3),
        stream_p50_ms: round(await probeP50(chatUrl("py-probe"), { ...chat.headers, "x-bench-patch": patch }, STREAM.body, count * 2), 3),
      };
    }
    out.variants["py-probe"].stream_p50_ms = round(await probeP50(chatUrl("py-probe"), chat.headers, STREAM.body, count * 2), 3);
    out.variants.py.stream_p50_ms = round(await probeP50(chatUrl("py"), chat.headers, STREAM.body, count * 2), 3);
    out.variants.js.stream_p50_ms = round(await probeP50(chatUrl("js"), chat.headers, STREAM.body, count * 2), 3);
    out.variants["py-minimal"].stream_p50_ms = round(await probeP50(chatUrl("py-minimal"), chat.headers, STREAM.body, count * 2), 3);

    // Streaming: the gateway's pump against a Python TransformStream (bench/profile/minimal.py).
    out.streams = {};
    const streamVariants = [
      ["js", "js", {}],
      ["py", "py", {}],
      ["py-minimal (read/write pump)", "py-minimal", { "x-bench-stream": "pump" }],
      ["py-minimal (Python transform in a TransformStream)", "py-minimal", { "x-bench-stream": "transform" }],
    ];
    const relays = Object.fromEntries(streamVariants.map(([label]) => [label, { delays: [], heldBack: 0 }]));
    for (const [label, kind, headers] of streamVariants) {
      await streamThroughput(instance.urls[kind], 100, instance.pid, headers);
      await timedStream(instance.urls[kind], 5, 2, headers);
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push((await streamThroughput(instance.urls[kind], QUICK ? 300 : 1000, instance.pid, headers)).chunks_per_second);
      out.streams[label] = { chunks_per_second: median(runs) };
    }
    for (let rep = 0; rep < (QUICK ? 1 : 3); rep++) {
      // Variants alternate, so a slow moment of the machine is shared out.
      for (const [label, kind, headers] of streamVariants) {
        const relay = await timedStream(instance.urls[kind], QUICK ? 40 : 100, 10, headers);
        relays[label].delays.push(...relay.delays);
        relays[label].heldBack += relay.heldBack;
      }
    }
    for (const [label] of streamVariants) {
      const { delays, heldBack } = relays[label];
      log(`  ${label}: relay µs p10/p50/p90/p99 ${[10, 50, 90, 99].map((q) => Math.round(percentile(delays, q) * 1000)).join("/")}`);
      Object.assign(out.streams[label], {
        relay_p10_us: round(percentile(delays, 10) * 1000, 0),
        relay_p50_us: round(median(delays) * 1000, 0),
        relay_p99_us: round(percentile(delays, 99) * 1000, 0),
        held_back: heldBack,
        chunks: delays.length,
      });
    }

    // Per-step costs by repetition.
    const probeUrl = chatUrl("py-probe");
    const baseline = await probeP50(probeUrl, { ...chat.headers, "x-bench-probe": "none:0" }, chat.body, count * 2);
    for (const [name, what, n] of PROBES) {
      if (n === 0) {
        const empty = await probeP50(chatUrl("py-empty"), chat.headers, chat.body, count * 2);
        const jsEmpty = await probeP50(new URL("/empty", instance.urls["js-probe"]).href, chat.headers, chat.body, count * 2);
        out.probes[name] = { what, repeats: 1, us_per_call: round((empty - jsEmpty) * 1000, 1), note: `py-empty p50 ${round(empty, 3)} ms − JS empty handler p50 ${round(jsEmpty, 3)} ms` };
        continue;
      }
      const p = await probeP50(probeUrl, { ...chat.headers, "x-bench-probe": `${name}:${n}` }, chat.body, count);
      out.probes[name] = { what, repeats: n, us_per_call: round(((p - baseline) * 1000) / n, 2) };
    }
    // The same for the JS side of the AI call, for comparison with ai_run_raw.
    const jsBase = await probeP50(new URL("/ai", instance.urls["js-probe"]).href, { ...chat.headers, "x-bench-repeat": "0" }, chat.body, count * 2);
    const jsAi = await probeP50(new URL("/ai", instance.urls["js-probe"]).href, { ...chat.headers, "x-bench-repeat": "100" }, chat.body, count);
    out.probes.ai_run_from_js = { what: "await env.AI.run(...) from a JS worker (the same binding and emulator)", repeats: 100, us_per_call: round(((jsAi - jsBase) * 1000) / 100, 2) };
    out.probe_baseline_p50_ms = round(baseline, 3);
  } finally {
    await instance.dispose();
  }
  return out;
}

export function table(P) {
  const { lines, row, head } = tableWriter();
  lines.push("", "### Profile: end-to-end variants (p50 ms, concurrency 1)", "");
  head(["worker", "chat non-stream", "translate", "chat stream (16 events)"]);
  const names = {
    js: "JS worker (bench/js-worker.mjs)",
    py: "Python gateway (src/)",
    "py-empty": "Python, empty handler (bench/profile/empty.py)",
    "py-minimal": "Python, minimal conversion (bench/profile/minimal.py)",
    "py-probe": "gateway under the probe entry, unchanged",
    "py-probe+settings_once": "gateway + Settings built once per isolate",
    "py-probe+no_wait_for": "gateway + no asyncio.wait_for around AI calls",
    "py-probe+all": "gateway + both",
  };
  for (const [kind, v] of Object.entries(P.variants)) row([names[kind] ?? kind, v.chat_p50_ms, v.translate_p50_ms ?? "", v.stream_p50_ms ?? ""]);
  if (P.streams) {
    lines.push("", "### Profile: streaming, pump vs transform (same instance)", "");
    head(["worker", "chunks/s (no delay)", "µs per chunk", "relay delay p10 µs", "relay delay p50 µs", "relay delay p99 µs", "held back"]);
    for (const [label, v] of Object.entries(P.streams)) row([label, v.chunks_per_second, round(1e6 / v.chunks_per_second, 1), v.relay_p10_us, v.relay_p50_us, v.relay_p99_us, `${v.held_back} of ${v.chunks}`]);
  }
  lines.push("", "### Profile: cost of one step inside Pyodide (µs; by repetition, see bench/README.md)", "");
  head(["step", "µs per call", "repeats", "what"]);
  for (const [name, p] of Object.entries(P.probes)) row([name, p.us_per_call, p.repeats, p.what + (p.note ? ` (${p.note})` : "")]);
  return lines;
}
