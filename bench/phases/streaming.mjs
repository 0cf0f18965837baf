// Phase "streaming" of bench/run.mjs: chunks per second relayed, the delay each chunk takes through
// the worker (timed against bench/upstream.mjs's emission), chunks held back, and emulator-paced gaps.

import http from "node:http";
import { CHAT_MODEL, jsonBody, median, now, percentile, round, send, cpuSeconds, tableWriter } from "../common.mjs";
import { AUTH } from "../config.mjs";
import { emissions } from "../upstream.mjs";

function sseEvents(onEvent) {
  // Incremental SSE splitter for the client side: calls onEvent(payload, arrivalTime).
  let pending = "";
  return (chunk, t) => {
    pending += chunk.toString();
    let end;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (event.startsWith("data: ")) onEvent(event.slice(6), t);
    }
  };
}

export async function streamThroughput(base, pieces, pid, headers = {}) {
  // The emulator streams `pieces` events with no delay; content events per second of the request.
  const words = Array.from({ length: pieces + 50 }, (_, i) => `w${i}`).join(" ");
  const body = jsonBody({ model: CHAT_MODEL, messages: [{ role: "user", content: words }], max_tokens: pieces, stream: true });
  const agent = new http.Agent({ keepAlive: true });
  let first = null, last = null, count = 0, reads = 0;
  const cpu0 = cpuSeconds(pid);
  const started = now();
  const onData = sseEvents((payload, t) => {
    if (payload === "[DONE]") return;
    const content = JSON.parse(payload).choices?.[0]?.delta?.content;
    if (content) {
      count++;
      first ??= t;
      last = t;
    }
  });
  const r = await send(agent, new URL("/v1/chat/completions", base).href, { headers: { ...AUTH, ...headers }, body, onData: (c, t) => { reads++; onData(c, t); } });
  const total = now() - started;
  const cpu = cpuSeconds(pid) - cpu0;
  agent.destroy();
  if (r.status !== 200 || count !== pieces) throw new Error(`stream throughput: status ${r.status}, ${count} of ${pieces} events`);
  // Over the whole request (not first-to-last arrival, which a burst at the end would make look fast).
  return { events: count, total_ms: round(total, 1), chunks_per_second: round(count / (total / 1000), 0), first_to_last_ms: round(last - first, 1), network_reads: reads, cpu_us_per_chunk: round((cpu * 1e6) / count, 1) };
}

let streamCounter = 0;

export async function timedStream(base, n, interval, headers = {}) {
  // Upstream (in this process) emits n events `interval` ms apart and notes when; the client notes
  // when each re-framed event arrives. Same clock (performance.now()), so arrival − emission is the
  // relay delay of each chunk through the emulator's forward, the worker and the response.
  const id = `s${++streamCounter}`;
  const body = jsonBody({ model: CHAT_MODEL, messages: [{ role: "user", content: `timed [bench:upstream] [bench:stream id=${id} n=${n} interval=${interval}]` }], stream: true });
  const agent = new http.Agent({ keepAlive: false });
  const arrived = [];
  const readOf = [];
  let reads = 0;
  const onEvent = sseEvents((payload, t) => {
    if (payload === "[DONE]") return;
    const content = JSON.parse(payload).choices?.[0]?.delta?.content;
    const found = content && /^ c(\d+)$/.exec(content);
    if (found) {
      arrived[Number(found[1])] = t;
      readOf[Number(found[1])] = reads;
    }
  });
  const r = await send(agent, new URL("/v1/chat/completions", base).href, { headers: { ...AUTH, ...headers }, body, onData: (c, t) => { reads++; onEvent(c, t); } });
  agent.destroy();
  const emitted = emissions(id);
  if (r.status !== 200 || arrived.filter(Boolean).length !== n) throw new Error(`timed stream: status ${r.status}, ${arrived.filter(Boolean).length} of ${n} chunks: ${r.body.toString().slice(0, 300)}`);
  const delays = emitted.map((t, i) => arrived[i] - t);
  // Held back: a chunk that reached the client only after the next one had been emitted, or that
  // arrived in the same network read as the one before it.
  let heldBack = 0, sharedRead = 0;
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && arrived[i] > emitted[i + 1]) heldBack++;
    if (i > 0 && readOf[i] === readOf[i - 1]) sharedRead++;
  }
  return { delays, heldBack, sharedRead };
}

async function emulatorPacedStream(base, n, interval) {
  // The emulator's own delay (`__emulator_delay_ms` inside workerd): only arrival gaps can be seen.
  const words = Array.from({ length: n }, (_, i) => `p${i}`).join(" ");
  const body = jsonBody({ model: CHAT_MODEL, messages: [{ role: "user", content: `[bench:delay=${interval}] ${words}` }], max_tokens: n, stream: true });
  const agent = new http.Agent({ keepAlive: false });
  const arrived = [];
  const onEvent = sseEvents((payload, t) => {
    if (payload === "[DONE]") return;
    const content = JSON.parse(payload).choices?.[0]?.delta?.content;
    if (content) arrived.push(t);
  });
  await send(agent, new URL("/v1/chat/completions", base).href, { headers: AUTH, body, onData: onEvent });
  agent.destroy();
  const gaps = arrived.slice(2).map((t, i) => t - arrived[i + 1]); // from the 2nd content chunk on (the 1st has no delay)
  return gaps;
}

