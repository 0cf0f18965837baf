// Phase "cold" of bench/run.mjs: from `new Miniflare()` to the first 200 on a chat request, for the
// shared instance (where the driver notes it) and for instances holding one worker.

import http from "node:http";
import { endpoints, median, now, round, send, sleep, tableWriter } from "../common.mjs";
import { KEY, runWorkers, startInstance } from "../config.mjs";

const CHAT = endpoints(KEY).chat;

export async function firstAnswer(instance, kind) {
  // Retries until the worker answers a chat request with 200; time from `new Miniflare()`.
  const agent = new http.Agent({ keepAlive: false });
  const url = new URL(CHAT.path, instance.urls[kind]).href;
  for (;;) {
    try {
      const r = await send(agent, url, { headers: CHAT.headers, body: CHAT.body });
      if (CHAT.check(r)) return now() - instance.started;
    } catch {}
    await sleep(5);
  }
}

export async function measure({ upstream, settings }) {
  const out = { js: [], py: [] };
  const reps = settings.quick ? 1 : 3;
  for (let i = 0; i < reps; i++) {
    for (const kind of ["js", "py"]) {
      const instance = await startInstance(runWorkers(kind), { upstream });
      const first = await firstAnswer(instance, kind);
      out[kind].push({ ready_ms: round(instance.readyMs, 0), first_answer_ms: round(first, 0) });
      await instance.dispose();
    }
  }
  const med = (kind, field) => round(median(out[kind].map((r) => r[field])), 0);
  return { runs: out, js: { ready_ms: med("js", "ready_ms"), first_answer_ms: med("js", "first_answer_ms") }, py: { ready_ms: med("py", "ready_ms"), first_answer_ms: med("py", "first_answer_ms") } };
}

/** `instance`: the shared instance's ready and first-answer times, when the driver started one. */
export function table(C, { instance }) {
  const { lines, row, head } = tableWriter();
  lines.push("", "### Cold start (new Miniflare → workerd → first 200 on a chat request)", "");
  head(["instance", "worker", "workerd ready ms", "first answer ms"]);
  if (instance) row(["shared (the benchmark's instance)", "JS (asked first)", round(instance.ready_ms, 0), round(instance.first_answer_ms.js, 0)]);
  if (instance) row(["shared (the benchmark's instance)", "Python (asked second)", round(instance.ready_ms, 0), round(instance.first_answer_ms.py, 0)]);
  row([`alone (median of ${C.runs.js.length})`, "JS", C.js.ready_ms, C.js.first_answer_ms]);
  row([`alone (median of ${C.runs.py.length})`, "Python", C.py.ready_ms, C.py.first_answer_ms]);
  return lines;
}
