// Issue 18 benchmark: CPU per request and per streamed chunk, the Python gateway beside the JS
// worker (bench/js-worker.mjs), the empty Python handler (bench/profile/empty.py) and the floor of
// a Python answer (bench/profile/floor.py), all in one workerd, on one runtime per run.
//
//   node bench/cpu.mjs                       legacy runtime (workerd 2024-11-06, Pyodide 0.26)
//   node bench/cpu.mjs --runtime production  wrangler's workerd with wrangler.toml's date (Pyodide 314),
//                                            when scripts/local/runtimes.mjs (issue 13) is present
//   options: --seconds S (per endpoint step, default 2), --streams K (streams per variant, default 15),
//            --no-streams (non-streamed endpoints only), --rounds N (default 3; the tables show medians),
//            --baseline DIR (also run the gateway from DIR/src, e.g. an older commit's
//            `git archive <commit> src | tar -x -C DIR`, as "Python before"), --quick, --no-write
//
// CPU is what the workerd process spends (utime + stime from /proc, all threads) over a run of
// requests made one after another, divided by the requests: the worker's own CPU plus workerd's
// HTTP work and the AI emulator (which runs inside workerd), the same for every worker. Streams:
// the emulator streams one word per event with no delay (one event per read); a 500-token answer
// is 500 content events; CPU per chunk is (CPU of a 500-event stream − CPU of a 20-event stream)
// / 480, so the per-request part cancels. It writes bench/results/cpu-<runtime>.json and, unless
// --no-write or --quick, the runtime's section of bench/RESULTS.md (between cpu markers).

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { BENCH, CHAT_MODEL, endpoints, cpuSeconds, jsonBody, log, median, now, ratio, round as roundTo, send } from "./common.mjs";
import { AUTH, KEY, startInstance } from "./config.mjs";

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const QUICK = argv.includes("--quick");
const RUNTIME = option("--runtime", process.env.GATEWAY_RUNTIME || "legacy");
const SECONDS = Number(option("--seconds", QUICK ? 0.7 : 2));
const STREAMS = Number(option("--streams", QUICK ? 5 : 15));
const BASELINE = option("--baseline", null);
const round = (x, digits = 3) => roundTo(x, digits);

const KINDS = BASELINE ? ["js", "base", "py", "usage", "stand-in", "budget", "floor"] : ["js", "py", "usage", "stand-in", "budget", "floor"];
const LEGACY_MODEL = CHAT_MODEL;
const OPENAI_MODEL = "@cf/openai/gpt-oss-20b";

const ENDPOINTS = endpoints(KEY);
const CHAT = "/v1/chat/completions";
const MESSAGES = "/v1/messages";

// Stream variants: [label, worker, model, extra body fields, expected X-Stream-Relay (Python only), path
// (default /v1/chat/completions; /v1/messages re-shapes the same chat stream into Anthropic's events)].
const STREAM_VARIANTS = [
  ...(BASELINE ? [["Python before (--baseline): transform (older model's `response` events)", "base", LEGACY_MODEL, {}, null]] : []),
  ["JS: transform (older model's `response` events)", "js", LEGACY_MODEL, {}, null],
  ["JS: pass-through (OpenAI-shaped model)", "js", OPENAI_MODEL, {}, null],
  ["Python: transform (older model's `response` events)", "py", LEGACY_MODEL, {}, "transform"],
  ["Python: transform (OpenAI-shaped, include_usage: events relayed as sent)", "py", OPENAI_MODEL, { stream_options: { include_usage: true } }, "transform"],
  ["Python: pass-through (OpenAI-shaped model)", "py", OPENAI_MODEL, {}, "passthrough"],
  // Accounting on (bench/d1-stand-in.mjs): the stream is tee'd and its copy read whole in the runtime for the usage.
  ["Python: pass-through, usage accounting on (D1 stand-in)", "stand-in", OPENAI_MODEL, {}, "passthrough"],
  ["Python: transform, usage accounting on (D1 stand-in)", "stand-in", LEGACY_MODEL, {}, "transform"],
  ["Python: Anthropic Messages (/v1/messages, OpenAI-shaped model)", "py", OPENAI_MODEL, {}, null, MESSAGES],
];

const JS_TRANSFORM = STREAM_VARIANTS.find((v) => v[1] === "js")[0];

