// Phase "load" of bench/run.mjs: warm latency, throughput and CPU per request of each endpoint at
// concurrency 1, 8 and 32, the JS worker and the gateway alternating in the shared instance.

import http from "node:http";
import { chatStream, cpuSeconds, endpoints, log, median, now, percentile, ratio, round, send, tableWriter } from "../common.mjs";
import { KEY } from "../config.mjs";

export const CONCURRENCY = [1, 8, 32];

// The same requests as bench/cpu.mjs, and a short stream, in this order in the tables.
const { chat, translate, embeddings } = endpoints(KEY);
export const ENDPOINTS = { chat, stream: chatStream(KEY), embeddings, translate };

export async function load(base, endpoint, concurrency, seconds, pid) {
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

export async function measure({ instance, settings }) {
  const out = {};
  for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
    out[name] = { label: endpoint.label, js: {}, py: {} };
    for (const kind of ["js", "py"]) await load(instance.urls[kind], endpoint, 4, settings.warmup, null);
    for (const c of CONCURRENCY) {
      // JS and Python alternate per step, so drift on the machine hits both alike.
      for (const kind of ["js", "py"]) {
        const result = await load(instance.urls[kind], endpoint, c, settings.seconds, instance.pid);
        out[name][kind][c] = result;
        if (result.errors) log(`  ! ${name} ${kind} c=${c}: ${result.errors} errors, e.g. ${result.error_sample}`);
      }
      log(`  ${name.padEnd(11)} c=${String(c).padEnd(3)} JS ${out[name].js[c].rps} req/s p50 ${out[name].js[c].p50_ms} ms | Python ${out[name].py[c].rps} req/s p50 ${out[name].py[c].p50_ms} ms`);
    }
  }
  return out;
}

export function table(L) {
  const { lines, row, head } = tableWriter();
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
  return lines;
}

export function targets(L) {
  const out = [];
  for (const name of ["chat", "translate"]) {
    const r = ratio(L[name].py[1].p50_ms, L[name].js[1].p50_ms);
    out.push({ target: `warm p50 ratio ≤ 1.3 on ${L[name].label}`, measured: `${r} (${L[name].py[1].p50_ms} vs ${L[name].js[1].p50_ms} ms)`, met: r !== null && r <= 1.3 });
  }
  return out;
}
