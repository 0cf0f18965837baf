// Issue 8 benchmark: the Python gateway beside a minimal JS worker (bench/js-worker.mjs) on the
// same runtime (miniflare-legacy → workerd with embedded Pyodide), the same AI binding (the
// Workers AI emulator, answering at once), the same machine and the same run. Offline.
//
//   node bench/run.mjs            full run (~100 s on 2 cores)
//   node bench/run.mjs --quick    shorter phases, for trying it out (numbers are noisier)
//   options: --seconds S (per load phase, default 1.5), --no-write (print only),
//            --only load,streaming,memory,cold,profile (or --no-<phase>) to run some phases
//
// It prints the tables, writes bench/results/latest.json (git-ignored) and bench/RESULTS.md.
// bench/README.md explains the setup and how each number is taken.

import { Miniflare } from "miniflare-legacy";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { applyMigrations, localConfig } from "../scripts/local/serve.mjs";
import { BENCH, CHAT_MODEL, CHAT_REQUEST, ROOT, aiBindingModule, endpoints, cpuSeconds, jsonBody, median, now, percentile, round, send, workerdPids } from "./common.mjs";

// A WebSocket client for workerd's inspector: `ws`, which miniflare itself depends on.
const WebSocket = createRequire(createRequire(import.meta.url).resolve("miniflare-legacy"))("ws");
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const QUICK = flag("--quick");
const ONLY = argv.includes("--only") ? argv[argv.indexOf("--only") + 1].split(",") : null;
const PHASES = ["load", "streaming", "memory", "cold", "profile"].filter((p) => (ONLY ? ONLY.includes(p) : !flag(`--no-${p}`)));
const PHASE_SECONDS = option("--seconds", QUICK ? 0.5 : 1.5);
const WARMUP_SECONDS = QUICK ? 0.3 : 1;
const CONCURRENCY = [1, 8, 32];
const KEY = "sk-bench";
const HOST = "127.0.0.1";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(...a);

// --- the workerd process: CPU and memory from /proc -----------------------------------------------------------

function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)[1]);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

function resetPeak(pid) {
  // Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM to the current RSS.
  fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

// --- HTTP client (node:http, keep-alive) --------------------------------------------------------------------------

const AUTH = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

// --- what each endpoint is asked --------------------------------------------------------------------------------

// The same requests as bench/cpu.mjs, and a short stream, in this order in the tables.
const { chat, translate, embeddings } = endpoints(KEY);
const ENDPOINTS = {
  chat,
  stream: {
    label: "chat stream (16 events)",
    path: "/v1/chat/completions",
    headers: AUTH,
    body: jsonBody({ ...CHAT_REQUEST, stream: true }),
    check: (r) => r.status === 200 && r.body.toString().endsWith("data: [DONE]\n\n"),
  },
  embeddings,
  translate,
};

async function load(base, endpoint, concurrency, seconds, pid) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  let errors = 0;
  let sample = null;
  const url = new URL(endpoint.path, base).href;
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const started = now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (now() < deadline) {
        const t = now();
        try {
          const r = await send(agent, url, { method: endpoint.method ?? "POST", headers: endpoint.headers, body: endpoint.body });
          latencies.push(now() - t);
          if (!endpoint.check(r)) {
            errors++;
            sample ??= `${r.status} ${r.body.toString().slice(0, 300)}`;
          }
        } catch (error) {
          errors++;
          sample ??= String(error);
        }
      }
    }),
  );
  const elapsed = (now() - started) / 1000;
  const cpu = pid ? cpuSeconds(pid) - cpu0 : null;
  agent.destroy();
  return {
    concurrency,
    requests: latencies.length,
    errors,
    error_sample: sample,
    seconds: round(elapsed, 3),
    rps: round(latencies.length / elapsed, 1),
    p50_ms: round(median(latencies), 3),
    p99_ms: round(percentile(latencies, 99), 3),
    cpu_ms_per_request: cpu === null ? null : round((cpu * 1000) / latencies.length, 3),
  };
}

// --- the benchmark's upstream: timed SSE streams and a 2 MB PNG, behind the emulator's UPSTREAM protocol ----------

function pngChunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  data.copy(out, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function bigPng(total) {
  // A PNG-framed 2 MiB file (signature, IHDR, one IDAT of random bytes, IEND): what a model might
  // send for a large image. Nobody decodes it; the gateway stores and serves bytes.
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const ihdr = pngChunk("IHDR", Buffer.from([0, 0, 4, 0, 0, 0, 4, 0, 8, 2, 0, 0, 0]));
  const iend = pngChunk("IEND", Buffer.alloc(0));
  const idatLength = total - signature.length - ihdr.length - iend.length - 12;
  let seed = 12345;
  const data = Buffer.alloc(idatLength);
  for (let i = 0; i < idatLength; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data[i] = seed >>> 24;
  }
  return Buffer.concat([signature, ihdr, pngChunk("IDAT", data), iend]);
}

const IMAGE_BYTES = 2 * 1024 * 1024;
const PNG = bigPng(IMAGE_BYTES);
const timedStreams = new Map(); // id -> { emitted: [ms] }

function promptOf(inputs) {
  const last = Array.isArray(inputs?.messages) ? inputs.messages.at(-1)?.content : inputs?.prompt;
  return typeof last === "string" ? last : "";
}

function startUpstream() {
  const server = http.createServer(async (req, res) => {
    const parts = [];
    for await (const c of req) parts.push(c);
    let call;
    try {
      call = JSON.parse(Buffer.concat(parts).toString());
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: 5006, message: "bad call" }] }));
      return;
    }
    const prompt = promptOf(call.inputs);
    const stream = /\[bench:stream id=(\w+) n=(\d+) interval=(\d+)\]/.exec(prompt);
    if (stream) {
      const [, id, n, interval] = stream;
      const record = { emitted: [] };
      timedStreams.set(id, record);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      let i = 0;
      const tick = () => {
        if (i < Number(n)) {
          record.emitted[i] = now();
          res.write(`data: ${JSON.stringify({ response: ` c${i}` })}\n\n`);
          i++;
          setTimeout(tick, Number(interval));
        } else {
          res.end(`data: ${JSON.stringify({ response: "", usage: { prompt_tokens: 9, completion_tokens: Number(n), total_tokens: 9 + Number(n) } })}\n\ndata: [DONE]\n\n`);
        }
      };
      tick();
      return;
    }
    if (/stable-diffusion|dreamshaper|phoenix|lucid/.test(call.model)) {
      res.writeHead(200, { "content-type": "image/png", "content-length": PNG.length }).end(PNG);
      return;
    }
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: 5006, message: `bench upstream: nothing scripted for ${call.model}` }] }));
  });
  return new Promise((resolve) => server.listen(0, HOST, () => resolve(server)));
}

