// The benchmarked workerd in one place: the Miniflare configuration of the gateway and of what it is
// measured against (the JS worker, the Python probes, the D1 stand-in, the one AI binding), and
// starting and stopping an instance of it. bench/cpu.mjs and every phase of bench/run.mjs use it.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Miniflare } from "../scripts/local/runtimes.mjs";
import { applyMigrations, inlineImport, localConfig, useRuntime } from "../scripts/local/serve.mjs";
import { BENCH, ROOT, now, workerdPids } from "./common.mjs";

export const KEY = "sk-bench";
export const HOST = "127.0.0.1";
export const AUTH = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

/** The environment `localConfig()` (scripts/local/serve.mjs) reads: the bench key, local state in `stateDir`. */
export function gatewayEnv(stateDir, extra = {}) {
  return { API_KEYS: KEY, TRANSLATE_PASSWORD: KEY, LOCAL_STATE_DIR: stateDir, PORT: "0", HOST, ...extra };
}

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

const esModule = (file) => ({ type: "ESModule", path: file, contents: fs.readFileSync(file, "utf8") });
const pythonModule = (file, asPath = file, contents = fs.readFileSync(file, "utf8")) => ({ type: "PythonModule", path: asPath, contents });

/** The gateway's Python modules from another checkout (`git archive <commit> src | tar -x -C DIR`),
 * main module first, under the same names, so the same imports resolve. */
function baselineModules(dir, gateway) {
  const srcDir = path.join(path.resolve(dir), "src");
  const files = [];
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? e.name !== "__pycache__" && walk(path.join(d, e.name)) : e.name.endsWith(".py") && files.push(path.join(d, e.name))));
  walk(srcDir);
  const main = path.join(srcDir, path.relative(gateway.modulesRoot, gateway.modules[0].path));
  files.sort((a, b) => (a === main ? -1 : b === main ? 1 : 0));
  const sdk = gateway.modules.filter((m) => m.path.includes("python_modules")).map((m) => ({ ...m, path: path.join(srcDir, path.relative(gateway.modulesRoot, m.path)) }));
  return { modulesRoot: srcDir, modules: [...files.map((f) => pythonModule(f)), ...sdk] };
}

/**
 * The Miniflare configuration of the workers `kinds` names (each at most once), plus what they
 * need (the D1 stand-in, the AI binding):
 *   gateway            the gateway as wrangler.toml deploys it (usage recorded in the local D1)
 *   gateway-unmetered  the same with usage accounting off: the like-for-like with the JS worker
 *   gateway-stand-in   accounting on against bench/d1-stand-in.mjs, a D1 that answers at once (the
 *                      local D1's own CPU left out: what the platform counts against the worker)
 *   gateway-budget     the same with a daily cap on the key (a reservation before each AI call)
 *   gateway-floor      bench/profile/floor.py as the main module beside the gateway's modules
 *   gateway-probe      the gateway under bench/profile/probe_entry.py (legacy runtime)
 *   gateway-baseline   the unmetered gateway with the Python modules of `baseline`/src
 *   js, js-probe       bench/js-worker.mjs, bench/profile/js-probe.mjs
 *   py-empty, py-minimal  bench/profile/empty.py, minimal.py, each alone
 * The AI binding forwards `[bench:upstream]` calls to `upstream` (bench/upstream.mjs) when given.
 */
