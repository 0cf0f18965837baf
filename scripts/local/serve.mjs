// `npm start`: runs the gateway offline in a real workerd, with the Workers AI
// emulator bound as AI and R2 simulated locally.
//
// Why not `wrangler dev`: `[ai]` is always remote there, and current workerd builds
// download a Pyodide bundle when a Python Worker starts, which cannot work offline.
// The workerd builds up to 1.20241112 embed Pyodide; miniflare 3.20241106.1 (pinned
// in package.json as `miniflare-legacy`) brings one. Those builds only call the
// module-level `on_fetch`, which src/entry.py provides beside the modern entrypoint.
//
// Settings come from wrangler.toml (bindings, vars), then the local secrets file
// (.dev.vars), then the environment:
//   PORT (8787), HOST (127.0.0.1), API_KEYS, AI_EMULATOR_UPSTREAM (forward AI calls
//   over HTTP, for scripted tests), LOCAL_STATE_DIR (.wrangler/local: R2, D1 and cache data),
//   LOCAL_NO_D1=1 (run without the usage database: accounting off).
// The D1 migrations in migrations/ are applied to the local database at start, and
// recorded in `d1_migrations` the way `wrangler d1 migrations apply` does.

import { Miniflare } from "miniflare-legacy";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// The newest date the pinned workerd knows; production uses wrangler.toml's date.
const LEGACY_COMPATIBILITY_DATE = "2024-11-06";
export const DEV_API_KEY = "sk-local-dev";

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

function pythonModules(srcDir) {
  const modules = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "__pycache__") walk(full);
      } else if (entry.name.endsWith(".py")) {
        modules.push(full);
      }
    }
  };
  walk(srcDir);
  return modules;
}

// Set with `wrangler secret put` in production; locally from .dev.vars or the environment.
const SECRET_NAMES = ["API_KEYS", "TRANSLATE_PASSWORD", "ADMIN_KEYS"];
// Tests only, never in wrangler.toml: TEST_CLOCK=true lets a request set the clock (X-Test-Now).
const TEST_ONLY_NAMES = ["TEST_CLOCK"];

export function localConfig(env = process.env) {
  const wrangler = parseToml(fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
  const main = path.join(ROOT, wrangler.main);
  const srcDir = path.dirname(main);
  const modules = [main, ...pythonModules(srcDir).filter((file) => file !== main)].map((file) => ({
    type: "PythonModule",
    path: file,
    contents: fs.readFileSync(file, "utf8"),
  }));

  const secrets = readDotenv(path.join(ROOT, ".dev.vars"));
  const bindings = { ...(wrangler.vars ?? {}), ...secrets };
  for (const [name, value] of Object.entries(env)) {
    // Any var from wrangler.toml, and any secret, can be overridden from the environment.
    if (name in (wrangler.vars ?? {}) || SECRET_NAMES.includes(name) || TEST_ONLY_NAMES.includes(name)) bindings[name] = value;
  }
  if (bindings.API_KEYS === undefined) bindings.API_KEYS = DEV_API_KEY;

  const state = path.resolve(ROOT, env.LOCAL_STATE_DIR || ".wrangler/local");
  const aiBinding = wrangler.ai?.binding ?? "AI";
  const emulator = path.join(ROOT, "scripts/local/ai-emulator.mjs");
  const r2 = Object.fromEntries((wrangler.r2_buckets ?? []).map((b) => [b.binding, b.bucket_name]));
  // Fault tests: LOCAL_R2_FAULTS=1 swaps every bucket for one whose operations all fail.
  const faults = env.LOCAL_R2_FAULTS ? path.join(ROOT, "scripts/local/r2-faults.mjs") : null;
  const wrapped = faults ? Object.fromEntries(Object.keys(r2).map((name) => [name, { scriptName: "r2-faults" }])) : {};
  const d1 = env.LOCAL_NO_D1 ? {} : Object.fromEntries((wrangler.d1_databases ?? []).map((d) => [d.binding, d.database_name]));

  return {
    host: env.HOST || "127.0.0.1",
    port: Number(env.PORT || 8787),
    r2Persist: path.join(state, "r2"),
    d1Persist: path.join(state, "d1"),
    cachePersist: path.join(state, "cache"),
    workers: [
      {
        name: wrangler.name,
        modulesRoot: srcDir,
        modules,
        compatibilityDate: LEGACY_COMPATIBILITY_DATE,
        compatibilityFlags: wrangler.compatibility_flags ?? ["python_workers"],
        bindings,
        r2Buckets: faults ? {} : r2,
        d1Databases: d1,
        // The Cache API (caches.default), for the translation cache; Miniflare's default, said here.
        cache: true,
        wrappedBindings: {
          ...wrapped,
          [aiBinding]: {
            scriptName: "workers-ai-emulator",
            bindings: env.AI_EMULATOR_UPSTREAM ? { UPSTREAM: env.AI_EMULATOR_UPSTREAM } : {},
          },
        },
      },
      {
        name: "workers-ai-emulator",
        modulesRoot: path.dirname(emulator),
        modules: [{ type: "ESModule", path: emulator, contents: fs.readFileSync(emulator, "utf8") }],
      },
      ...(faults
        ? [{ name: "r2-faults", modulesRoot: path.dirname(faults), modules: [{ type: "ESModule", path: faults, contents: fs.readFileSync(faults, "utf8") }] }]
        : []),
    ],
  };
}

// Applies the not yet applied files of migrations/ to each local D1 database, in name order,
// recording them in `d1_migrations` as `wrangler d1 migrations apply --local` would.
export async function applyMigrations(mf, config) {
  const wrangler = parseToml(fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"));
  const applied = [];
  for (const [binding] of Object.entries(config.workers[0].d1Databases ?? {})) {
    const entry = (wrangler.d1_databases ?? []).find((d) => d.binding === binding);
    const dir = path.join(ROOT, entry?.migrations_dir ?? "migrations");
    if (!fs.existsSync(dir)) continue;
    const db = await mf.getD1Database(binding);
    await db.exec(
      "CREATE TABLE IF NOT EXISTS d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);",
    );
    const done = new Set((await db.prepare("SELECT name FROM d1_migrations").all()).results.map((row) => row.name));
    for (const name of fs.readdirSync(dir).filter((file) => file.endsWith(".sql")).sort()) {
      if (done.has(name)) continue;
      const sql = fs.readFileSync(path.join(dir, name), "utf8");
      const statements = sql.replace(/--[^\n]*/g, "").split(";").map((s) => s.trim()).filter(Boolean);
      await db.batch([...statements.map((s) => db.prepare(s)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(name)]);
      applied.push(`${binding}: ${name}`);
    }
  }
  return applied;
}

async function main() {
  const started = performance.now();
  const config = localConfig();
  const mf = new Miniflare(config);
  const url = await mf.ready;
  for (const migration of await applyMigrations(mf, config)) console.log(`Applied D1 migration ${migration}`);
  const keys = config.workers[0].bindings.API_KEYS;
  console.log(`Gateway ready on ${url.origin} (workerd started in ${Math.round(performance.now() - started)} ms)`);
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