// --- Miniflare configuration ----------------------------------------------------------------------------------------

function pythonModule(file, asPath) {
  return { type: "PythonModule", path: asPath ?? file, contents: fs.readFileSync(file, "utf8") };
}

// Which workers an instance holds: "py" (the gateway, from localConfig()), "js" (bench/js-worker.mjs),
// and for the profile phase "py-empty", "py-minimal", "py-probe" (the gateway behind a probe entry), "js-probe".
function buildConfig(kinds, { stateDir, upstream }) {
  const base = localConfig({ API_KEYS: KEY, TRANSLATE_PASSWORD: KEY, LOCAL_STATE_DIR: stateDir, PORT: "0", HOST });
  const gateway = base.workers[0];
  const ai = { AI: { scriptName: "bench-ai", bindings: upstream ? { BENCH_UPSTREAM: upstream } : {} } };
  const direct = [{ host: HOST, port: 0 }];
  const workers = [];
  const names = {};
  for (const kind of kinds) {
    if (kind === "py" || kind === "py-probe") {
      const worker = { ...gateway, name: kind === "py" ? gateway.name : "bench-py-probe", wrappedBindings: { ...gateway.wrappedBindings, ...ai }, unsafeDirectSockets: direct };
      if (kind === "py-probe") {
        // The gateway's own modules under a probe entry (bench/profile/probe_entry.py), named as if it sat in src/.
        const srcDir = gateway.modulesRoot;
        worker.modules = [pythonModule(path.join(BENCH, "profile/probe_entry.py"), path.join(srcDir, "bench_probe_entry.py")), ...gateway.modules];
      }
      workers.push(worker);
      names[kind] = worker.name;
    } else if (kind === "js" || kind === "js-probe") {
      const file = kind === "js" ? path.join(BENCH, "js-worker.mjs") : path.join(BENCH, "profile/js-probe.mjs");
      workers.push({
        name: `bench-${kind}`,
        modulesRoot: path.dirname(file),
        modules: [{ type: "ESModule", path: file, contents: fs.readFileSync(file, "utf8") }],
        compatibilityDate: gateway.compatibilityDate,
        bindings: { API_KEYS: KEY, TRANSLATE_PASSWORD: KEY },
        r2Buckets: { IMAGES: "bench-js-images" },
        wrappedBindings: ai,
        unsafeDirectSockets: direct,
      });
      names[kind] = `bench-${kind}`;
    } else if (kind === "py-empty" || kind === "py-minimal") {
      const file = path.join(BENCH, `profile/${kind.slice(3)}.py`);
      workers.push({
        name: `bench-${kind}`,
        modulesRoot: path.dirname(file),
        modules: [pythonModule(file)],
        compatibilityDate: gateway.compatibilityDate,
        compatibilityFlags: gateway.compatibilityFlags,
        bindings: { API_KEYS: KEY },
        wrappedBindings: ai,
        unsafeDirectSockets: direct,
      });
      names[kind] = `bench-${kind}`;
    }
  }
  workers.push(aiBindingModule());
  return { config: { ...base, workers }, names };
}

async function startInstance(kinds, options) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-bench-"));
  const { config, names } = buildConfig(kinds, { ...options, stateDir });
  if (options.inspector) config.inspectorPort = 0;
  const before = new Set(workerdPids());
  let started = now();
  const mf = new Miniflare(config);
  await mf.ready;
  const readyMs = now() - started;
  // The usage table, as `npm start` makes it (else every answer logs a failed write); its time is
  // left out of the cold start, which `started` dates.
  const migrating = now();
  await applyMigrations(mf, config);
  started += now() - migrating;
  const urls = {};
  for (const [kind, name] of Object.entries(names)) urls[kind] = (await mf.unsafeGetDirectURL(name)).href;
  const pid = workerdPids().find((p) => !before.has(p));
  return {
    mf, urls, pid, started, readyMs, names,
    async dispose() {
      await mf.dispose();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function firstAnswer(instance, kind) {
  // Retries until the worker answers a chat request with 200; time from `new Miniflare()`.
  const agent = new http.Agent({ keepAlive: false });
  const url = new URL(ENDPOINTS.chat.path, instance.urls[kind]).href;
  for (;;) {
    try {
      const r = await send(agent, url, { headers: ENDPOINTS.chat.headers, body: ENDPOINTS.chat.body });
      if (ENDPOINTS.chat.check(r)) return now() - instance.started;
    } catch {}
    await sleep(5);
  }
}

// --- phases ----------------------------------------------------------------------------------------------------------

async function phaseLoad(instance) {
  const out = {};
  for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
    out[name] = { label: endpoint.label, js: {}, py: {} };
    for (const kind of ["js", "py"]) await load(instance.urls[kind], endpoint, 4, WARMUP_SECONDS, null);
    for (const c of CONCURRENCY) {
      // JS and Python alternate per step, so drift on the machine hits both alike.
      for (const kind of ["js", "py"]) {
        const result = await load(instance.urls[kind], endpoint, c, PHASE_SECONDS, instance.pid);
        out[name][kind][c] = result;
        if (result.errors) log(`  ! ${name} ${kind} c=${c}: ${result.errors} errors, e.g. ${result.error_sample}`);
      }
      log(`  ${name.padEnd(11)} c=${String(c).padEnd(3)} JS ${out[name].js[c].rps} req/s p50 ${out[name].js[c].p50_ms} ms | Python ${out[name].py[c].rps} req/s p50 ${out[name].py[c].p50_ms} ms`);
    }
  }
  return out;
}

function sseEvents(onEvent) {
  // Incremental SSE splitter for the client side: calls onEvent(payload, arrivalTime).
  let pending = "";
  return (chunk, t) => {
    pending += chunk.toString();
    let end;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (event.startsWith("data: ")) onEvent(event.slice(6), t);
    }
  };
}

