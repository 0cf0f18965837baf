// Real media for the Workers AI emulator: pictures and sound that browsers, Pillow and
// audio decoders accept, generated from the prompt without any dependency.
//
// Images: a picture seeded by the prompt (a two-colour gradient at an angle, soft discs and
// a wave), as PNG (zlib from the runtime's CompressionStream) or baseline JPEG (a small
// encoder that codes one colour per 8x8 block: DC coefficients only). Two prompts give two
// different pictures; the same prompt (and seed) gives the same one.
//
// Speech: one tone per word, pitched by the word, with gaps between words, lasting about as
// long as the text takes to say (~15 characters a second). Encoded as MP3 (MPEG-1 Layer III
// frames carrying one spectral line per granule), WAV / raw PCM (16-bit), FLAC (verbatim
// subframes), AAC in ADTS (one spectral line per frame) and Ogg Opus — which carries
// silence of the right length: an Opus (CELT) encoder is too large for an emulator.

const encoder = new TextEncoder();

export function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function rng(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    return state / 0x100000000;
  };
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.length; }
  return out;
}

// --- images ---------------------------------------------------------------------------------

// Output size when the request names none (the models' documented defaults).
export const IMAGE_DEFAULTS = [
  [/lucid-origin/, 1120],
  [/dreamshaper|stable-diffusion-v1-5/, 512],
  [/./, 1024],
];

export function imageFormat(model) {
  return /flux-|lucid-origin|phoenix-/.test(model) ? "jpeg" : "png";
}

function side(value, fallback, max) {
  return Number.isInteger(value) && value >= 1 ? Math.min(value, max) : fallback;
}

export function imageSize(model, inputs) {
  const fallback = IMAGE_DEFAULTS.find(([re]) => re.test(model))[1];
  if (/flux-1-schnell/.test(model)) return [fallback, fallback]; // it has one size
  const max = /lucid-origin/.test(model) ? 2500 : 2048;
  return [side(inputs.width, fallback, max), side(inputs.height, fallback, max)];
}

function hsl(h, s, l) {
  const k = (n) => (n + h * 12) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  return [f(0), f(8), f(4)];
}

// The picture as a function of (x, y) in [0, 1]: RGB in [0, 255].
function painter(prompt, seed) {
  const random = rng(fnv1a(`${prompt}\u0000${seed ?? ""}`));
  const hue = random();
  const from = hsl(hue, 0.65, 0.28), to = hsl((hue + 0.25 + random() * 0.4) % 1, 0.7, 0.72);
  const angle = random() * Math.PI * 2, dx = Math.cos(angle), dy = Math.sin(angle);
  const discs = Array.from({ length: 3 + Math.floor(random() * 4) }, () => ({
    x: random(), y: random(), r: 0.08 + random() * 0.22,
    colour: hsl((hue + 0.5 + random() * 0.3) % 1, 0.8, 0.55 + random() * 0.3), alpha: 0.55 + random() * 0.35,
  }));
  const wave = { freq: 2 + random() * 6, phase: random() * Math.PI * 2, y: 0.55 + random() * 0.3, amp: 0.03 + random() * 0.05 };
  return (x, y) => {
    const t = Math.min(1, Math.max(0, 0.5 + ((x - 0.5) * dx + (y - 0.5) * dy)));
    let r = from[0] + (to[0] - from[0]) * t, g = from[1] + (to[1] - from[1]) * t, b = from[2] + (to[2] - from[2]) * t;
    for (const d of discs) {
      const dist = Math.hypot(x - d.x, y - d.y) / d.r;
      if (dist < 1) {
        const a = d.alpha * Math.min(1, (1 - dist) * 4);
        r += (d.colour[0] - r) * a; g += (d.colour[1] - g) * a; b += (d.colour[2] - b) * a;
      }
    }
    if (y > wave.y + wave.amp * Math.sin(x * wave.freq * Math.PI * 2 + wave.phase)) {
      r *= 0.6; g *= 0.6; b *= 0.7;
    }
    return [r * 255, g * 255, b * 255];
  };
}

