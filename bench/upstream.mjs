// The benchmark's own upstream, an HTTP server in the driver's process behind the emulator's
// UPSTREAM protocol (`[bench:upstream]` calls): timed SSE streams whose emission times it notes,
// and a 2 MiB PNG from the image models.

import http from "node:http";
import zlib from "node:zlib";
import { now } from "./common.mjs";
import { HOST } from "./config.mjs";

function pngChunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  data.copy(out, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function bigPng(total) {
  // A PNG-framed 2 MiB file (signature, IHDR, one IDAT of random bytes, IEND): what a model might
  // send for a large image. Nobody decodes it; the gateway stores and serves bytes.
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const ihdr = pngChunk("IHDR", Buffer.from([0, 0, 4, 0, 0, 0, 4, 0, 8, 2, 0, 0, 0]));
  const iend = pngChunk("IEND", Buffer.alloc(0));
  const idatLength = total - signature.length - ihdr.length - iend.length - 12;
  let seed = 12345;
  const data = Buffer.alloc(idatLength);
  for (let i = 0; i < idatLength; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data[i] = seed >>> 24;
  }
  return Buffer.concat([signature, ihdr, pngChunk("IDAT", data), iend]);
}


export const IMAGE_BYTES = 2 * 1024 * 1024;
export const PNG = bigPng(IMAGE_BYTES);
const timedStreams = new Map(); // id -> { emitted: [ms] }

/** When the upstream wrote each event of the timed stream `id` (performance.now()), once: it forgets the stream. */
export function emissions(id) {
  const emitted = timedStreams.get(id)?.emitted ?? [];
  timedStreams.delete(id);
  return emitted;
}

function promptOf(inputs) {
  const last = Array.isArray(inputs?.messages) ? inputs.messages.at(-1)?.content : inputs?.prompt;
  return typeof last === "string" ? last : "";
}


export function startUpstream() {
  const server = http.createServer(async (req, res) => {
    const parts = [];
    for await (const c of req) parts.push(c);
    let call;
    try {
      call = JSON.parse(Buffer.concat(parts).toString());
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: 5006, message: "bad call" }] }));
      return;
    }
    const prompt = promptOf(call.inputs);
    const stream = /\[bench:stream id=(\w+) n=(\d+) interval=(\d+)\]/.exec(prompt);
    if (stream) {
      const [, id, n, interval] = stream;
      const record = { emitted: [] };
      timedStreams.set(id, record);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      let i = 0;
      const tick = () => {
        if (i < Number(n)) {
          record.emitted[i] = now();
          res.write(`data: ${JSON.stringify({ response: ` c${i}` })}\n\n`);
          i++;
          setTimeout(tick, Number(interval));
        } else {
          res.end(`data: ${JSON.stringify({ response: "", usage: { prompt_tokens: 9, completion_tokens: Number(n), total_tokens: 9 + Number(n) } })}\n\ndata: [DONE]\n\n`);
        }
      };
      tick();
      return;
    }
    if (/stable-diffusion|dreamshaper|phoenix|lucid/.test(call.model)) {
      res.writeHead(200, { "content-type": "image/png", "content-length": PNG.length }).end(PNG);
      return;
    }
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: 5006, message: `bench upstream: nothing scripted for ${call.model}` }] }));
  });
  return new Promise((resolve) => server.listen(0, HOST, () => resolve(server)));
}