export async function measure({ instance, settings }) {
  const QUICK = settings.quick;
  const out = { js: {}, py: {} };
  const pieces = QUICK ? 300 : 1000;
  for (const kind of ["js", "py"]) {
    await streamThroughput(instance.urls[kind], 100, instance.pid);
    const runs = [];
    for (let i = 0; i < (QUICK ? 2 : 3); i++) runs.push(await streamThroughput(instance.urls[kind], pieces, instance.pid));
    runs.sort((a, b) => a.chunks_per_second - b.chunks_per_second);
    out[kind].throughput = runs[Math.floor(runs.length / 2)];
  }
  const n = QUICK ? 40 : 100, interval = 10;
  for (const kind of ["js", "py"]) out[kind].delays = [];
  for (const kind of ["js", "py"]) out[kind].held = { heldBack: 0, sharedRead: 0, chunks: 0 };
  for (let rep = 0; rep < (QUICK ? 1 : 3); rep++) {
    for (const kind of ["js", "py"]) {
      const t = await timedStream(instance.urls[kind], n, interval);
      out[kind].delays.push(...t.delays);
      out[kind].held.heldBack += t.heldBack;
      out[kind].held.sharedRead += t.sharedRead;
      out[kind].held.chunks += n;
    }
  }
  for (const kind of ["js", "py"]) {
    const gaps = await emulatorPacedStream(instance.urls[kind], QUICK ? 30 : 60, 5);
    out[kind].emulator_paced = {
      interval_ms: 5,
      gaps: gaps.length,
      mean_gap_ms: round(gaps.reduce((a, b) => a + b, 0) / gaps.length, 3),
      min_gap_ms: round(Math.min(...gaps), 3),
      max_gap_ms: round(Math.max(...gaps), 3),
      gaps_under_half_interval: gaps.filter((g) => g < 2.5).length,
    };
  }
  const summary = (kind) => ({
    chunks: out[kind].delays.length,
    relay_p10_us: round(percentile(out[kind].delays, 10) * 1000, 0),
    relay_p50_us: round(median(out[kind].delays) * 1000, 0),
    relay_p99_us: round(percentile(out[kind].delays, 99) * 1000, 0),
    relay_max_us: round(Math.max(...out[kind].delays) * 1000, 0),
    held_back: out[kind].held.heldBack,
    shared_read: out[kind].held.sharedRead,
  });
  const result = {
    pieces,
    interval_ms: interval,
    js: { throughput: out.js.throughput, relay: summary("js"), emulator_paced: out.js.emulator_paced },
    py: { throughput: out.py.throughput, relay: summary("py"), emulator_paced: out.py.emulator_paced },
  };
  result.added_per_chunk_us = {
    p10: round(result.py.relay.relay_p10_us - result.js.relay.relay_p10_us, 0),
    p50: round(result.py.relay.relay_p50_us - result.js.relay.relay_p50_us, 0),
    p99: round(result.py.relay.relay_p99_us - result.js.relay.relay_p99_us, 0),
    // From throughput: the extra time per chunk when nothing waits (1/rate difference).
    from_throughput: round(1e6 / result.py.throughput.chunks_per_second - 1e6 / result.js.throughput.chunks_per_second, 1),
  };
  return result;
}

export function table(S) {
  const { lines, row, head } = tableWriter();
  lines.push("", `### Streaming`, "");
  head(["measure", "JS", "Python", "Python − JS"]);
  row([`chunks/s relayed (${S.pieces} events, no delay, median of runs)`, S.js.throughput.chunks_per_second, S.py.throughput.chunks_per_second, `${S.added_per_chunk_us.from_throughput} µs/chunk`]);
  row(["workerd CPU per chunk (µs)", S.js.throughput.cpu_us_per_chunk, S.py.throughput.cpu_us_per_chunk, round(S.py.throughput.cpu_us_per_chunk - S.js.throughput.cpu_us_per_chunk, 1)]);
  row([`relay delay per chunk, p10 (µs; emitted every ${S.interval_ms} ms, ${S.js.relay.chunks} chunks)`, S.js.relay.relay_p10_us, S.py.relay.relay_p10_us, S.added_per_chunk_us.p10]);
  row([`relay delay per chunk, p50 (µs)`, S.js.relay.relay_p50_us, S.py.relay.relay_p50_us, `**${S.added_per_chunk_us.p50}**`]);
  row(["relay delay per chunk, p99 (µs)", S.js.relay.relay_p99_us, S.py.relay.relay_p99_us, S.added_per_chunk_us.p99]);
  row(["relay delay per chunk, max (µs)", S.js.relay.relay_max_us, S.py.relay.relay_max_us, ""]);
  row(["chunks held back (arrived after the next was emitted)", S.js.relay.held_back, S.py.relay.held_back, ""]);
  row(["chunks that shared a network read with the previous one", S.js.relay.shared_read, S.py.relay.shared_read, ""]);
  row([`emulator-paced (${S.js.emulator_paced.interval_ms} ms in workerd): mean / min / max arrival gap ms`, `${S.js.emulator_paced.mean_gap_ms} / ${S.js.emulator_paced.min_gap_ms} / ${S.js.emulator_paced.max_gap_ms}`, `${S.py.emulator_paced.mean_gap_ms} / ${S.py.emulator_paced.min_gap_ms} / ${S.py.emulator_paced.max_gap_ms}`, ""]);
  return lines;
}

export function targets(S) {
  return [
    { target: "streaming adds ≤ 50 µs per chunk", measured: `${S.added_per_chunk_us.p50} µs at p50 of relay delay (${S.added_per_chunk_us.p10} µs at p10); ${S.added_per_chunk_us.from_throughput} µs from chunks/s`, met: S.added_per_chunk_us.p50 <= 50 && S.added_per_chunk_us.from_throughput <= 50 },
    { target: "streaming never holds a chunk back", measured: `${S.py.relay.held_back} of ${S.py.relay.chunks} chunks held back, ${S.py.relay.shared_read} shared a read`, met: S.py.relay.held_back === 0 },
  ];
}
