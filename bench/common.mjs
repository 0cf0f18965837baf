// What bench/run.mjs and bench/cpu.mjs share: the workerd process's CPU from /proc, a keep-alive
// HTTP client, small statistics, and the AI binding both benchmarked workers get.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inlineImport } from "../scripts/local/serve.mjs";

export const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH, "..");
export const now = () => performance.now();

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

// --- statistics ------------------------------------------------------------------------------------

export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
export const median = (values) => percentile(values, 50);
export const round = (x, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));

// --- the AI binding ----------------------------------------------------------------------------------

/** The emulator's own source, its default export renamed, followed by bench/ai-binding.mjs: one
 * module, as a Miniflare wrapped binding must be (its contract validator and media generator are
 * inlined where it imports them; without CONTRACTS it does not validate). */
export function aiBindingModule() {
  const emulator = inlineImport(path.join(ROOT, "scripts/local/ai-emulator.mjs"));
  const marker = "export default function (env) {";
  if (!emulator.includes(marker)) throw new Error(`scripts/local/ai-emulator.mjs no longer has \`${marker}\``);
  const wrapper = fs.readFileSync(path.join(BENCH, "ai-binding.mjs"), "utf8");
  return {
    name: "bench-ai",
    modulesRoot: BENCH,
    modules: [{ type: "ESModule", path: path.join(BENCH, "ai-binding.generated.mjs"), contents: emulator.replace(marker, "const emulatorBinding = function (env) {") + "\n" + wrapper }],
  };
}