async function streamThroughput(base, pieces, pid, headers = {}) {
  // The emulator streams `pieces` events with no delay; content events per second of the request.
  const words = Array.from({ length: pieces + 50 }, (_, i) => `w${i}`).join(" ");
  const body = jsonBody({ model: CHAT_MODEL, messages: [{ role: "user", content: words }], max_tokens: pieces, stream: true });
  const agent = new http.Agent({ keepAlive: true });
  let first = null, last = null, count = 0, reads = 0;
  const cpu0 = cpuSeconds(pid);
  const started = now();
  const onData = sseEvents((payload, t) => {
    if (payload === "[DONE]") return;
    const content = JSON.parse(payload).choices?.[0]?.delta?.content;
    if (content) {
      count++;
      first ??= t;
      last = t;
    }
  });
  const r = await send(agent, new URL("/v1/chat/completions", base).href, { headers: { ...AUTH, ...headers }, body, onData: (c, t) => { reads++; onData(c, t); } });
  const total = now() - started;
  const cpu = cpuSeconds(pid) - cpu0;
  agent.destroy();
  if (r.status !== 200 || count !== pieces) throw new Error(`stream throughput: status ${r.status}, ${count} of ${pieces} events`);
  // Over the whole request (not first-to-last arrival, which a burst at the end would make look fast).
  return { events: count, total_ms: round(total, 1), chunks_per_second: round(count / (total / 1000), 0), first_to_last_ms: round(last - first, 1), network_reads: reads, cpu_us_per_chunk: round((cpu * 1e6) / count, 1) };
}

let streamCounter = 0;

async function timedStream(base, n, interval, headers = {}) {
  // Upstream (in this process) emits n events `interval` ms apart and notes when; the client notes
  // when each re-framed event arrives. Same clock (performance.now()), so arrival − emission is the
  // relay delay of each chunk through the emulator's forward, the worker and the response.
  const id = `s${++streamCounter}`;
  const body = jsonBody({ model: CHAT_MODEL, messages: [{ role: "user", content: `timed [bench:upstream] [bench:stream id=${id} n=${n} interval=${interval}]` }], stream: true });
  const agent = new http.Agent({ keepAlive: false });
  const arrived = [];
  const readOf = [];
  let reads = 0;
  const onEvent = sseEvents((payload, t) => {
    if (payload === "[DONE]") return;
    const content = JSON.parse(payload).choices?.[0]?.delta?.content;
    const found = content && /^ c(\d+)$/.exec(content);
    if (found) {
      arrived[Number(found[1])] = t;
      readOf[Number(found[1])] = reads;
    }
  });
  const r = await send(agent, new URL("/v1/chat/completions", base).href, { headers: { ...AUTH, ...headers }, body, onData: (c, t) => { reads++; onEvent(c, t); } });
  agent.destroy();
  const emitted = timedStreams.get(id)?.emitted ?? [];
  timedStreams.delete(id);
  if (r.status !== 200 || arrived.filter(Boolean).length !== n) throw new Error(`timed stream: status ${r.status}, ${arrived.filter(Boolean).length} of ${n} chunks: ${r.body.toString().slice(0, 300)}`);
  const delays = emitted.map((t, i) => arrived[i] - t);
  // Held back: a chunk that reached the client only after the next one had been emitted, or that
  // arrived in the same network read as the one before it.
  let heldBack = 0, sharedRead = 0;
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && arrived[i] > emitted[i + 1]) heldBack++;
    if (i > 0 && readOf[i] === readOf[i - 1]) sharedRead++;
  }
  return { delays, heldBack, sharedRead };
}

async function emulatorPacedStream(base, n, interval) {
  // The emulator's own delay (`__emulator_delay_ms` inside workerd): only arrival gaps can be seen.
  const words = Array.from({ length: n }, (_, i) => `p${i}`).join(" ");
  const body = jsonBody({ model: CHAT_MODEL, messages: [{ role: "user", content: `[bench:delay=${interval}] ${words}` }], max_tokens: n, stream: true });
  const agent = new http.Agent({ keepAlive: false });
  const arrived = [];
  const onEvent = sseEvents((payload, t) => {
    if (payload === "[DONE]") return;
    const content = JSON.parse(payload).choices?.[0]?.delta?.content;
    if (content) arrived.push(t);
  });
  await send(agent, new URL("/v1/chat/completions", base).href, { headers: AUTH, body, onData: onEvent });
  agent.destroy();
  const gaps = arrived.slice(2).map((t, i) => t - arrived[i + 1]); // from the 2nd content chunk on (the 1st has no delay)
  return gaps;
}