// The floor answers with the model's own result, not the gateway's shape: a 200 is all it promises.
const checkedAs = (kind, endpoint) => (kind === "floor" ? { ...endpoint, check: (r) => r.status === 200 } : endpoint);

async function endpointRun(base, endpoint, seconds, pid) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(endpoint.path, base).href;
  const latencies = [];
  let errors = 0;
  let failed = null;
  for (let warm = now() + 300; now() < warm;) await send(agent, url, { headers: endpoint.headers, body: endpoint.body });
  const cpu0 = cpuSeconds(pid);
  for (const deadline = now() + seconds * 1000; now() < deadline;) {
    const t = now();
    const r = await send(agent, url, { headers: endpoint.headers, body: endpoint.body });
    latencies.push(now() - t);
    if (endpoint.check && !endpoint.check(r)) {
      errors++;
      failed ??= r;
    }
  }
  const cpu = cpuSeconds(pid) - cpu0;
  agent.destroy();
  // A figure taken over failing answers times an error path: no table is better than that one.
  if (errors) throw new Error(`${url}: ${errors} of ${latencies.length} answers failed the check, e.g. ${failed.status} ${failed.body.toString().slice(0, 200)}`);
  return { requests: latencies.length, p50_ms: round(median(latencies)), cpu_ms_per_request: round((cpu * 1000) / latencies.length) };
}

function streamBody(model, tokens, extra) {
  const words = Array.from({ length: tokens + 20 }, (_, i) => `w${i}`).join(" ");
  return jsonBody({ model, messages: [{ role: "user", content: words }], max_tokens: tokens, stream: true, ...extra });
}

// The text events of a stream, and whether it ended as its API ends one.
function streamEvents(text, path) {
  const data = text.split("\n\n").map((e) => e.slice(e.indexOf("data: ") + 6)).filter((d) => d.startsWith("{")).map((d) => JSON.parse(d));
  if (path === MESSAGES) return { content: data.filter((e) => e.delta?.type === "text_delta" && e.delta.text).length, ended: text.includes("event: message_stop") };
  return { content: data.filter((c) => c.choices?.[0]?.delta?.content).length, ended: text.endsWith("data: [DONE]\n\n") };
}

async function streamCpu(base, model, tokens, extra, expectRelay, pid, count, path = CHAT) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(path, base).href;
  const body = streamBody(model, tokens, extra);
  const check = (r) => {
    const text = r.body.toString();
    const { content, ended } = streamEvents(text, path);
    if (r.status !== 200 || !ended || content !== tokens) throw new Error(`stream of ${model} at ${path}: ${r.status}, ${content} of ${tokens} content events: ${text.slice(0, 200)}`);
    if (expectRelay && r.headers["x-stream-relay"] !== expectRelay) throw new Error(`expected X-Stream-Relay ${expectRelay}, got ${r.headers["x-stream-relay"]}`);
  };
  for (let i = 0; i < 3; i++) check(await send(agent, url, { headers: AUTH, body }));
  const cpu0 = cpuSeconds(pid);
  const started = now();
  for (let i = 0; i < count; i++) check(await send(agent, url, { headers: AUTH, body }));
  const cpu = cpuSeconds(pid) - cpu0;
  const wall = now() - started;
  agent.destroy();
  return { cpu_ms: (cpu * 1000) / count, wall_ms: wall / count };
}

// A Python variant runs only where the gateway takes the path it names (its X-Stream-Relay): since
// issue 29 chat.passthrough_safe is off, so the gateway re-frames every stream and the pass-through
// rows would time the transform under another name. The others are noted under the table.
async function variantsTaken(urls, skipped) {
  const taken = [];
  for (const variant of STREAM_VARIANTS) {
    const [label, kind, model, extra, relay] = variant;
    const r = relay ? await send(undefined, new URL(CHAT, urls[kind]).href, { headers: AUTH, body: streamBody(model, 20, extra) }) : null;
    if (!relay || r.headers["x-stream-relay"] === relay) taken.push(variant);
    else {
      skipped.push({ label, relay: r.headers["x-stream-relay"] ?? null });
      log(`  not run: ${label} (the gateway answers X-Stream-Relay: ${r.headers["x-stream-relay"]})`);
    }
  }
  return taken;
}

// --- the instance ----------------------------------------------------------------------------------