// --- PNG

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(encoder.encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function deflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function png(width, height, paint, text) {
  // Each row: filter 1 (Sub), then RGB differences from the pixel to the left.
  const stride = width * 3 + 1;
  const raw = new Uint8Array(stride * height);
  const row = new Uint8ClampedArray(width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = paint((x + 0.5) / width, (y + 0.5) / height);
      row[x * 3] = r; row[x * 3 + 1] = g; row[x * 3 + 2] = b;
    }
    const base = y * stride;
    raw[base] = 1;
    for (let i = 0; i < row.length; i++) raw[base + 1 + i] = row[i] - (i >= 3 ? row[i - 3] : 0);
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width); view.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  return concat([
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk("IHDR", ihdr),
    pngChunk("tEXt", encoder.encode(`Description\u0000${text}`)), pngChunk("IDAT", await deflate(raw)),
    pngChunk("IEND", new Uint8Array()),
  ]);
}

// --- baseline JPEG, DC only

// The standard luminance DC table (ITU T.81 K.3) and an AC table holding only EOB.
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

function huffmanCodes(bits, values) {
  const codes = new Map();
  let code = 0, k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]; i++) codes.set(values[k++], [code++, length]);
    code <<= 1;
  }
  return codes;
}

class BitWriter {
  constructor() { this.bytes = []; this.acc = 0; this.n = 0; }
  write(value, length) {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >>> i) & 1);
      if (++this.n === 8) this.flush();
    }
  }
  flush() { this.bytes.push(this.acc); this.acc = 0; this.n = 0; }
  pad(bit = 0) { while (this.n) this.write(bit, 1); }
}

class JpegBits extends BitWriter {
  flush() {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0); // byte stuffing
    this.acc = 0; this.n = 0;
  }
}

function segment(marker, body) {
  return new Uint8Array([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body]);
}

export function jpeg(width, height, paint, text) {
  const dcCodes = huffmanCodes(DC_BITS, DC_VALUES);
  const bits = new JpegBits();
  const previous = [0, 0, 0];
  const blocksX = Math.ceil(width / 8), blocksY = Math.ceil(height / 8);
  for (let by = 0; by < blocksY; by++) {
    for (let bx = 0; bx < blocksX; bx++) {
      const [r, g, b] = paint((bx * 8 + 4) / width, (by * 8 + 4) / height);
      const ycc = [
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
      ];
      ycc.forEach((value, c) => {
        // A flat block's DC coefficient is 8 x (mean - 128); the quantiser is 1.
        const dc = Math.round(8 * (Math.min(255, Math.max(0, value)) - 128));
        const diff = dc - previous[c];
        previous[c] = dc;
        const magnitude = Math.abs(diff), category = magnitude ? 32 - Math.clz32(magnitude) : 0;
        const [code, length] = dcCodes.get(category);
        bits.write(code, length);
        if (category) bits.write(diff > 0 ? diff : diff + (1 << category) - 1, category);
        bits.write(0, 1); // EOB: every AC coefficient is zero
      });
    }
  }
  bits.pad(1);
  const comment = encoder.encode(text).slice(0, 60000);
  return concat([
    new Uint8Array([0xff, 0xd8]),
    segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    segment(0xfe, comment),
    segment(0xdb, [0, ...new Array(64).fill(1)]),
    segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]),
    segment(0xc4, [0x00, ...DC_BITS, ...DC_VALUES]),
    segment(0xc4, [0x10, 1, ...new Array(15).fill(0), 0x00]),
    segment(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]),
    new Uint8Array(bits.bytes),
    new Uint8Array([0xff, 0xd9]),
  ]);
}