async function phaseStreaming(instance) {
  const out = { js: {}, py: {} };
  const pieces = QUICK ? 300 : 1000;
  for (const kind of ["js", "py"]) {
    await streamThroughput(instance.urls[kind], 100, instance.pid);
    const runs = [];
    for (let i = 0; i < (QUICK ? 2 : 3); i++) runs.push(await streamThroughput(instance.urls[kind], pieces, instance.pid));
    runs.sort((a, b) => a.chunks_per_second - b.chunks_per_second);
    out[kind].throughput = runs[Math.floor(runs.length / 2)];
  }
  const n = QUICK ? 40 : 100, interval = 10;
  for (const kind of ["js", "py"]) out[kind].delays = [];
  for (const kind of ["js", "py"]) out[kind].held = { heldBack: 0, sharedRead: 0, chunks: 0 };
  for (let rep = 0; rep < (QUICK ? 1 : 3); rep++) {
    for (const kind of ["js", "py"]) {
      const t = await timedStream(instance.urls[kind], n, interval);
      out[kind].delays.push(...t.delays);
      out[kind].held.heldBack += t.heldBack;
      out[kind].held.sharedRead += t.sharedRead;
      out[kind].held.chunks += n;
    }
  }
  for (const kind of ["js", "py"]) {
    const gaps = await emulatorPacedStream(instance.urls[kind], QUICK ? 30 : 60, 5);
    out[kind].emulator_paced = {
      interval_ms: 5,
      gaps: gaps.length,
      mean_gap_ms: round(gaps.reduce((a, b) => a + b, 0) / gaps.length, 3),
      min_gap_ms: round(Math.min(...gaps), 3),
      max_gap_ms: round(Math.max(...gaps), 3),
      gaps_under_half_interval: gaps.filter((g) => g < 2.5).length,
    };
  }
  const summary = (kind) => ({
    chunks: out[kind].delays.length,
    relay_p10_us: round(percentile(out[kind].delays, 10) * 1000, 0),
    relay_p50_us: round(median(out[kind].delays) * 1000, 0),
    relay_p99_us: round(percentile(out[kind].delays, 99) * 1000, 0),
    relay_max_us: round(Math.max(...out[kind].delays) * 1000, 0),
    held_back: out[kind].held.heldBack,
    shared_read: out[kind].held.sharedRead,
  });
  const result = {
    pieces,
    interval_ms: interval,
    js: { throughput: out.js.throughput, relay: summary("js"), emulator_paced: out.js.emulator_paced },
    py: { throughput: out.py.throughput, relay: summary("py"), emulator_paced: out.py.emulator_paced },
  };
  result.added_per_chunk_us = {
    p10: round(result.py.relay.relay_p10_us - result.js.relay.relay_p10_us, 0),
    p50: round(result.py.relay.relay_p50_us - result.js.relay.relay_p50_us, 0),
    p99: round(result.py.relay.relay_p99_us - result.js.relay.relay_p99_us, 0),
    // From throughput: the extra time per chunk when nothing waits (1/rate difference).
    from_throughput: round(1e6 / result.py.throughput.chunks_per_second - 1e6 / result.js.throughput.chunks_per_second, 1),
  };
  return result;
}

function multipartAudio(bytes) {
  const boundary = "----gateway-bench-boundary";
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="speech.mp3"\r\nContent-Type: audio/mpeg\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const audio = Buffer.alloc(bytes);
  audio[0] = 0xff; audio[1] = 0xfb; audio[2] = 0x90; audio[3] = 0x64; // an MP3 frame header, then zeros
  for (let i = 4; i < bytes; i += 4099) audio[i] = i & 0xff;
  return { body: Buffer.concat([head, audio, tail]), type: `multipart/form-data; boundary=${boundary}` };
}

async function pythonHeap(instance) {
  const r = await send(undefined, new URL("/health", instance.urls.py).href, { method: "GET" });
  return JSON.parse(r.body).python_heap_mib;
}