// The workers of one workerd (bench/config.mjs), by the names the results give them: "usage", the
// gateway as wrangler.toml deploys it (usage in the local D1); "py", accounting off, the
// like-for-like with the JS worker; "stand-in" and "budget", accounting on against the D1 stand-in,
// the second with a daily cap on the key; "empty" and "floor", the Python floors.
const WORKERS = {
  usage: "gateway", py: "gateway-unmetered", "stand-in": "gateway-stand-in", budget: "gateway-budget",
  js: "js", empty: "py-empty", floor: "gateway-floor", ...(BASELINE ? { base: "gateway-baseline" } : {}),
};

// --- report ----------------------------------------------------------------------------------------

function tables(r) {
  const lines = [];
  lines.push(`### CPU per request, non-streamed (${r.runtime} runtime; concurrency 1, ${SECONDS} s per step, median of ${r.rounds} rounds)`, "");
  const b = BASELINE ? " Python before p50 ms |" : "";
  const bc = BASELINE ? " Python before CPU ms/req |" : "";
  lines.push(`| endpoint | JS p50 ms |${b} Python p50 ms | empty Python handler p50 ms | **Python ÷ empty** | JS CPU ms/req |${bc} Python CPU ms/req | empty handler CPU ms/req | Python CPU ÷ JS | **Python CPU ÷ empty** |`);
  lines.push(`| --- | --- |${BASELINE ? " --- |" : ""} --- | --- | --- | --- |${BASELINE ? " --- |" : ""} --- | --- | --- | --- |`);
  for (const [name, e] of Object.entries(r.endpoints)) {
    const bp = BASELINE ? ` ${e.base.p50_ms} |` : "", bcp = BASELINE ? ` ${e.base.cpu_ms_per_request} |` : "";
    const spread = e.per_round_vs_empty.length > 1 ? ` (rounds: ${[...e.per_round_vs_empty].sort((a, b) => a - b).join(", ")})` : "";
    lines.push(`| ${ENDPOINTS[name].label} | ${e.js.p50_ms} |${bp} ${e.py.p50_ms} | ${r.empty.p50_ms} | **${ratio(e.py.p50_ms, r.empty.p50_ms)}**${spread} | ${e.js.cpu_ms_per_request} |${bcp} ${e.py.cpu_ms_per_request} | ${r.empty.cpu_ms_per_request} | ${ratio(e.py.cpu_ms_per_request, e.js.cpu_ms_per_request)} | **${ratio(e.py.cpu_ms_per_request, r.empty.cpu_ms_per_request)}** |`);
  }
  if (r.rounds > 1) lines.push("", "In brackets: Python p50 ÷ the empty handler's p50 within each round.");
  lines.push("", `### What usage accounting costs (${r.runtime} runtime; the same steps, median of ${r.rounds} rounds)`, "");
  lines.push("| endpoint | accounting off: CPU ms/req | on, local D1: CPU ms/req | on, D1 stand-in: CPU ms/req | **added by accounting** | budgeted key, stand-in: CPU ms/req | **added with a budget** | p50 ms off / on (local D1) / budgeted |");
  lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [name, e] of Object.entries(r.endpoints)) {
    const added = (kind) => round(e[kind].cpu_ms_per_request - e.py.cpu_ms_per_request, 3);
    const spread = (kind) => { const d = e.per_round_added[kind]; return d.length > 1 ? ` (rounds: ${[...d].sort((a, b) => a - b).join(", ")})` : ""; };
    lines.push(`| ${ENDPOINTS[name].label} | ${e.py.cpu_ms_per_request} | ${e.usage.cpu_ms_per_request} | ${e["stand-in"].cpu_ms_per_request} | **${added("stand-in")}**${spread("stand-in")} | ${e.budget.cpu_ms_per_request} | **${added("budget")}**${spread("budget")} | ${e.py.p50_ms} / ${e.usage.p50_ms} / ${e.budget.p50_ms} |`);
  }
  lines.push("", "\"Added\" is the CPU per request over the same gateway with accounting off, in the same workerd and round. The stand-in " +
    "(bench/d1-stand-in.mjs) answers every statement at once: what is left is the gateway's own accounting work (the meter, the " +
    "settlement registered with waitUntil, its statement, the FFI crossings), which is what the platform counts against the worker; " +
    "the local-D1 column adds Miniflare's SQLite, which on Cloudflare runs in D1, not in the worker. The budgeted key holds a " +
    "reservation (one more statement, awaited) before each AI call.");
  lines.push("", `### The floor of a Python answer (${r.runtime} runtime; the same steps, median of ${r.rounds} rounds)`, "");
  lines.push("| endpoint | empty handler p50 ms | **floor p50 ms** | floor ÷ empty | Python p50 ms | **Python ÷ floor** | floor CPU ms/req | Python CPU ms/req |");
  lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [name, e] of Object.entries(r.endpoints)) {
    lines.push(`| ${ENDPOINTS[name].label} | ${r.empty.p50_ms} | **${e.floor.p50_ms}** | ${ratio(e.floor.p50_ms, r.empty.p50_ms)} | ${e.py.p50_ms} | **${ratio(e.py.p50_ms, e.floor.p50_ms)}** | ${e.floor.cpu_ms_per_request} | ${e.py.cpu_ms_per_request} |`);
  }
  lines.push("", "The floor (bench/profile/floor.py) is the least any Python worker does for these answers: read the body (one await), " +
    "json.loads, one `env.AI.run` with a converted object (one await), the model's answer serialised by `Response.json`, " +
    "with the gateway's own event-loop scheduler. Everything the gateway adds (auth, validation against the model's contract, " +
    "the OpenAI/DeepLX shape, usage, timeouts, CORS) is the gap between it and the Python column.");
  lines.push("", `### CPU of streamed answers (${r.runtime} runtime; ${STREAMS} streams per size and variant, one at a time, median of ${r.rounds} rounds)`, "");
  lines.push("| variant | CPU of a 20-token stream ms | **CPU of a 500-token stream ms** | the same minus the floor ms | **CPU per chunk µs** | per chunk ÷ JS transform | per chunk minus the floor µs | wall time of a 500-token stream ms |");
  lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
  if (!Object.keys(r.streams).length) return lines.join("\n");
  const jsChunk = r.streams[JS_TRANSFORM].per_chunk_us;
  // The floor: the JS worker handing the emulator's stream on untouched, i.e. the emulator making
  // the events and workerd's HTTP work, which the platform would not count against the worker.
  const floor = r.streams[STREAM_VARIANTS.find((v) => v[1] === "js" && v[2] === OPENAI_MODEL)[0]];
  for (const [label] of STREAM_VARIANTS) {
    const s = r.streams[label];
    if (!s) continue;
    const spread = s.per_round_vs_js.length > 1 ? ` (rounds: ${[...s.per_round_vs_js].sort((a, b) => a - b).join(", ")})` : "";
    lines.push(`| ${label} | ${s.cpu_20_ms} | **${s.cpu_500_ms}** | ${round(s.cpu_500_ms - floor.cpu_500_ms, 2)} | **${s.per_chunk_us}** | ${ratio(s.per_chunk_us, jsChunk)}${spread} | ${round(s.per_chunk_us - floor.per_chunk_us, 1)} | ${s.wall_500_ms} |`);
  }
  lines.push("", "CPU is the workerd process's (utime + stime) over streams made one at a time, so it includes the AI emulator producing the events and workerd's HTTP work; " +
    "\"minus the floor\" subtracts the JS pass-through row (the emulator + HTTP with a worker that does nothing per chunk): the estimate of what the platform would count against the worker. " +
    "Per chunk: (CPU of a 500-event stream − CPU of a 20-event stream) / 480; in brackets, the same ratio to the JS transform within each round.");
  for (const { label, relay } of r.raw.skipped) lines.push("", `Not run: ${label}. The gateway answers these streams with X-Stream-Relay: ${relay} (chat.passthrough_safe is off).`);
  return lines.join("\n");
}