// The picture a text-to-image model answers `inputs` with: {format, width, height, bytes}.
export async function renderImage(model, inputs) {
  const [width, height] = imageSize(model, inputs);
  const format = imageFormat(model);
  const paint = painter(inputs.prompt, inputs.seed);
  const text = `Emulated ${model}: ${inputs.prompt}`;
  const bytes = format === "jpeg" ? jpeg(width, height, paint, text) : await png(width, height, paint, text);
  return { format, width, height, bytes };
}

// --- speech ------------------------------------------------------------------------------------

const CHARS_PER_SECOND = 15;

// Words as tones: [{start, end, freq}] in seconds, and the total length.
export function speechPlan(text) {
  const tones = [];
  let t = 0.15;
  for (const word of String(text).split(/\s+/).filter(Boolean)) {
    const length = Math.max(0.12, word.length / CHARS_PER_SECOND);
    tones.push({ start: t, end: t + length, freq: 140 + (fnv1a(word) % 220) });
    t += length + 1 / CHARS_PER_SECOND + (/[.!?,;:]$/.test(word) ? 0.2 : 0);
  }
  return { tones, duration: t + 0.15 };
}

export function pcm(plan, rate) {
  const samples = new Float32Array(Math.round(plan.duration * rate));
  for (const { start, end, freq } of plan.tones) {
    const first = Math.round(start * rate), last = Math.min(samples.length, Math.round(end * rate));
    const fade = Math.max(1, Math.round(0.02 * rate));
    for (let i = first; i < last; i++) {
      const t = (i - first) / rate;
      const envelope = Math.min(1, (i - first) / fade, (last - i) / fade);
      // A fundamental and two harmonics: a soft, voice-like buzz.
      const w = 2 * Math.PI * freq * t;
      samples[i] = envelope * 0.3 * (Math.sin(w) + 0.5 * Math.sin(2 * w) + 0.25 * Math.sin(3 * w)) / 1.75;
    }
  }
  return samples;
}

function int16(samples) {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  samples.forEach((s, i) => view.setInt16(i * 2, Math.round(Math.max(-1, Math.min(1, s)) * 32767), true));
  return out;
}

export function wav(samples, rate) {
  const data = int16(samples);
  const header = new Uint8Array(44);
  const view = new DataView(header.buffer);
  header.set(encoder.encode("RIFF"), 0); view.setUint32(4, 36 + data.length, true);
  header.set(encoder.encode("WAVEfmt "), 8); view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); view.setUint16(22, 1, true); view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  header.set(encoder.encode("data"), 36); view.setUint32(40, data.length, true);
  return concat([header, data]);
}

// --- MP3: MPEG-1 Layer III, 48 kHz mono, 32 kbit/s (96-byte frames of 1152 samples)

export function mp3(plan) {
  const rate = 48000, granule = 576;
  const granules = Math.ceil((plan.duration * rate) / granule);
  const frames = [];
  for (let g = 0; g < granules; g += 2) {
    const side = new BitWriter(), main = new BitWriter();
    side.write(0, 9); side.write(0, 5); side.write(0, 4); // main_data_begin, private bits, scfsi
    for (const index of [g, g + 1]) {
      const time = ((index + 0.5) * granule) / rate;
      const tone = plan.tones.find((t) => time >= t.start && time < t.end);
      let length = 0;
      if (tone) {
        // One spectral line at the word's pitch: quadruples coded with count1 table B
        // (4 bits each: the complement of the four values), then the line's sign bit.
        const line = Math.max(1, Math.min(100, Math.round(tone.freq / (rate / 2 / granule))));
        const quads = Math.floor(line / 4) + 1;
        for (let q = 0; q < quads; q++) main.write(q === quads - 1 ? 15 ^ (8 >> (line % 4)) : 15, 4);
        main.write(0, 1);
        length = quads * 4 + 1;
      }
      side.write(length, 12); // part2_3_length (no scale factors)
      side.write(0, 9); // big_values
      side.write(tone ? 202 : 0, 8); // global_gain
      side.write(0, 4); side.write(0, 1); // scalefac_compress, window_switching_flag
      side.write(0, 15); side.write(0, 4); side.write(0, 3); // table_select x3, region0/1 counts
      side.write(0, 1); side.write(0, 1); side.write(1, 1); // preflag, scalefac_scale, count1table_select = B
    }
    side.pad(); main.pad();
    const frame = new Uint8Array(96);
    frame.set([0xff, 0xfb, 0x14, 0xc4]); // MPEG-1 L3, no CRC, 32 kbit/s, 48 kHz, mono
    frame.set(side.bytes, 4);
    frame.set(main.bytes.slice(0, 75), 21);
    frames.push(frame);
  }
  return concat(frames);
}

