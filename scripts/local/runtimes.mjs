// The two Python Workers runtimes the local run (and the tests) can use, behind one Miniflare.
//
// - "legacy": workerd 1.20241106 from `miniflare-legacy`, which embeds Pyodide 0.26 and so
//   starts offline; it only calls the module-level `on_fetch`, and knows dates up to 2024-11-06.
// - "production": the workerd that wrangler brings (the one `wrangler deploy` targets), with
//   wrangler.toml's own compatibility date and flags, so `class Default(WorkerEntrypoint)` on the
//   Pyodide that date selects, plus the vendored `python_modules/` exactly as uploaded. That
//   workerd downloads its Pyodide bundle at start; offline it reads it from a kit directory
//   (PYODIDE_BUNDLE_DIR, else ../shared/modern-runtime beside the checkout): the kit's
//   prepare.sh makes a workerd that loads the kit's bundle.
//
// Both keep Miniflare 3's orchestration (wrapped AI binding = the one emulator, local R2).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(import.meta.url);

export const RUNTIMES = ["legacy", "production"];
export const LEGACY_COMPATIBILITY_DATE = "2024-11-06";

const productionWorkerd = createRequire(require.resolve("wrangler/package.json"))("workerd");

// Miniflare 3 clamps a worker's compatibility date to its own workerd's (2024-11-06). Raising
// that ceiling to the production workerd's lets the production run keep wrangler.toml's date; it
// must happen before Miniflare loads, hence the dynamic import below.
const miniflareRequire = createRequire(require.resolve("miniflare-legacy"));
const legacyWorkerdPath = miniflareRequire.resolve("workerd");
const legacyWorkerd = miniflareRequire(legacyWorkerdPath);
miniflareRequire.cache[legacyWorkerdPath].exports = {
  __esModule: true,
  default: legacyWorkerd.default,
  version: legacyWorkerd.version,
  compatibilityDate: productionWorkerd.compatibilityDate,
};
export const { Miniflare } = await import("miniflare-legacy");

/** The runtime named by `--runtime NAME` / `--runtime=NAME` in argv, else GATEWAY_RUNTIME, else legacy. */
export function selectedRuntime(argv = process.argv, env = process.env) {
  let name = env.GATEWAY_RUNTIME || "legacy";
  argv.forEach((arg, i) => {
    if (arg === "--runtime" && argv[i + 1]) name = argv[i + 1];
    else if (arg.startsWith("--runtime=")) name = arg.slice("--runtime=".length);
  });
  if (!RUNTIMES.includes(name)) throw new Error(`unknown runtime "${name}": use one of ${RUNTIMES.join(", ")}`);
  return name;
}

/** The offline Pyodide kit (a directory with prepare.sh and the bundle), or null. */
export function pyodideKit(env = process.env) {
  const candidates = env.PYODIDE_BUNDLE_DIR ? [env.PYODIDE_BUNDLE_DIR] : [path.resolve(ROOT, "../shared/modern-runtime")];
  return candidates.find((dir) => fs.existsSync(path.join(dir, "prepare.sh"))) ?? null;
}

/**
 * The workerd executable for the production runtime: the kit's offline-ready copy of wrangler's
 * workerd (made once, kept in .wrangler/runtime/), or wrangler's own workerd (downloads online).
 */
export function productionWorkerdPath(env = process.env) {
  const kit = pyodideKit(env);
  if (!kit) return productionWorkerd.default;
  const binary = productionWorkerd.default;
  const stamp = `${productionWorkerd.version} ${fs.statSync(binary).size} ${path.resolve(kit)}\n`;
  const dir = path.join(ROOT, ".wrangler", "runtime");
  const ready = path.join(dir, "workerd-offline");
  if (fs.existsSync(ready) && fs.readFileSync(path.join(dir, "stamp"), "utf8") === stamp) return ready;
  // prepare.sh writes absolute paths into workerd-offline, so it runs in place; the stamp,
  // written last, marks it complete (scripts/test.sh prepares it once before tests start gateways).
  fs.rmSync(dir, { recursive: true, force: true });
  const made = spawnSync("bash", [path.join(kit, "prepare.sh"), binary, dir], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`${kit}/prepare.sh failed:\n${made.stderr}`);
  fs.writeFileSync(path.join(dir, "stamp"), stamp);
  return ready;
}
