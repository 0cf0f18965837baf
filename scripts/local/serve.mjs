// `npm start`: runs the gateway offline in a real workerd, with the Workers AI
// emulator bound as AI and R2 simulated locally.
//
// Why not `wrangler dev`: `[ai]` is always remote there, and current workerd builds
// download a Pyodide bundle when a Python Worker starts, which cannot work offline.
// Two runtimes (scripts/local/runtimes.mjs): `legacy` (default; workerd 1.20241106 with
// embedded Pyodide 0.26, calls `on_fetch`) and `production` (`--runtime production` or
// GATEWAY_RUNTIME=production: wrangler's workerd with wrangler.toml's date and flags, the
// `Default(WorkerEntrypoint)` class and the vendored python_modules/, as deployed).
//
// Settings come from wrangler.toml (bindings, vars), then the local secrets file
// (.dev.vars), then the environment:
//   PORT (8787), HOST (127.0.0.1), API_KEYS, AI_EMULATOR_UPSTREAM (forward AI calls
//   over HTTP, for scripted tests), LOCAL_STATE_DIR (.wrangler/local: R2, D1 and cache data),
//   AI_EMULATOR_STRICT (default on; 0 turns off the emulator's contract validation),
//   GATEWAY_RUNTIME (legacy), PYODIDE_BUNDLE_DIR (the offline Pyodide kit, production only),
//   LOCAL_NO_D1=1 (run without the usage database: accounting off).
// The D1 migrations in migrations/ are applied to the local database at start, and
// recorded in `d1_migrations` the way `wrangler d1 migrations apply` does.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { vendoredModules, vendorPythonModules } from "../python-modules.mjs";
import { LEGACY_COMPATIBILITY_DATE, Miniflare, productionWorkerdPath, selectedRuntime } from "./runtimes.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DEV_API_KEY = "sk-local-dev";
// wrangler.toml flags the legacy workerd does not know (it refuses to start with them); the
// production runtime keeps them. enable_request_signal: request.signal fires when the client goes.
const LEGACY_UNKNOWN_FLAGS = ["enable_request_signal"];

function readDotenv(file) {
  if (!fs.existsSync(file)) return {};
  const vars = {};
  for (const line of fs.readFileSync(file, "utf8").split(/\r?\n/)) {
    const found = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (!found) continue;
    let value = found[2];
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    vars[found[1]] = value;
  }
  return vars;
}

function filesUnder(dir, keep) {
  const found = [];
  const walk = (current) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "__pycache__" && entry.name !== "python_modules") walk(full);
      } else if (keep(entry.name)) {
        found.push(full);
      }
    }
  };
  walk(dir);
  return found;
}

/**
 * The worker's modules, named as wrangler names them: the Python files of the entry's folder
 * (the entry first) and, on the production runtime, python_modules/ (vendored, as uploaded).
 * LOCAL_WORKER_BUNDLE names a `npm run deploy -- --dry-run --outdir D` folder to run instead.
 */
function workerModules(wrangler, runtime, env) {
  const bundle = env.LOCAL_WORKER_BUNDLE ? path.resolve(env.LOCAL_WORKER_BUNDLE) : null;
  if (bundle && runtime !== "production") throw new Error("LOCAL_WORKER_BUNDLE runs on the production runtime only");
  const root = bundle ?? path.dirname(path.join(ROOT, wrangler.main));
  const main = path.join(root, path.basename(wrangler.main));
  const modules = [main, ...filesUnder(root, (name) => name.endsWith(".py")).filter((file) => file !== main)].map((file) => ({
    type: "PythonModule",
    path: file,
    contents: fs.readFileSync(file, "utf8"),
  }));
  if (runtime === "production") {
    if (!bundle) vendorPythonModules(ROOT);
    for (const module of vendoredModules(path.join(bundle ?? ROOT, "python_modules"))) {
      const contents = fs.readFileSync(module.file);
      modules.push({ type: module.type, path: path.join(root, module.name), contents: module.type === "Data" ? contents : contents.toString("utf8") });
    }
  }
  return { root, modules };
}

// The emulator's source as one module (Miniflare refuses a wrapped binding made of several):
// each `import {...} from "./x.mjs"` in `file` is replaced by x.mjs's own source (the contract
// validator, the media generator), in a scope of its own so that their names cannot clash.
export function inlineImport(file) {
  const dir = path.dirname(file);
  return fs.readFileSync(file, "utf8").replace(/^import \{([^}]*)\} from "\.\/([\w.-]+\.mjs)";$/gm, (_, names, name) => {
    const source = fs.readFileSync(path.join(dir, name), "utf8").replace(/^export /gm, "");
    return `const {${names}} = (() => {\n${source}\nreturn {${names}};\n})();`;
  });
}

