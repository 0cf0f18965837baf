// What the benchmarks share besides their workerd (bench/config.mjs): the workerd process's CPU and
// memory from /proc, a keep-alive HTTP client, the requests they time, and small statistics.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH, "..");
export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Progress goes to stderr; stdout holds only the tables. */
export const log = (...a) => console.error(...a);

// --- the workerd process ---------------------------------------------------------------------------

/** The workerd processes this node process started. */
export function workerdPids() {
  const pids = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && stat.includes("(workerd")) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** utime + stime of the whole process (all threads), in seconds (clock ticks of 1/100 s). */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process, now (`rss`) and at its peak since the last resetPeak (`hwm`), in MiB. */
export function processMemory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)[1]);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

export function resetPeak(pid) {
  // Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM to the current RSS.
  fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

// --- HTTP ------------------------------------------------------------------------------------------

export function send(agent, url, { method = "POST", headers = {}, body = null, onData = null } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const allHeaders = body ? { "content-length": body.length, ...headers } : headers;
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: allHeaders }, (res) => {
      const chunks = [];
      res.on("data", (c) => {
        if (onData) onData(c, now());
        chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export const jsonBody = (data) => Buffer.from(JSON.stringify(data));

// --- what the benchmarks ask -------------------------------------------------------------------------

export const CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast";
export const CHAT_REQUEST = {
  model: CHAT_MODEL,
  messages: [
    { role: "system", content: "You are a concise assistant." },
    { role: "user", content: "Tell me about the sea in twenty words" },
  ],
  max_tokens: 64,
  temperature: 0.7,
};

/** The non-streamed requests both benchmarks time, for a gateway (and JS worker) keyed `key`. */
export function endpoints(key) {
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  return {
    chat: {
      label: "chat non-stream",
      path: "/v1/chat/completions",
      headers: auth,
      body: jsonBody(CHAT_REQUEST),
      check: (r) => r.status === 200 && typeof JSON.parse(r.body).choices?.[0]?.message?.content === "string",
    },
    translate: {
      label: "DeepLX translate",
      path: `/translate?password=${key}`,
      headers: { "content-type": "application/json" },
      body: jsonBody({ text: "Guten Morgen, wie geht es dir heute?", source_lang: "DE", target_lang: "EN" }),
      check: (r) => r.status === 200 && JSON.parse(r.body).code === 200,
    },
    embeddings: {
      label: "embeddings (2 x 1024)",
      path: "/v1/embeddings",
      headers: auth,
      body: jsonBody({ model: "@cf/baai/bge-m3", input: ["hello world", "the quick brown fox jumps over the lazy dog"] }),
      check: (r) => r.status === 200 && JSON.parse(r.body).data?.length === 2,
    },
  };
}

/** A short chat stream (16 events), checked to end with [DONE]. */
export function chatStream(key) {
  return {
    label: "chat stream (16 events)",
    path: "/v1/chat/completions",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: jsonBody({ ...CHAT_REQUEST, stream: true }),
    check: (r) => r.status === 200 && r.body.toString().endsWith("data: [DONE]\n\n"),
  };
}

// --- statistics ------------------------------------------------------------------------------------

export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
export const median = (values) => percentile(values, 50);
export const round = (x, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));
export const ratio = (a, b, digits = 2) => (a && b ? round(a / b, digits) : null);

/** Markdown table lines: `row(cells)`, and `head(cells)` for a header row and its rule. */
export function tableWriter() {
  const lines = [];
  const row = (cells) => lines.push(`| ${cells.join(" | ")} |`);
  const head = (cells) => {
    row(cells);
    row(cells.map(() => "---"));
  };
  return { lines, row, head };
}