async function inspect(instance, workerName) {
  // workerd's V8 inspector (Miniflare `inspectorPort`): per-isolate heap usage and a forced GC.
  const base = await instance.mf.getInspectorURL();
  const list = await (await fetch(new URL("/json/list", base.href.replace(/^ws:/, "http:")))).json();
  const target = list.find((t) => t.title === `workerd: worker core:user:${workerName}`);
  if (!target) throw new Error(`no inspector target for ${workerName}: ${list.map((t) => t.title).join(", ")}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const pending = new Map();
  let id = 0;
  ws.on("message", (message) => {
    const data = JSON.parse(message);
    pending.get(data.id)?.(data);
    pending.delete(data.id);
  });
  const call = (method, params = {}) => new Promise((resolve, reject) => {
    const mine = ++id;
    pending.set(mine, (d) => (d.error ? reject(new Error(`${method}: ${d.error.message}`)) : resolve(d.result)));
    ws.send(JSON.stringify({ id: mine, method, params }));
  });
  await call("HeapProfiler.enable");
  return {
    call,
    // workerd ignores HeapProfiler.collectGarbage; a heap snapshot starts with a full GC (its
    // chunks arrive as events, which are dropped).
    gc: () => call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }),
    close: () => ws.close(),
  };
}

const MiB = (bytes) => bytes / 1048576;

async function measured(instance, inspector, fn) {
  // After a forced GC of the worker's isolate: workerd's RSS (VmHWM reset before the operation,
  // read after, and VmRSS sampled every 5 ms) and the isolate's V8 heap (sampled through the
  // inspector between the worker's own turns, so a short-lived peak can be missed).
  const pid = instance.pid;
  await inspector.gc();
  const heapBefore = (await inspector.call("Runtime.getHeapUsage")).usedSize;
  const before = memory(pid).rss;
  resetPeak(pid);
  let sampled = before;
  let heapPeak = heapBefore;
  let sampling = true;
  const timer = setInterval(() => { sampled = Math.max(sampled, memory(pid).rss); }, 5);
  const heapSampler = (async () => {
    while (sampling) {
      heapPeak = Math.max(heapPeak, (await inspector.call("Runtime.getHeapUsage")).usedSize);
      await sleep(2);
    }
  })();
  const started = now();
  const result = await fn();
  const ms = now() - started;
  sampling = false;
  await heapSampler;
  clearInterval(timer);
  const after = memory(pid);
  const peak = Math.max(after.hwm, sampled);
  await inspector.gc();
  const heapAfter = (await inspector.call("Runtime.getHeapUsage")).usedSize;
  return {
    result,
    ms: round(ms, 1),
    rss_before_mib: round(before, 1),
    peak_rss_mib: round(peak, 1),
    peak_delta_mib: round(peak - before, 1),
    rss_after_mib: round(after.rss, 1),
    v8_heap_before_mib: round(MiB(heapBefore), 1),
    v8_heap_peak_mib: round(MiB(heapPeak), 1),
    v8_heap_after_gc_mib: round(MiB(heapAfter), 1),
  };
}

async function phaseMemory(upstream) {
  // One fresh workerd per worker (with the inspector on), so neither worker's garbage or heap
  // growth is counted against the other; the operations run in this order in each. The third
  // instance is the gateway with one change (bench/profile/probe_entry.py, `base64_batched`).
  const out = { audio_bytes: 25 * 1024 * 1024, image_bytes: IMAGE_BYTES };
  const audio = multipartAudio(out.audio_bytes);
  const small = multipartAudio(4096);
  const agent = new http.Agent({ keepAlive: false });
  const variants = [
    { key: "js", kind: "js", image: true },
    { key: "py", kind: "py", image: true },
    { key: "py_base64_batched", kind: "py-probe", headers: { "x-bench-patch": "base64_batched" }, image: false },
  ];
  for (const variant of variants) {
    const { kind } = variant;
    const instance = await startInstance([kind], { upstream, inspector: true });
    const python = kind !== "js";
    try {
      const inspector = await inspect(instance, instance.names[kind]);
      const base = instance.urls[kind];
      const heapOf = async () => JSON.parse((await send(agent, new URL("/health", base).href, { method: "GET" })).body).python_heap_mib;
      const transcribe = (form) => send(agent, new URL("/v1/audio/transcriptions", base).href, {
        headers: { authorization: `Bearer ${KEY}`, "content-type": form.type, ...(variant.headers ?? {}) },
        body: form.body,
      });
      const warm = await transcribe(small); // loads the code paths
      if (warm.status !== 200) throw new Error(`small audio to ${kind}: ${warm.status} ${warm.body.toString().slice(0, 300)}`);
      const rows = (out[variant.key] = {});
      rows.idle_rss_mib = round(memory(instance.pid).rss, 1);
      if (python) rows.python_heap_start_mib = await heapOf();
      for (const label of ["audio_1", "audio_2"]) {
        const m = await measured(instance, inspector, () => transcribe(audio));
        const text = m.result.status === 200 ? (JSON.parse(m.result.body).text ?? "") : m.result.body.toString().slice(0, 300);
        if (m.result.status !== 200 || !text.includes(String(out.audio_bytes))) throw new Error(`audio upload to ${kind}: ${m.result.status} ${text}`);
        delete m.result;
        if (python) m.python_heap_after_mib = await heapOf();
        rows[label] = m;
      }
      if (variant.image) {
        const store = await measured(instance, inspector, () => send(agent, new URL("/v1/images/generations", base).href, {
          headers: AUTH,
          body: jsonBody({ model: "@cf/stabilityai/stable-diffusion-xl-base-1.0", prompt: "[bench:upstream] a lighthouse at dusk", response_format: "url" }),
        }));
        if (store.result.status !== 200) throw new Error(`image to ${kind}: ${store.result.status} ${store.result.body.toString().slice(0, 300)}`);
        const fileUrl = new URL(JSON.parse(store.result.body).data[0].url);
        delete store.result;
        if (python) store.python_heap_after_mib = await heapOf();
        rows.image_store = store;
        const serve = await measured(instance, inspector, () => send(agent, new URL(fileUrl.pathname, base).href, { method: "GET" }));
        if (serve.result.status !== 200 || !serve.result.body.equals(PNG)) {
          throw new Error(`serving the image from ${kind}: ${serve.result.status}, ${serve.result.body.length} bytes`);
        }
        delete serve.result;
        if (python) serve.python_heap_after_mib = await heapOf();
        rows.image_serve = serve;
      }
      rows.python_heap_end_mib = python ? await heapOf() : null;
      inspector.close();
    } finally {
      await instance.dispose();
    }
  }
  return out;
}

async function phaseColdStart(upstream) {
  const out = { js: [], py: [] };
  const reps = QUICK ? 1 : 3;
  for (let i = 0; i < reps; i++) {
    for (const kind of ["js", "py"]) {
      const instance = await startInstance([kind], { upstream });
      const first = await firstAnswer(instance, kind);
      out[kind].push({ ready_ms: round(instance.readyMs, 0), first_answer_ms: round(first, 0) });
      await instance.dispose();
    }
  }
  const med = (kind, field) => round(median(out[kind].map((r) => r[field])), 0);
  return { runs: out, js: { ready_ms: med("js", "ready_ms"), first_answer_ms: med("js", "first_answer_ms") }, py: { ready_ms: med("py", "ready_ms"), first_answer_ms: med("py", "first_answer_ms") } };
}

// --- profile: where the Python time goes (bench/profile/) -------------------------------------------------------

// Pyodide's clock does not advance while a request runs (workerd freezes time between I/O), so
// nothing can be timed from inside. Instead the probe worker repeats one step N times inside a
// request, and the client sees the request take longer: (p50 with N repeats − p50 without) / N is
// the cost of one step in Pyodide.
const PROBES = [
  // [name, what it does per repeat, N]
  ["js_to_py_call", "py-empty worker: a request in and a Response out (the floor of any Python worker)", 0],
  ["settings", "runtime._settings(env): read once per isolate, so a cached lookup (it was 9 env lookups across the FFI + Settings parsing per request)", 200],
  ["core_request", "runtime._core_request(js_request): the lazy JsHeaders (no header read yet), urlsplit, parse_qs", 200],
  ["headers_entries", "copying every header pair by pair over the FFI (what _core_request did before JsHeaders)", 200],
  ["headers_fromentries", "alternative: Object.fromEntries(headers).to_py()", 200],
  ["headers_json", "alternative: json.loads(JSON.stringify(Object.fromEntries(headers)))", 200],
  ["route_auth", "app.resolve_route + auth.require_api_key", 500],
  ["json_loads", "json.loads of the request body", 1000],
  ["chat_parse", "catalog.resolve + chat.ChatRequest.parse", 500],
  ["to_js_inputs", "runtime._js_object(inputs): to_js with Object.fromEntries", 300],
  ["ai_run_raw", "await env.AI.run(...) on the JS object (the binding and emulator, no conversion)", 100],
  ["to_py_result", "result.to_py() of the emulator's chat answer", 300],
  ["wait_for", "asyncio.wait_for(<an already-finished coroutine>, 120) (one per AI call)", 300],
  ["sleep0", "await asyncio.sleep(0): one trip through the event loop (a microtask once serve() has installed its call_soon)", 300],
  ["completion", "chat.completion(result, ...) (the OpenAI dict)", 500],
  ["json_response", "http.json_response(body) (json.dumps)", 500],
  ["js_response", "runtime._js_response(...): _js_init (one _js_object call) + Response.new", 300],
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

async function phaseProfile(upstream) {
  const instance = await startInstance(["py", "js", "py-empty", "py-minimal", "py-probe", "js-probe"], { upstream });
  const count = QUICK ? 9 : 25;
  const out = { probes: {}, variants: {} };
  try {
    const chat = ENDPOINTS.chat;
    const chatUrl = (kind) => new URL(chat.path, instance.urls[kind]).href;
    // Warm every worker.
    for (const kind of ["py", "js", "py-empty", "py-minimal", "py-probe", "js-probe"]) await load(instance.urls[kind], chat, 1, WARMUP_SECONDS, null);
    for (const kind of ["py", "js", "py-empty", "py-minimal", "py-probe"]) {
      out.variants[kind] = {
        chat_p50_ms: round(await probeP50(chatUrl(kind), chat.headers, chat.body, count * 4), 3),
        translate_p50_ms: kind === "py-empty" ? null : round(await probeP50(new URL(ENDPOINTS.translate.path, instance.urls[kind]).href, ENDPOINTS.translate.headers, ENDPOINTS.translate.body, count * 4), 3),
      };
    }
    // The gateway with one change at a time (x-bench-patch), same worker.
    for (const patch of ["settings_once", "no_wait_for", "all"]) {
      out.variants[`py-probe+${patch}`] = {
        chat_p50_ms: round(await probeP50(chatUrl("py-probe"), { ...chat.headers, "x-bench-patch": patch }, chat.body, count * 4), 3),
        translate_p50_ms: round(await probeP50(new URL(ENDPOINTS.translate.path, instance.urls["py-probe"]).href, { ...ENDPOINTS.translate.headers, "x-bench-patch": patch }, ENDPOINTS.translate.body, count * 4), 3),
        stream_p50_ms: round(await probeP50(chatUrl("py-probe"), { ...chat.headers, "x-bench-patch": patch }, ENDPOINTS.stream.body, count * 2), 3),
      };
    }
    out.variants["py-probe"].stream_p50_ms = round(await probeP50(chatUrl("py-probe"), chat.headers, ENDPOINTS.stream.body, count * 2), 3);
    out.variants.py.stream_p50_ms = round(await probeP50(chatUrl("py"), chat.headers, ENDPOINTS.stream.body, count * 2), 3);
    out.variants.js.stream_p50_ms = round(await probeP50(chatUrl("js"), chat.headers, ENDPOINTS.stream.body, count * 2), 3);
    out.variants["py-minimal"].stream_p50_ms = round(await probeP50(chatUrl("py-minimal"), chat.headers, ENDPOINTS.stream.body, count * 2), 3);

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

// --- report --------------------------------------------------------------------------------------------------------

function ratio(a, b, digits = 2) {
  return a && b ? round(a / b, digits) : null;
}

function tables(results) {
  const lines = [];
  const row = (cells) => lines.push(`| ${cells.join(" | ")} |`);
  const head = (cells) => {
    row(cells);
    row(cells.map(() => "---"));
  };
  const L = results.load;
  if (L) {
  lines.push("### Warm latency (concurrency 1) and CPU per request", "");
  head(["endpoint", "JS p50 ms", "Python p50 ms", "p50 Py÷JS", "JS p99 ms", "Python p99 ms", "p99 Py÷JS", "JS CPU ms/req", "Python CPU ms/req", "CPU Py÷JS"]);
  for (const [, e] of Object.entries(L)) {
    const j = e.js[1], p = e.py[1], j8 = e.js[8], p8 = e.py[8];
    row([e.label, j.p50_ms, p.p50_ms, `**${ratio(p.p50_ms, j.p50_ms)}**`, j.p99_ms, p.p99_ms, ratio(p.p99_ms, j.p99_ms), j8.cpu_ms_per_request, p8.cpu_ms_per_request, ratio(p8.cpu_ms_per_request, j8.cpu_ms_per_request)]);
  }
  lines.push("", "### Throughput (requests/s) by concurrency", "");
  head(["endpoint", ...CONCURRENCY.flatMap((c) => [`JS c=${c}`, `Python c=${c}`, `Py÷JS c=${c}`]), "Python errors"]);
  for (const [, e] of Object.entries(L)) {
    const errors = CONCURRENCY.reduce((n, c) => n + e.py[c].errors + e.js[c].errors, 0);
    row([e.label, ...CONCURRENCY.flatMap((c) => [e.js[c].rps, e.py[c].rps, ratio(e.py[c].rps, e.js[c].rps)]), errors]);
  }
  }
  const S = results.streaming;
  if (S) {
    lines.push("", `### Streaming`, "");
    head(["measure", "JS", "Python", "Python − JS"]);
    row([`chunks/s relayed (${S.pieces} events, no delay, median of runs)`, S.js.throughput.chunks_per_second, S.py.throughput.chunks_per_second, `${S.added_per_chunk_us.from_throughput} µs/chunk`]);
    row(["workerd CPU per chunk (µs)", S.js.throughput.cpu_us_per_chunk, S.py.throughput.cpu_us_per_chunk, round(S.py.throughput.cpu_us_per_chunk - S.js.throughput.cpu_us_per_chunk, 1)]);
    row([`relay delay per chunk, p10 (µs; emitted every ${S.interval_ms} ms, ${S.js.relay.chunks} chunks)`, S.js.relay.relay_p10_us, S.py.relay.relay_p10_us, S.added_per_chunk_us.p10]);
    row([`relay delay per chunk, p50 (µs)`, S.js.relay.relay_p50_us, S.py.relay.relay_p50_us, `**${S.added_per_chunk_us.p50}**`]);
    row(["relay delay per chunk, p99 (µs)", S.js.relay.relay_p99_us, S.py.relay.relay_p99_us, S.added_per_chunk_us.p99]);
    row(["relay delay per chunk, max (µs)", S.js.relay.relay_max_us, S.py.relay.relay_max_us, ""]);
    row(["chunks held back (arrived after the next was emitted)", S.js.relay.held_back, S.py.relay.held_back, ""]);
    row(["chunks that shared a network read with the previous one", S.js.relay.shared_read, S.py.relay.shared_read, ""]);
    row([`emulator-paced (${S.js.emulator_paced.interval_ms} ms in workerd): mean / min / max arrival gap ms`, `${S.js.emulator_paced.mean_gap_ms} / ${S.js.emulator_paced.min_gap_ms} / ${S.js.emulator_paced.max_gap_ms}`, `${S.py.emulator_paced.mean_gap_ms} / ${S.py.emulator_paced.min_gap_ms} / ${S.py.emulator_paced.max_gap_ms}`, ""]);
  }
  const M = results.memory;
  if (M) {
    lines.push("", "### Memory (a fresh workerd per worker; during the operation)", "");
    head(["operation", "worker", "RSS before MiB", "peak RSS MiB", "**peak − before** MiB", "V8 heap MiB: live before → peak sampled → live after", "took ms", "Python heap after MiB"]);
    const mrow = (op, kind, m) => row([op, kind, m.rss_before_mib, m.peak_rss_mib, `**${m.peak_delta_mib}**`, `${m.v8_heap_before_mib} → ${m.v8_heap_peak_mib} → ${m.v8_heap_after_gc_mib}`, m.ms, m.python_heap_after_mib ?? ""]);
    const names = { js: "JS", py: "Python", py_base64_batched: "Python + batched base64 (probe)" };
    for (const [key, op] of [["audio_1", "25 MiB audio → /v1/audio/transcriptions (1st)"], ["audio_2", "25 MiB audio → /v1/audio/transcriptions (2nd)"], ["image_store", "2 MiB PNG from the model → stored in R2"], ["image_serve", "2 MiB PNG served from R2 (GET /file/…)"]]) {
      for (const variant of ["js", "py", "py_base64_batched"]) if (M[variant]?.[key]) mrow(op, names[variant], M[variant][key]);
    }
    lines.push("", `Idle workerd RSS after one small request: JS-only ${M.js.idle_rss_mib} MiB, Python-only ${M.py.idle_rss_mib} MiB. ` +
      `Python (Pyodide) WebAssembly heap, from the gateway's /health: ${M.py.python_heap_start_mib} MiB before the uploads, ${M.py.python_heap_end_mib} MiB at the end. ` +
      "V8 heap: the worker isolate's `Runtime.getHeapUsage` through workerd's inspector, live = after a full GC (forced by a heap snapshot); " +
      "the peak is sampled between the worker's turns and includes garbage not yet collected. " +
      "The emulator runs inside the worker's isolate (a wrapped binding) and decodes the base64 audio, so every row includes its copies.");
  }
  const C = results.cold_start;
  if (C) {
    lines.push("", "### Cold start (new Miniflare → workerd → first 200 on a chat request)", "");
    head(["instance", "worker", "workerd ready ms", "first answer ms"]);
    if (results.instance) row(["shared (the benchmark's instance)", "JS (asked first)", round(results.instance.ready_ms, 0), round(results.instance.first_answer_ms.js, 0)]);
    if (results.instance) row(["shared (the benchmark's instance)", "Python (asked second)", round(results.instance.ready_ms, 0), round(results.instance.first_answer_ms.py, 0)]);
    row([`alone (median of ${C.runs.js.length})`, "JS", C.js.ready_ms, C.js.first_answer_ms]);
    row([`alone (median of ${C.runs.py.length})`, "Python", C.py.ready_ms, C.py.first_answer_ms]);
  }
  const P = results.profile;
  if (P) {
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
  }
  const T = results.targets;
  if (T) {
    lines.push("", "### Targets (issue 8)", "");
    head(["target", "measured", "met"]);
    for (const t of T) row([t.target, t.measured, t.met ? "yes" : "**no**"]);
  }
  return lines.join("\n");
}