// --- FLAC, verbatim subframes

function crc8(bytes) {
  let c = 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

function crc16(bytes) {
  let c = 0;
  for (const b of bytes) {
    c ^= b << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

function utf8Number(n) {
  if (n < 0x80) return [n];
  if (n < 0x800) return [0xc0 | (n >> 6), 0x80 | (n & 0x3f)];
  return [0xe0 | (n >> 12), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
}

export function flac(samples, rate) {
  const block = 4096;
  const info = new BitWriter();
  info.write(block, 16); info.write(block, 16); info.write(0, 24); info.write(0, 24);
  info.write(rate, 20); info.write(0, 3); info.write(15, 5);
  info.write(Math.floor(samples.length / 2 ** 32), 4); info.write(samples.length >>> 0, 32);
  for (let i = 0; i < 16; i++) info.write(0, 8); // MD5 unknown
  const parts = [encoder.encode("fLaC"), new Uint8Array([0x80, 0, 0, 34, ...info.bytes])];
  const pcm16 = int16(samples);
  for (let start = 0, number = 0; start < samples.length; start += block, number++) {
    const count = Math.min(block, samples.length - start);
    const rateCode = { 8000: 4, 16000: 5, 22050: 6, 24000: 7, 32000: 8, 44100: 9, 48000: 10 }[rate];
    const header = [0xff, 0xf8, (7 << 4) | rateCode, 0x08, ...utf8Number(number), (count - 1) >> 8, (count - 1) & 0xff];
    header.push(crc8(header));
    const frame = new Uint8Array(header.length + 1 + count * 2 + 2);
    frame.set(header);
    frame[header.length] = 0x02; // verbatim subframe, no wasted bits
    for (let i = 0; i < count; i++) {
      // 16-bit samples big-endian
      frame[header.length + 1 + i * 2] = pcm16[(start + i) * 2 + 1];
      frame[header.length + 2 + i * 2] = pcm16[(start + i) * 2];
    }
    const crc = crc16(frame.subarray(0, frame.length - 2));
    frame[frame.length - 2] = crc >> 8; frame[frame.length - 1] = crc & 0xff;
    parts.push(frame);
  }
  return concat(parts);
}

// --- Ogg Opus (silence: 20 ms CELT frames) and AAC-LC in ADTS

const OGG_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n << 24;
  for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
  return c >>> 0;
});

function oggPage(packets, granule, serial, sequence, flags) {
  const lacing = packets.flatMap((p) => [...new Array(Math.floor(p.length / 255)).fill(255), p.length % 255]);
  const header = new Uint8Array(27 + lacing.length);
  const view = new DataView(header.buffer);
  header.set(encoder.encode("OggS")); header[5] = flags;
  view.setUint32(6, granule >>> 0, true); view.setUint32(10, Math.floor(granule / 2 ** 32), true);
  view.setUint32(14, serial, true); view.setUint32(18, sequence, true);
  header[26] = lacing.length; header.set(lacing, 27);
  const page = concat([header, ...packets]);
  let crc = 0;
  for (const b of page) crc = ((crc << 8) ^ OGG_TABLE[((crc >>> 24) ^ b) & 0xff]) >>> 0;
  new DataView(page.buffer).setUint32(22, crc, true);
  return page;
}

export function oggOpus(duration) {
  const preSkip = 312, frames = Math.ceil((duration * 48000) / 960);
  const head = new Uint8Array(19);
  head.set(encoder.encode("OpusHead")); head[8] = 1; head[9] = 1;
  new DataView(head.buffer).setUint16(10, preSkip, true); new DataView(head.buffer).setUint32(12, 48000, true);
  const vendor = encoder.encode("workers-ai-emulator");
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  tags.set(encoder.encode("OpusTags")); new DataView(tags.buffer).setUint32(8, vendor.length, true); tags.set(vendor, 12);
  const serial = 0x5eed, pages = [oggPage([head], 0, serial, 0, 2), oggPage([tags], 0, serial, 1, 0)];
  const silence = new Uint8Array([0xf8, 0xff, 0xfe]); // CELT fullband 20 ms, silence flag set
  for (let done = 0, sequence = 2; done < frames; sequence++) {
    const count = Math.min(50, frames - done);
    done += count;
    pages.push(oggPage(new Array(count).fill(silence), preSkip + Math.min(done * 960, Math.round(duration * 48000)), serial, sequence, done === frames ? 4 : 0));
  }
  return concat(pages);
}

// AAC-LC codebook 1 (signed quadruples) codes for one +1 at position 0..3 of a quadruple.
const AAC_UNIT = [[0x010, 5], [0x013, 5], [0x016, 5], [0x014, 5]];

export function aac(plan) {
  const rate = 48000, frames = Math.ceil((plan.duration * rate) / 1024) + 1;
  const out = [];
  for (let f = 0; f < frames; f++) {
    const time = ((f + 0.5) * 1024) / rate;
    const tone = plan.tones.find((t) => time >= t.start && time < t.end);
    // One single channel element, long window, then END. A word is one spectral line at its
    // pitch (lines are 23.4 Hz apart): zero bands up to the line's band, then that band.
    const bits = new BitWriter();
    bits.write(0, 3); bits.write(0, 4); // ID_SCE, tag
    bits.write(tone ? 190 : 100, 8); // global_gain
    const line = tone ? Math.max(4, Math.min(15, Math.round(tone.freq / (rate / 2 / 1024)))) : 0;
    const band = line >> 2; // bands of 4 lines below line 32
    bits.write(0, 1); bits.write(0, 2); bits.write(0, 1); // reserved, ONLY_LONG_SEQUENCE, sine window
    bits.write(tone ? band + 1 : 0, 6); bits.write(0, 1); // max_sfb, no prediction
    if (tone) {
      if (band) { bits.write(0, 4); bits.write(band, 5); } // ZERO_HCB for the bands below
      bits.write(1, 4); bits.write(1, 5); // codebook 1 for the tone's band
      bits.write(0, 1); // its scale factor: global_gain + 0
    }
    bits.write(0, 3); // no pulse, TNS or gain control data
    if (tone) bits.write(...AAC_UNIT[line & 3]);
    bits.write(7, 3); // ID_END
    bits.pad();
    const length = 7 + bits.bytes.length;
    out.push(new Uint8Array([0xff, 0xf1, (1 << 6) | (3 << 2), (1 << 6) | (length >> 11), (length >> 3) & 0xff,
      ((length & 7) << 5) | 0x1f, 0xfc, ...bits.bytes]));
  }
  return concat(out);
}

// The audio a text-to-speech model answers `text` with, in `encoding` (Aura's names) and `container`.
export function renderSpeech(text, encoding = "mp3", container) {
  const plan = speechPlan(text);
  switch (encoding) {
    case "linear16": {
      const samples = pcm(plan, 24000);
      return container === "none" ? int16(samples) : wav(samples, 24000);
    }
    case "flac": return flac(pcm(plan, 24000), 24000);
    case "opus": return oggOpus(plan.duration);
    case "aac": return aac(plan);
    default: return mp3(plan);
  }
}
