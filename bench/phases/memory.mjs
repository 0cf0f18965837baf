// Phase "memory" of bench/run.mjs: workerd's RSS and the isolate's V8 heap (through workerd's
// inspector) while a 25 MiB audio upload and a 2 MiB image go through each worker, a fresh workerd each.

import { createRequire } from "node:module";
import http from "node:http";
import { jsonBody, now, processMemory, resetPeak, round, send, sleep, tableWriter } from "../common.mjs";
import { AUTH, KEY, runWorkers, startInstance } from "../config.mjs";
import { IMAGE_BYTES, PNG } from "../upstream.mjs";

// A WebSocket client for workerd's inspector: `ws`, which miniflare itself depends on.
const WebSocket = createRequire(createRequire(import.meta.url).resolve("miniflare-legacy"))("ws");

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
  const before = processMemory(pid).rss;
  resetPeak(pid);
  let sampled = before;
  let heapPeak = heapBefore;
  let sampling = true;
  const timer = setInterval(() => { sampled = Math.max(sampled, processMemory(pid).rss); }, 5);
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
  const after = processMemory(pid);
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

export async function measure({ upstream }) {
  // One fresh workerd per worker (with the inspector on), so neither worker's garbage or heap
  // growth is counted against the other; the operations run in this order in each. (A third, the
  // gateway with its base64 built batch by batch, went when the runtime's js_base64 came to do that itself.)
  const out = { audio_bytes: 25 * 1024 * 1024, image_bytes: IMAGE_BYTES };
  const audio = multipartAudio(out.audio_bytes);
  const small = multipartAudio(4096);
  const agent = new http.Agent({ keepAlive: false });
  for (const kind of ["js", "py"]) {
    const instance = await startInstance(runWorkers(kind), { upstream, inspector: true });
    const python = kind !== "js";
    try {
      const inspector = await inspect(instance, instance.names[kind]);
      const base = instance.urls[kind];
      const heapOf = async () => JSON.parse((await send(agent, new URL("/health", base).href, { method: "GET" })).body).python_heap_mib;
      const transcribe = (form) => send(agent, new URL("/v1/audio/transcriptions", base).href, {
        headers: { authorization: `Bearer ${KEY}`, "content-type": form.type },
        body: form.body,
      });
      const warm = await transcribe(small); // loads the code paths
      if (warm.status !== 200) throw new Error(`small audio to ${kind}: ${warm.status} ${warm.body.toString().slice(0, 300)}`);
      const rows = (out[kind] = {});
      rows.idle_rss_mib = round(processMemory(instance.pid).rss, 1);
      if (python) rows.python_heap_start_mib = await heapOf();
      for (const label of ["audio_1", "audio_2"]) {
        const m = await measured(instance, inspector, () => transcribe(audio));
        const text = m.result.status === 200 ? (JSON.parse(m.result.body).text ?? "") : m.result.body.toString().slice(0, 300);
        if (m.result.status !== 200 || !text.includes(String(out.audio_bytes))) throw new Error(`audio upload to ${kind}: ${m.result.status} ${text}`);
        delete m.result;
        if (python) m.python_heap_after_mib = await heapOf();
        rows[label] = m;
      }
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
      rows.python_heap_end_mib = python ? await heapOf() : null;
      inspector.close();
    } finally {
      await instance.dispose();
    }
  }
  return out;
}

export function table(M) {
  const { lines, row, head } = tableWriter();
  lines.push("", "### Memory (a fresh workerd per worker; during the operation)", "");
  head(["operation", "worker", "RSS before MiB", "peak RSS MiB", "**peak − before** MiB", "V8 heap MiB: live before → peak sampled → live after", "took ms", "Python heap after MiB"]);
  const mrow = (op, kind, m) => row([op, kind, m.rss_before_mib, m.peak_rss_mib, `**${m.peak_delta_mib}**`, `${m.v8_heap_before_mib} → ${m.v8_heap_peak_mib} → ${m.v8_heap_after_gc_mib}`, m.ms, m.python_heap_after_mib ?? ""]);
  const names = { js: "JS", py: "Python" };
  for (const [key, op] of [["audio_1", "25 MiB audio → /v1/audio/transcriptions (1st)"], ["audio_2", "25 MiB audio → /v1/audio/transcriptions (2nd)"], ["image_store", "2 MiB PNG from the model → stored in R2"], ["image_serve", "2 MiB PNG served from R2 (GET /file/…)"]]) {
    for (const variant of ["js", "py"]) if (M[variant]?.[key]) mrow(op, names[variant], M[variant][key]);
  }
  lines.push("", `Idle workerd RSS after one small request: JS-only ${M.js.idle_rss_mib} MiB, Python-only ${M.py.idle_rss_mib} MiB. ` +
    `Python (Pyodide) WebAssembly heap, from the gateway's /health: ${M.py.python_heap_start_mib} MiB before the uploads, ${M.py.python_heap_end_mib} MiB at the end. ` +
    "V8 heap: the worker isolate's `Runtime.getHeapUsage` through workerd's inspector, live = after a full GC (forced by a heap snapshot); " +
    "the peak is sampled between the worker's turns and includes garbage not yet collected. " +
    "The emulator runs inside the worker's isolate (a wrapped binding) and decodes the base64 audio, so every row includes its copies.");
  return lines;
}

export function targets(M) {
  const worst = (variant, field) => Math.max(M[variant].audio_1[field], M[variant].audio_2[field]);
  return [{
    target: "25 MB audio within 128 MB",
    measured: `V8 heap peak ${worst("py", "v8_heap_peak_mib")} MiB + Pyodide heap ${M.py.audio_2.python_heap_after_mib} MiB (JS worker: V8 heap peak ${worst("js", "v8_heap_peak_mib")} MiB); ` +
      `workerd RSS rises by ≤ ${worst("py", "peak_delta_mib")} MiB (JS worker ${worst("js", "peak_delta_mib")} MiB). Not enforced by this runtime: see the memory notes`,
    met: worst("py", "v8_heap_peak_mib") + M.py.audio_2.python_heap_after_mib <= 128,
  }];
}
