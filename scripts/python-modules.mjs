// The worker's `python_modules/`: what the production runtime imports besides `src/`.
//
// From compatibility date 2026-04-21 the runtime imports the `workers` SDK from the upload's own
// `python_modules/` before src/entry.py runs, so a worker uploaded without it dies at startup
// (`ModuleNotFoundError: No module named 'workers'`). `pywrangler` vendors it; offline it cannot
// (it downloads a Pyodide cross-build environment), so this installs the exact wheel uv.lock pins
// (version and sha256) with uv or pip into `python_modules/` (git-ignored). wrangler then uploads
// it, and the local production runtime loads the same files (`vendoredModules`).

import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// What the worker needs at run time: only the runtime SDK (the worker has no PyPI dependencies).
const VENDORED = ["workers-runtime-sdk"];

/** `{name, version, hash}` of a package as uv.lock pins it (the wheel's sha256). */
export function lockedPackage(name, lockFile = path.join(ROOT, "uv.lock")) {
  const lock = fs.readFileSync(lockFile, "utf8");
  for (const block of lock.split(/\n(?=\[\[package\]\])/)) {
    if (!block.includes(`\nname = "${name}"\n`)) continue;
    const version = block.match(/\nversion = "([^"]+)"/)?.[1];
    const hash = block.match(/\{ url = "[^"]+\.whl", hash = "(sha256:[0-9a-f]+)"/)?.[1];
    if (version && hash) return { name, version, hash };
  }
  throw new Error(`${name} is not pinned with a wheel in uv.lock`);
}

function stampOf(packages) {
  return packages.map((p) => `${p.name}==${p.version} ${p.hash}`).join("\n") + "\n";
}

function install(requirements, target) {
  const uv = spawnSync("uv", ["--version"], { encoding: "utf8" });
  const [command, args] =
    uv.status === 0
      ? ["uv", ["pip", "install", "--quiet", "--no-deps", "--require-hashes", "--target", target, "-r", requirements]]
      : ["python3", ["-m", "pip", "install", "--quiet", "--no-deps", "--require-hashes", "--target", target, "-r", requirements]];
  const result = spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status})`);
}

/** Makes `python_modules/` hold exactly the locked packages; a no-op when it already does. */
export function vendorPythonModules(root = ROOT) {
  const packages = VENDORED.map((name) => lockedPackage(name, path.join(root, "uv.lock")));
  const target = path.join(root, "python_modules");
  // Beside, not inside: wrangler uploads every file in python_modules/.
  const stampFile = path.join(root, ".wrangler", "python_modules.vendored");
  const stamp = stampOf(packages);
  if (fs.existsSync(target) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, "utf8") === stamp) return target;

  // Installed beside, then swapped in, so a concurrent reader never sees half a directory.
  const staging = fs.mkdtempSync(path.join(root, ".python_modules-"));
  const requirements = path.join(os.tmpdir(), `requirements-${crypto.randomUUID()}.txt`);
  try {
    fs.writeFileSync(requirements, packages.map((p) => `${p.name}==${p.version} --hash=${p.hash}`).join("\n") + "\n");
    install(requirements, staging);
    for (const junk of [".lock", "bin"]) fs.rmSync(path.join(staging, junk), { recursive: true, force: true });
    const old = `${target}.old-${process.pid}`;
    if (fs.existsSync(target)) fs.renameSync(target, old);
    fs.renameSync(staging, target);
    fs.rmSync(old, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(stampFile), { recursive: true });
    fs.writeFileSync(stampFile, stamp);
  } finally {
    fs.rmSync(requirements, { force: true });
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

function filesUnder(dir) {
  const found = [];
  const walk = (current) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else found.push(path.relative(dir, full).replaceAll(path.sep, "/"));
    }
  };
  walk(dir);
  return found.sort();
}

/**
 * The vendored files as wrangler uploads them (wrangler's findAdditionalModules): every file a
 * `Data` module named `python_modules/<path>`, except the SDK's `workers/*.js`, which are ES
 * modules; `*.pyc` excluded (wrangler's default `python_modules.exclude`).
 */
export function vendoredModules(dir = path.join(ROOT, "python_modules")) {
  return filesUnder(dir)
    .filter((name) => !name.endsWith(".pyc"))
    .map((name) => ({
      name: `python_modules/${name}`,
      type: name.startsWith("workers/") && /\.(m?js|cjs)$/.test(name) ? "ESModule" : "Data",
      file: path.join(dir, name),
    }));
}
