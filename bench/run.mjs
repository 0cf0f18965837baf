// Issue 8 benchmark: the Python gateway beside a minimal JS worker (bench/js-worker.mjs) on the
// same runtime (miniflare-legacy → workerd with embedded Pyodide), the same AI binding (the
// Workers AI emulator, answering at once), the same machine and the same run. Offline.
//
//   node bench/run.mjs            full run (~100 s on 2 cores)
//   node bench/run.mjs --quick    shorter phases, for trying it out (numbers are noisier)
//   options: --seconds S (per load phase, default 1.5), --no-write (print only),
//            --only load,streaming,memory,cold,profile (or --no-<phase>) to run some phases
//
// It prints the tables, writes bench/results/latest.json (git-ignored) and bench/RESULTS.md.
// bench/README.md explains the setup and how each number is taken. This file is the driver: each
// phase is a module of bench/phases/ (measure, its table, its targets) over the one workerd
// configuration of bench/config.mjs.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BENCH, ROOT, log, now, processMemory, round, tableWriter } from "./common.mjs";
import { HOST, runWorkers, startInstance } from "./config.mjs";
import { startUpstream } from "./upstream.mjs";
import * as cold from "./phases/cold-start.mjs";
import * as load from "./phases/load.mjs";
import * as memory from "./phases/memory.mjs";
import * as profile from "./phases/profile.mjs";
import * as streaming from "./phases/streaming.mjs";

// In the order they run and their tables print. `shared`: measured in the one instance the driver
// starts (the gateway + the JS worker); the others start their own. `key`: where results hold it.
const PHASES = {
  load: { ...load, key: "load", shared: true, title: "latency and throughput" },
  streaming: { ...streaming, key: "streaming", shared: true, title: "streaming" },
  memory: { ...memory, key: "memory", title: "memory (a fresh instance per worker)" },
  cold: { ...cold, key: "cold_start", title: "cold start (separate instances)" },
  profile: { ...profile, key: "profile", title: "profile (a second instance with probe workers)" },
};

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const QUICK = flag("--quick");
const ONLY = argv.includes("--only") ? argv[argv.indexOf("--only") + 1].split(",") : null;
const CHOSEN = Object.keys(PHASES).filter((p) => (ONLY ? ONLY.includes(p) : !flag(`--no-${p}`)));
const PHASE_SECONDS = option("--seconds", QUICK ? 0.5 : 1.5);
const WARMUP_SECONDS = QUICK ? 0.3 : 1;

function tables(results) {
  const lines = Object.values(PHASES).flatMap((phase) => (results[phase.key] ? phase.table(results[phase.key], results) : []));
  const { lines: targets, row, head } = tableWriter();
  targets.push("", "### Targets (issue 8)", "");
  head(["target", "measured", "met"]);
  for (const t of results.targets) row([t.target, t.measured, t.met ? "yes" : "**no**"]);
  return [...lines, ...targets].join("\n");
}

async function main() {
  const startedAt = new Date();
  const wall = now();
  const upstreamServer = await startUpstream();
  const upstream = `http://${HOST}:${upstreamServer.address().port}`;
  const results = {
    command: `node bench/run.mjs${argv.length ? " " + argv.join(" ") : ""}`,
    date: startedAt.toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, platform: `${os.type()} ${os.release()}` },
    runtime: { miniflare: JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/miniflare-legacy/package.json"), "utf8")).version, compatibility_date: "2024-11-06" },
    settings: { phase_seconds: PHASE_SECONDS, warmup_seconds: WARMUP_SECONDS, concurrency: load.CONCURRENCY, quick: QUICK },
  };

  const chosen = Object.entries(PHASES).filter(([name]) => CHOSEN.includes(name));
  const context = { upstream, settings: { quick: QUICK, seconds: PHASE_SECONDS, warmup: WARMUP_SECONDS } };
  if (chosen.some(([, phase]) => phase.shared)) {
    log("starting one Miniflare instance: the Python gateway + the JS worker + the AI emulator binding");
    const instance = await startInstance(runWorkers("py", "js"), { upstream });
    try {
      log(`  workerd pid ${instance.pid}, ready in ${Math.round(instance.readyMs)} ms; Python ${instance.urls.py}  JS ${instance.urls.js}`);
      const firstJs = await cold.firstAnswer(instance, "js");
      const firstPy = await cold.firstAnswer(instance, "py");
      results.instance = { ready_ms: instance.readyMs, first_answer_ms: { js: firstJs, py: firstPy }, workerd_rss_mib: processMemory(instance.pid).rss };
      log(`  first answers: JS ${Math.round(firstJs)} ms, Python ${Math.round(firstPy)} ms after start`);
      for (const [, phase] of chosen.filter(([, p]) => p.shared)) {
        log(phase.title);
        results[phase.key] = await phase.measure({ ...context, instance });
      }
    } finally {
      await instance.dispose();
    }
  }
  for (const [, phase] of chosen.filter(([, p]) => !p.shared)) {
    log(phase.title);
    results[phase.key] = await phase.measure(context);
  }
  upstreamServer.close();
  results.targets = Object.values(PHASES).flatMap((phase) => (results[phase.key] && phase.targets ? phase.targets(results[phase.key]) : []));
  results.total_seconds = round((now() - wall) / 1000, 1);

  const table = tables(results);
  console.log(table);
  if (!flag("--no-write")) {
    fs.mkdirSync(path.join(BENCH, "results"), { recursive: true });
    fs.writeFileSync(path.join(BENCH, "results/latest.json"), JSON.stringify(results, null, 2) + "\n");
    const full = chosen.length === Object.keys(PHASES).length && !QUICK;
    if (full) {
      const md = [
        "# Benchmark results: Python gateway vs a minimal JS worker",
        "",
        `Made with \`${results.command}\` on ${startedAt.toISOString().slice(0, 10)} (took ${results.total_seconds} s on ` +
          `${results.machine.cpus} × ${results.machine.cpu_model}; node ${results.machine.node}, miniflare ${results.runtime.miniflare} ` +
          `(workerd with embedded Pyodide), compatibility date ${results.runtime.compatibility_date}; offline).`,
        "",
        "Latency, throughput and streaming: one Miniflare instance (one workerd process) serving the Python gateway (src/, via " +
          "`localConfig()` of scripts/local/serve.mjs) and bench/js-worker.mjs on two ports, both bound to the same Workers AI " +
          `emulator (scripts/local/ai-emulator.mjs), which answers at once; ${PHASE_SECONDS} s per step after ${WARMUP_SECONDS} s of warm-up, ` +
          "JS and Python alternating. Memory: a fresh instance per worker. Cold start: fresh instances. Profile: a second instance " +
          "with probe workers (bench/profile/). How each number is taken: bench/README.md. Raw numbers: bench/results/latest.json (not committed).",
        "",
        table,
        "",
      ].join("\n");
      fs.writeFileSync(path.join(BENCH, "RESULTS.md"), md);
    }
    log(`wrote bench/results/latest.json${full ? " and bench/RESULTS.md" : " (RESULTS.md only on a run of every phase)"} (${results.total_seconds} s)`);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