export function benchConfig(kinds, { runtime = "legacy", stateDir, upstream = null, baseline = null }) {
  const base = localConfig(gatewayEnv(stateDir), runtime);
  const gateway = base.workers[0];
  const ai = { AI: { scriptName: "bench-ai", bindings: upstream ? { BENCH_UPSTREAM: upstream } : {} } };
  const direct = [{ host: HOST, port: 0 }];
  const deployed = { ...gateway, wrappedBindings: { ...gateway.wrappedBindings, ...ai }, unsafeDirectSockets: direct };
  const unmetered = { ...deployed, name: "bench-gateway-unmetered", d1Databases: {} };
  const standIn = { ...unmetered, name: "bench-gateway-stand-in", wrappedBindings: { ...deployed.wrappedBindings, USAGE_DB: { scriptName: "bench-d1" } } };
  // A probe's source: module-level on_fetch on the legacy runtime; on newer dates also a
  // WorkerEntrypoint whose fetch runs `body`.
  const probeSource = (file, body) => fs.readFileSync(file, "utf8") + (runtime === "legacy" ? "" : [
    "",
    "from workers import WorkerEntrypoint",
    "",
    "",
    "class Default(WorkerEntrypoint):",
    "    async def fetch(self, request):",
    `        ${body}`,
    "",
  ].join("\n"));
  const pythonAlone = (name, file, body) => {
    const sdk = gateway.modules.filter((m) => m.path.includes("python_modules"));
    return {
      name, modulesRoot: path.dirname(file),
      modules: [pythonModule(file, file, probeSource(file, body)), ...sdk.map((m) => ({ ...m, path: path.join(path.dirname(file), path.relative(gateway.modulesRoot, m.path)) }))],
      compatibilityDate: gateway.compatibilityDate, compatibilityFlags: gateway.compatibilityFlags, bindings: { API_KEYS: KEY }, wrappedBindings: ai, unsafeDirectSockets: direct,
    };
  };
  const jsWorker = (name, file) => ({
    name, modulesRoot: path.dirname(file), modules: [esModule(file)],
    compatibilityDate: gateway.compatibilityDate, bindings: { API_KEYS: KEY, TRANSLATE_PASSWORD: KEY }, r2Buckets: { IMAGES: "bench-js-images" },
    wrappedBindings: ai, unsafeDirectSockets: direct,
  });
  const floorFile = path.join(BENCH, "profile/floor.py");
  const probeEntry = path.join(BENCH, "profile/probe_entry.py");
  const workers = {
    gateway: () => deployed,
    "gateway-unmetered": () => unmetered,
    "gateway-stand-in": () => standIn,
    "gateway-budget": () => ({ ...standIn, name: "bench-gateway-budget", bindings: { ...deployed.bindings, KEY_BUDGETS: "*=1000000000" } }),
    // It borrows the gateway's event-loop scheduler, so only what the gateway does on top of it differs.
    "gateway-floor": () => ({ ...unmetered, name: "bench-gateway-floor", modules: [pythonModule(floorFile, path.join(gateway.modulesRoot, "bench_floor.py"), probeSource(floorFile, "return await on_fetch(request, self.env)")), ...gateway.modules.slice(1)] }),
    // Named as if it sat in src/, beside the gateway's own modules.
    "gateway-probe": () => ({ ...deployed, name: "bench-gateway-probe", modules: [pythonModule(probeEntry, path.join(gateway.modulesRoot, "bench_probe_entry.py")), ...gateway.modules] }),
    "gateway-baseline": () => ({ ...unmetered, name: "bench-gateway-baseline", ...baselineModules(baseline, gateway) }),
    js: () => jsWorker("bench-js", path.join(BENCH, "js-worker.mjs")),
    "js-probe": () => jsWorker("bench-js-probe", path.join(BENCH, "profile/js-probe.mjs")),
    "py-empty": () => pythonAlone("bench-py-empty", path.join(BENCH, "profile/empty.py"), "return Response.new('{\"ok\":true}')"),
    "py-minimal": () => pythonAlone("bench-py-minimal", path.join(BENCH, "profile/minimal.py"), "return await on_fetch(request, self.env)"),
  };
  const chosen = kinds.map((kind) => {
    if (!workers[kind]) throw new Error(`no bench worker "${kind}"; there are ${Object.keys(workers).join(", ")}`);
    return workers[kind]();
  });
  const names = Object.fromEntries(kinds.map((kind, i) => [kind, chosen[i].name]));
  const extra = [];
  if (chosen.some((w) => w.wrappedBindings?.USAGE_DB)) extra.push({ name: "bench-d1", modulesRoot: BENCH, modules: [esModule(path.join(BENCH, "d1-stand-in.mjs"))] });
  extra.push(aiBindingModule());
  return { config: { ...base, workers: [...chosen, ...extra] }, names };
}

/** The workers bench/run.mjs's phases ask for, by the names its results give them. */
const RUN_WORKERS = { py: "gateway", js: "js", "py-probe": "gateway-probe", "py-empty": "py-empty", "py-minimal": "py-minimal", "js-probe": "js-probe" };
export const runWorkers = (...aliases) => Object.fromEntries(aliases.map((alias) => [alias, RUN_WORKERS[alias]]));

/**
 * A workerd holding `workers` ({ alias: kind } of benchConfig's kinds), each on its own port.
 * `urls` and `names` are by alias; `pid` is the workerd process; `started` dates `new Miniflare()`
 * with the migrations' time left out, `readyMs` is until Miniflare was ready.
 */
export async function startInstance(workers, { runtime = "legacy", upstream = null, baseline = null, inspector = false } = {}) {
  useRuntime(runtime);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-bench-"));
  const { config, names: byKind } = benchConfig([...new Set(Object.values(workers))], { runtime, stateDir, upstream, baseline });
  if (inspector) config.inspectorPort = 0;
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
  const names = Object.fromEntries(Object.entries(workers).map(([alias, kind]) => [alias, byKind[kind]]));
  const urls = {};
  for (const [alias, name] of Object.entries(names)) urls[alias] = (await mf.unsafeGetDirectURL(name)).href;
  const pid = workerdPids().find((p) => !before.has(p));
  return {
    mf, urls, pid, started, readyMs, names,
    async dispose() {
      await mf.dispose();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