function targets(results) {
  const L = results.load;
  const out = [];
  for (const name of L ? ["chat", "translate"] : []) {
    const r = ratio(L[name].py[1].p50_ms, L[name].js[1].p50_ms);
    out.push({ target: `warm p50 ratio ≤ 1.3 on ${L[name].label}`, measured: `${r} (${L[name].py[1].p50_ms} vs ${L[name].js[1].p50_ms} ms)`, met: r !== null && r <= 1.3 });
  }
  const S = results.streaming;
  if (S) {
    out.push({ target: "streaming adds ≤ 50 µs per chunk", measured: `${S.added_per_chunk_us.p50} µs at p50 of relay delay (${S.added_per_chunk_us.p10} µs at p10); ${S.added_per_chunk_us.from_throughput} µs from chunks/s`, met: S.added_per_chunk_us.p50 <= 50 && S.added_per_chunk_us.from_throughput <= 50 });
    out.push({ target: "streaming never holds a chunk back", measured: `${S.py.relay.held_back} of ${S.py.relay.chunks} chunks held back, ${S.py.relay.shared_read} shared a read`, met: S.py.relay.held_back === 0 });
  }
  const M = results.memory;
  if (M) {
    const worst = (variant, field) => Math.max(M[variant].audio_1[field], M[variant].audio_2[field]);
    out.push({
      target: "25 MB audio within 128 MB",
      measured: `V8 heap peak ${worst("py", "v8_heap_peak_mib")} MiB + Pyodide heap ${M.py.audio_2.python_heap_after_mib} MiB (JS worker: V8 heap peak ${worst("js", "v8_heap_peak_mib")} MiB); ` +
        `workerd RSS rises by ≤ ${worst("py", "peak_delta_mib")} MiB (JS worker ${worst("js", "peak_delta_mib")} MiB). Not enforced by this runtime: see the memory notes`,
      met: worst("py", "v8_heap_peak_mib") + M.py.audio_2.python_heap_after_mib <= 128,
    });
  }
  return out;
}

