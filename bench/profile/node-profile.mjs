// Where a request's Python time goes, timed with a clock that runs. Inside workerd the clock
// stands still while a request runs, so Python cannot be profiled there. This runs the gateway's
// own `serve()` in node's Pyodide (npm `pyodide`, the Pyodide 314 that production selects), with
// the AI emulator (scripts/local/ai-emulator.mjs) as the binding and node's Request and Response,
// and prints µs per request for the empty handler, the floor (bench/profile/floor.py) and the
// gateway, then the gateway's cProfile grouped by module and its costliest functions.
//
//   node bench/profile/node-profile.mjs [chat|translate|embeddings] [--requests N] [--top K] [--src DIR] [--accounting]
//
// --accounting: the gateway records usage, in bench/d1-stand-in.mjs (a D1 that answers at once),
// with a context whose waitUntil takes the deferred work (as on Workers).
//
// Node is not workerd: the absolute figures differ (no per-request isolate entry, node's own
// Request), but the Python, the Pyodide FFI and V8 are the same, so the split between them holds.
// cProfile roughly doubles the time it measures; the per-request figures are taken without it.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";
import { endpoints } from "../common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const positional = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));
// The requests bench/cpu.mjs and bench/run.mjs time, and the env a gateway keyed like theirs gets.
const KEY = "sk-bench";
const ENDPOINTS = endpoints(KEY);
const ENDPOINT = positional[0] ?? "chat";
if (!(ENDPOINT in ENDPOINTS)) {
  console.error(`usage: node bench/profile/node-profile.mjs [${Object.keys(ENDPOINTS).join("|")}] [--requests N] [--top K] [--src DIR]`);
  process.exit(2);
}
const endpoint = ENDPOINTS[ENDPOINT];
const emulator = (await import(path.join(ROOT, "scripts/local/ai-emulator.mjs"))).default;
globalThis.GATEWAY_ENV = { AI: emulator({}), API_KEYS: KEY, TRANSLATE_PASSWORD: KEY };
globalThis.GATEWAY_CTX = null;
if (argv.includes("--accounting")) {
  globalThis.GATEWAY_ENV.USAGE_DB = (await import(path.join(ROOT, "bench/d1-stand-in.mjs"))).default();
  globalThis.GATEWAY_CTX = { waitUntil: () => {} };
}
const url = new URL(endpoint.path, "http://gateway.local").href;
const init = { method: "POST", body: endpoint.body, headers: { ...endpoint.headers, "content-length": String(endpoint.body.length) } };
globalThis.makeRequest = () => new Request(url, init);

const pyodide = await loadPyodide();
const src = path.resolve(option("--src", path.join(ROOT, "src")));
for (const dir of [src, HERE]) {
  pyodide.FS.mkdirTree(dir);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: dir }, dir);
}
pyodide.globals.set("SRC", src);
pyodide.globals.set("HERE", HERE);
pyodide.globals.set("ENDPOINT", ENDPOINT);
pyodide.globals.set("REQUESTS", Number(option("--requests", 2000)));
pyodide.globals.set("TOP", Number(option("--top", 20)));
await pyodide.runPythonAsync(fs.readFileSync(path.join(HERE, "node_profile.py"), "utf8"));
// The gateway's AI timeouts leave 120 s timers behind; node would wait for them.
process.exit(0);