async function main() {
  const started = new Date();
  log(`starting workerd (${RUNTIME} runtime): the gateway, the JS worker, the empty Python handler, the AI emulator`);
  const instance = await startInstance(WORKERS, { runtime: RUNTIME, baseline: BASELINE });
  const rounds = Number(option("--rounds", QUICK ? 1 : 3));
  const raw = { endpoints: {}, empty: [], streams: {}, skipped: [] };
  try {
    // Warm every worker and path first (imports, first-call costs), so round 1 measures warm code too.
    for (const endpoint of Object.values(ENDPOINTS)) for (const kind of KINDS) await endpointRun(instance.urls[kind], checkedAs(kind, endpoint), QUICK ? 0.5 : 1.5, instance.pid);
    await endpointRun(instance.urls.empty, { path: "/", headers: {}, body: ENDPOINTS.chat.body }, 0.5, instance.pid);
    const variants = argv.includes("--no-streams") ? [] : await variantsTaken(instance.urls, raw.skipped);
    for (let round_ = 0; round_ < rounds; round_++) {
      for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
        raw.endpoints[name] ??= {};
        for (const kind of KINDS) (raw.endpoints[name][kind] ??= []).push(await endpointRun(instance.urls[kind], checkedAs(kind, endpoint), SECONDS, instance.pid));
      }
      raw.empty.push(await endpointRun(instance.urls.empty, { path: "/", headers: {}, body: ENDPOINTS.chat.body, check: (r) => r.status === 200 }, SECONDS, instance.pid));
      for (const [label, kind, model, extra, relay, path] of variants) {
        const small = await streamCpu(instance.urls[kind], model, 20, extra, relay, instance.pid, STREAMS * 2, path);
        const large = await streamCpu(instance.urls[kind], model, 500, extra, relay, instance.pid, STREAMS, path);
        (raw.streams[label] ??= []).push({ small, large });
      }
      log(`  round ${round_ + 1} of ${rounds} done`);
    }
  } finally {
    await instance.dispose();
  }
  const med = (runs, field) => round(median(runs.map((x) => x[field])));
  const perChunk = (x) => ((x.large.cpu_ms - x.small.cpu_ms) * 1000) / 480;
  const result = {
    command: `node bench/cpu.mjs${argv.length ? " " + argv.join(" ") : ""}`,
    date: started.toISOString(),
    runtime: RUNTIME,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, load_average: os.loadavg().map((x) => round(x, 2)), node: process.version },
    rounds,
    raw,
    endpoints: Object.fromEntries(Object.entries(raw.endpoints).map(([name, e]) => [name, {
      ...Object.fromEntries(KINDS.map((k) => [k, { p50_ms: med(e[k], "p50_ms"), cpu_ms_per_request: med(e[k], "cpu_ms_per_request") }])),
      // Python p50 ÷ the empty handler's p50 within each round.
      per_round_vs_empty: e.py.map((x, i) => round(x.p50_ms / raw.empty[i].p50_ms, 2)),
      // CPU per request over accounting off, within each round.
      per_round_added: Object.fromEntries(["stand-in", "budget"].map((k) => [k, e[k].map((x, i) => round(x.cpu_ms_per_request - e.py[i].cpu_ms_per_request, 3))])),
    }])),
    empty: { p50_ms: med(raw.empty, "p50_ms"), cpu_ms_per_request: med(raw.empty, "cpu_ms_per_request") },
    streams: Object.fromEntries(Object.entries(raw.streams).map(([label, runs]) => [label, {
      cpu_20_ms: round(median(runs.map((x) => x.small.cpu_ms)), 2),
      cpu_500_ms: round(median(runs.map((x) => x.large.cpu_ms)), 2),
      per_chunk_us: round(median(runs.map(perChunk)), 1),
      // Python ÷ JS transform within each round (the runs of one round are minutes apart at most).
      per_round_vs_js: runs.map((x, i) => round(perChunk(x) / perChunk(raw.streams[JS_TRANSFORM][i]), 2)),
      wall_500_ms: round(median(runs.map((x) => x.large.wall_ms)), 1),
    }])),
  };
  const table = tables(result);
  console.log(table);
  if (!argv.includes("--no-write")) {
    fs.mkdirSync(path.join(BENCH, "results"), { recursive: true });
    fs.writeFileSync(path.join(BENCH, `results/cpu-${RUNTIME}.json`), JSON.stringify(result, null, 2) + "\n");
    if (!QUICK) {
      const file = path.join(BENCH, "RESULTS.md");
      const begin = `<!-- cpu:${RUNTIME}:begin -->`, end = `<!-- cpu:${RUNTIME}:end -->`;
      const section = [begin, "", `Made with \`${result.command}\` on ${result.date.slice(0, 16).replace("T", " ")} UTC (${result.machine.cpus} × ${result.machine.cpu_model}, ` +
        `load average ${result.machine.load_average.join(" / ")} at the end).`, "", table, "", end].join("\n");
      let md = fs.readFileSync(file, "utf8");
      md = md.includes(begin) ? md.slice(0, md.indexOf(begin)) + section + md.slice(md.indexOf(end) + end.length) : md.trimEnd() + "\n\n" + section + "\n";
      fs.writeFileSync(file, md);
    }
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