// --- main ----------------------------------------------------------------------------------------------------------

async function main() {
  const startedAt = new Date();
  const wall = now();
  const upstreamServer = await startUpstream();
  const upstream = `http://${HOST}:${upstreamServer.address().port}`;
  const results = {
    command: `node bench/run.mjs${argv.length ? " " + argv.join(" ") : ""}`,
    date: startedAt.toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, platform: `${os.type()} ${os.release()}` },
    runtime: { miniflare: JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/miniflare-legacy/package.json"), "utf8")).version, compatibility_date: "2024-11-06" },
    settings: { phase_seconds: PHASE_SECONDS, warmup_seconds: WARMUP_SECONDS, concurrency: CONCURRENCY, quick: QUICK },
  };

  if (PHASES.includes("load") || PHASES.includes("streaming")) {
    log("starting one Miniflare instance: the Python gateway + the JS worker + the AI emulator binding");
    const instance = await startInstance(["py", "js"], { upstream });
    try {
      log(`  workerd pid ${instance.pid}, ready in ${Math.round(instance.readyMs)} ms; Python ${instance.urls.py}  JS ${instance.urls.js}`);
      const firstJs = await firstAnswer(instance, "js");
      const firstPy = await firstAnswer(instance, "py");
      results.instance = { ready_ms: instance.readyMs, first_answer_ms: { js: firstJs, py: firstPy }, workerd_rss_mib: memory(instance.pid).rss };
      log(`  first answers: JS ${Math.round(firstJs)} ms, Python ${Math.round(firstPy)} ms after start`);
      if (PHASES.includes("load")) {
        log("latency and throughput");
        results.load = await phaseLoad(instance);
      }
      if (PHASES.includes("streaming")) {
        log("streaming");
        results.streaming = await phaseStreaming(instance);
      }
    } finally {
      await instance.dispose();
    }
  }
  if (PHASES.includes("memory")) {
    log("memory (a fresh instance per worker)");
    results.memory = await phaseMemory(upstream);
  }
  if (PHASES.includes("cold")) {
    log("cold start (separate instances)");
    results.cold_start = await phaseColdStart(upstream);
  }
  if (PHASES.includes("profile")) {
    log("profile (a second instance with probe workers)");
    results.profile = await phaseProfile(upstream);
  }
  upstreamServer.close();
  results.targets = targets(results);
  results.total_seconds = round((now() - wall) / 1000, 1);

  const table = tables(results);
  console.log(table);
  if (!flag("--no-write")) {
    fs.mkdirSync(path.join(BENCH, "results"), { recursive: true });
    fs.writeFileSync(path.join(BENCH, "results/latest.json"), JSON.stringify(results, null, 2) + "\n");
    const full = PHASES.length === 5 && !QUICK;
    if (full) {
      const md = [
        "# Benchmark results: Python gateway vs a minimal JS worker",
        "",
        `Made with \`${results.command}\` on ${startedAt.toISOString().slice(0, 10)} (took ${results.total_seconds} s on ` +
          `${results.machine.cpus} × ${results.machine.cpu_model}; node ${results.machine.node}, miniflare ${results.runtime.miniflare} ` +
          `(workerd with embedded Pyodide), compatibility date ${results.runtime.compatibility_date}; offline).`,
        "",
        "Latency, throughput and streaming: one Miniflare instance (one workerd process) serving the Python gateway (src/, via " +
          "`localConfig()` of scripts/local/serve.mjs) and bench/js-worker.mjs on two ports, both bound to the same Workers AI " +
          `emulator (scripts/local/ai-emulator.mjs), which answers at once; ${PHASE_SECONDS} s per step after ${WARMUP_SECONDS} s of warm-up, ` +
          "JS and Python alternating. Memory: a fresh instance per worker. Cold start: fresh instances. Profile: a second instance " +
          "with probe workers (bench/profile/). How each number is taken: bench/README.md. Raw numbers: bench/results/latest.json (not committed).",
        "",
        table,
        "",
      ].join("\n");
      fs.writeFileSync(path.join(BENCH, "RESULTS.md"), md);
    }
    log(`wrote bench/results/latest.json${full ? " and bench/RESULTS.md" : " (RESULTS.md only on a run of every phase)"} (${results.total_seconds} s)`);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
