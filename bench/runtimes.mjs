// The gateway on both Python Workers runtimes, side by side: cold start (new Miniflare → first
// 200 on a chat request) and warm latency per endpoint (sequential requests, one client), on the
// same machine in the same run. Offline (the production runtime uses the Pyodide kit; see README).
//
//   node bench/runtimes.mjs [--starts 3] [--requests 200] [--runtimes legacy,production] [--write]
//
// Prints a Markdown table; --write also replaces the "Two runtimes" section of bench/RESULTS.md.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { localConfig, useRuntime } from "../scripts/local/serve.mjs";
import { Miniflare } from "../scripts/local/runtimes.mjs";
import { CHAT_MODEL, ROOT, now, sleep } from "./common.mjs";
import { KEY, gatewayEnv } from "./config.mjs";

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const STARTS = Number(option("--starts", 3));
const REQUESTS = Number(option("--requests", 200));
const RUNTIMES = option("--runtimes", "legacy,production").split(",");
const JSON_HEADERS = { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" };
const CHAT = { model: CHAT_MODEL, messages: [{ role: "user", content: "Tell me about the sea" }] };

const ENDPOINTS = {
  chat: { path: "/v1/chat/completions", body: CHAT },
  "chat stream": { path: "/v1/chat/completions", body: { ...CHAT, stream: true } },
  embeddings: { path: "/v1/embeddings", body: { model: "text-embedding-3-small", input: ["a", "b", "c"] } },
  translate: { path: `/translate?password=${KEY}`, body: { text: "Guten Morgen", source_lang: "DE", target_lang: "EN" } },
  health: { path: "/health", method: "GET" },
};


async function call(base, { path: p, body, method = "POST" }) {
  const response = await fetch(base + p, { method, headers: JSON_HEADERS, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${p}: ${response.status} ${text.slice(0, 200)}`);
  return text;
}

async function start(runtime) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-bench-"));
  useRuntime(runtime);
  // Accounting off: the table compares the runtimes, not the local D1 simulation.
  // The gateway as `npm start` serves it (its own emulator, on Miniflare's port), not benchConfig's direct sockets.
  const config = localConfig(gatewayEnv(state, { LOCAL_NO_D1: "1" }), runtime);
  const started = now();
  const mf = new Miniflare(config);
  const url = (await mf.ready).origin;
  for (;;) {
    try {
      await call(url, ENDPOINTS.chat);
      break;
    } catch {
      await sleep(5);
    }
  }
  const coldMs = now() - started;
  return { mf, url, coldMs, dispose: async () => (await mf.dispose(), fs.rmSync(state, { recursive: true, force: true })) };
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

async function measure(runtime) {
  const cold = [];
  for (let i = 0; i < STARTS; i++) {
    const instance = await start(runtime);
    cold.push(instance.coldMs);
    if (i < STARTS - 1) await instance.dispose();
    else {
      const warm = {};
      for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
        for (let k = 0; k < 20; k++) await call(instance.url, endpoint); // warm-up
        const times = [];
        for (let k = 0; k < REQUESTS; k++) {
          const t = now();
          await call(instance.url, endpoint);
          times.push(now() - t);
        }
        warm[name] = { p50: quantile(times, 0.5), p90: quantile(times, 0.9) };
      }
      const health = JSON.parse(await call(instance.url, ENDPOINTS.health));
      await instance.dispose();
      return { runtime, cold, warm, python: health.python, pyodide: health.pyodide, entry: health.runtime, heapMiB: health.python_heap_mib };
    }
  }
}

function table(results) {
  const fmt = (v) => v.toFixed(2);
  const lines = [
    `| | ${results.map((r) => `${r.runtime} (Pyodide ${r.pyodide}, Python ${r.python}, ${r.entry} entry)`).join(" | ")} |${results.length === 2 ? " production ÷ legacy |" : ""}`,
    `| --- |${results.map(() => " --- |").join("")}${results.length === 2 ? " --- |" : ""}`,
  ];
  const ratio = (a, b) => (results.length === 2 ? ` ${(b / a).toFixed(2)}× |` : "");
  const coldMedian = results.map((r) => quantile(r.cold, 0.5));
  lines.push(`| cold start, median of ${STARTS} (ms) | ${coldMedian.map((v) => v.toFixed(0)).join(" | ")} |${ratio(...coldMedian)}`);
  for (const name of Object.keys(ENDPOINTS)) {
    const p50 = results.map((r) => r.warm[name].p50);
    lines.push(`| ${name}: p50 / p90 (ms) | ${results.map((r) => `${fmt(r.warm[name].p50)} / ${fmt(r.warm[name].p90)}`).join(" | ")} |${ratio(...p50)}`);
  }
  lines.push(`| Python heap after the run (MiB) | ${results.map((r) => r.heapMiB).join(" | ")} |${results.length === 2 ? " |" : ""}`);
  return lines.join("\n");
}

const results = [];
for (const runtime of RUNTIMES) {
  console.error(`${runtime}: ${STARTS} cold starts, then ${REQUESTS} sequential requests per endpoint`);
  results.push(await measure(runtime));
}
const text = table(results);
console.log(text);
if (argv.includes("--write")) {
  const file = path.join(ROOT, "bench", "RESULTS.md");
  const heading = "## Two runtimes";
  const section = `${heading}\n\n\`node bench/runtimes.mjs --write\` on ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0].model}); sequential requests, one client, the emulator answering at once.\n\n${text}\n`;
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const at = current.indexOf(heading);
  const rest = at >= 0 ? current.slice(at + heading.length).search(/\n## /) : -1;
  const updated = at < 0 ? `${current.trimEnd()}\n\n${section}` : current.slice(0, at) + section + (rest >= 0 ? current.slice(at + heading.length + rest + 1) : "");
  fs.writeFileSync(file, updated);
}