// Set with `wrangler secret put` in production; locally from .dev.vars or the environment.
const SECRET_NAMES = ["API_KEYS", "TRANSLATE_PASSWORD", "ADMIN_KEYS"];
// Tests only, never in wrangler.toml: TEST_CLOCK=true lets a request set the clock (X-Test-Now);
// IMAGE_FETCH_ALLOW_PRIVATE lets image_url fetches reach the tests' image servers on 127.0.0.1.
const TEST_ONLY_NAMES = ["TEST_CLOCK", "IMAGE_FETCH_ALLOW_PRIVATE"];
// Optional vars absent from wrangler.toml: routing every AI call through an AI Gateway.
const OPTIONAL_NAMES = ["AI_GATEWAY_ID", "AI_GATEWAY_CACHE_TTL", "AI_GATEWAY_SKIP_CACHE"];

export function localConfig(env = process.env, runtime = selectedRuntime([], env)) {
  const wrangler = parseToml(fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
  const { root: modulesRoot, modules } = workerModules(wrangler, runtime, env);

  const secrets = readDotenv(path.join(ROOT, ".dev.vars"));
  const bindings = { ...(wrangler.vars ?? {}), ...secrets };
  for (const [name, value] of Object.entries(env)) {
    // Any var from wrangler.toml, and any secret, can be overridden from the environment.
    if (name in (wrangler.vars ?? {}) || SECRET_NAMES.includes(name) || TEST_ONLY_NAMES.includes(name)
        || OPTIONAL_NAMES.includes(name)) bindings[name] = value;
  }
  if (bindings.API_KEYS === undefined) bindings.API_KEYS = DEV_API_KEY;

  const state = path.resolve(ROOT, env.LOCAL_STATE_DIR || ".wrangler/local");
  const aiBinding = wrangler.ai?.binding ?? "AI";
  const emulator = path.join(ROOT, "scripts/local/ai-emulator.mjs");
  const validator = path.join(ROOT, "scripts/local/contract-validate.mjs");
  const contracts = path.join(ROOT, "src/gateway/model_contracts.json");
  const modelCatalog = path.join(ROOT, "scripts/local/model-catalog.json");
  const r2 = Object.fromEntries((wrangler.r2_buckets ?? []).map((b) => [b.binding, b.bucket_name]));
  // Fault tests: LOCAL_R2_FAULTS=1 swaps every bucket for one whose operations all fail.
  const faults = env.LOCAL_R2_FAULTS ? path.join(ROOT, "scripts/local/r2-faults.mjs") : null;
  const wrapped = faults ? Object.fromEntries(Object.keys(r2).map((name) => [name, { scriptName: "r2-faults" }])) : {};
  const d1 = env.LOCAL_NO_D1 ? {} : Object.fromEntries((wrangler.d1_databases ?? []).map((d) => [d.binding, d.database_name]));
  // Fault tests: LOCAL_D1_FAULTS=<file> puts each database behind a wrapper that fails its
  // statements while that file says so (scripts/local/d1-faults.mjs).
  const d1Faults = env.LOCAL_D1_FAULTS && !env.LOCAL_NO_D1 ? path.join(ROOT, "scripts/local/d1-faults.mjs") : null;
  const d1FaultFile = env.LOCAL_D1_FAULTS;
  const d1Wrapped = d1Faults ? Object.fromEntries(Object.keys(d1).map((name) => [name, { scriptName: `d1-faults-${name}` }])) : {};

  return {
    host: env.HOST || "127.0.0.1",
    port: Number(env.PORT || 8787),
    r2Persist: path.join(state, "r2"),
    d1Persist: path.join(state, "d1"),
    cachePersist: path.join(state, "cache"),
    workers: [
      {
        name: wrangler.name,
        modulesRoot,
        modules,
        compatibilityDate: runtime === "production" ? wrangler.compatibility_date : LEGACY_COMPATIBILITY_DATE,
        compatibilityFlags: (wrangler.compatibility_flags ?? ["python_workers"])
          .filter((flag) => runtime === "production" || !LEGACY_UNKNOWN_FLAGS.includes(flag)),
        bindings,
        r2Buckets: faults ? {} : r2,
        d1Databases: d1Faults ? {} : d1,
        // The Cache API (caches.default), for the translation cache; Miniflare's default, said here.
        cache: true,
        wrappedBindings: {
          ...wrapped,
          ...d1Wrapped,
          [aiBinding]: {
            scriptName: "workers-ai-emulator",
            bindings: {
              ...(env.AI_EMULATOR_UPSTREAM ? { UPSTREAM: env.AI_EMULATOR_UPSTREAM } : {}),
              // The published model contracts: every run() is validated against them (error 5006),
              // unless AI_EMULATOR_STRICT=0.
              CONTRACTS: JSON.parse(fs.readFileSync(contracts, "utf8")),
              STRICT: env.AI_EMULATOR_STRICT !== "0",
              // The catalog (exported from src/gateway/catalog.py): models(), known and retired ids.
              CATALOG: JSON.parse(fs.readFileSync(modelCatalog, "utf8")),
            },
          },
        },
      },
      {
        name: "workers-ai-emulator",
        modulesRoot: path.dirname(emulator),
        // A wrapped binding must be one module: the validator and the media generator are inlined.
        modules: [{ type: "ESModule", path: emulator, contents: inlineImport(emulator) }],
      },
      ...(faults
        ? [{ name: "r2-faults", modulesRoot: path.dirname(faults), modules: [{ type: "ESModule", path: faults, contents: fs.readFileSync(faults, "utf8") }] }]
        : []),
      ...Object.entries(d1Faults ? d1 : {}).map(([name, database]) => ({
        name: `d1-faults-${name}`,
        modulesRoot: path.dirname(d1Faults),
        modules: [{ type: "ESModule", path: d1Faults, contents: fs.readFileSync(d1Faults, "utf8") }],
        d1Databases: { DB: database },
        serviceBindings: { FAULTS: async () => new Response(fs.existsSync(d1FaultFile) ? fs.readFileSync(d1FaultFile, "utf8") : "") },
      })),
    ],
  };
}

// A migration file's statements: split at the `;` that ends a line, except inside a trigger's
// BEGIN ... END (whose own statements end in `;` too), comments dropped.
export function sqlStatements(sql) {
  const statements = [];
  let current = [];
  let inBody = false;
  for (const raw of sql.split("\n")) {
    const line = raw.replace(/--.*$/, "").trimEnd();
    if (!line.trim()) continue;
    current.push(line);
    if (/^\s*BEGIN\s*$/i.test(line) || /\bBEGIN$/i.test(line.trim())) inBody = true;
    const ends = line.endsWith(";") && (!inBody || /^\s*END\s*;$/i.test(line));
    if (ends) {
      if (inBody) inBody = false;
      statements.push(current.join("\n").replace(/;\s*$/, "").trim());
      current = [];
    }
  }
  if (current.join("").trim()) statements.push(current.join("\n").trim());
  return statements;
}

// Applies the not yet applied files of migrations/ to each local D1 database, in name order,
// recording them in `d1_migrations` as `wrangler d1 migrations apply --local` would.
export async function applyMigrations(mf, config) {
  const wrangler = parseToml(fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
  const applied = [];
  // The gateway's own databases, or the fault wrapper's (which holds them as `DB`).
  const databases = config.workers.flatMap((worker) => Object.entries(worker.d1Databases ?? {}).map(([binding, name]) => ({ worker: worker.name, binding, name })));
  for (const { worker, binding, name } of databases) {
    const entry = (wrangler.d1_databases ?? []).find((d) => d.database_name === name);
    const dir = path.join(ROOT, entry?.migrations_dir ?? "migrations");
    if (!fs.existsSync(dir)) continue;
    const db = await mf.getD1Database(binding, worker);
    await db.exec(
      "CREATE TABLE IF NOT EXISTS d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);",
    );
    const done = new Set((await db.prepare("SELECT name FROM d1_migrations").all()).results.map((row) => row.name));
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
      if (done.has(file)) continue;
      const statements = sqlStatements(fs.readFileSync(path.join(dir, file), "utf8"));
      await db.batch([...statements.map((s) => db.prepare(s)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(file)]);
      applied.push(`${entry?.binding ?? binding}: ${file}`);
    }
  }
  return applied;
}

/** Points Miniflare at the runtime's workerd (read when Miniflare spawns it). */
export function useRuntime(runtime, env = process.env) {
  if (runtime === "production") process.env.MINIFLARE_WORKERD_PATH = productionWorkerdPath(env);
  else delete process.env.MINIFLARE_WORKERD_PATH;
}

async function main() {
  const started = performance.now();
  const runtime = selectedRuntime();
  if (process.argv.includes("--prepare")) {
    // Makes the runtime's files (workerd, python_modules/) ready, starts nothing.
    if (runtime === "production") console.log(productionWorkerdPath(), vendorPythonModules(ROOT));
    return;
  }
  useRuntime(runtime);
  const config = localConfig(process.env, runtime);
  const mf = new Miniflare(config);
  const url = await mf.ready;
  for (const migration of await applyMigrations(mf, config)) console.log(`Applied D1 migration ${migration}`);
  const keys = config.workers[0].bindings.API_KEYS;
  console.log(`Gateway ready on ${url.origin} (${runtime} runtime; workerd started in ${Math.round(performance.now() - started)} ms)`);
  if (keys === DEV_API_KEY) console.log(`Local development key: ${DEV_API_KEY}`);
  if (process.env.AI_EMULATOR_UPSTREAM) console.log(`AI calls forwarded to ${process.env.AI_EMULATOR_UPSTREAM}`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await mf.dispose();
    process.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"]) {
    // Miniflare's own exit hook answers these with exit code 143/130 before
    // dispose() has run; ours stops workerd first and exits 0.
    process.removeAllListeners(signal);
    process.on(signal, () => stop(signal));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
