// The Workers AI emulator: bound as `AI` in the local run, as a Miniflare wrapped
// binding (the way Cloudflare builds the real binding). It answers
// `run(model, inputs, options)` with the real output shapes, deterministically.
//
// When the binding is configured with UPSTREAM (an http URL), every call is instead
// forwarded as `POST {UPSTREAM}/ai/run` with `{model, inputs, options}`, so tests can
// script answers, delays and failures from Python (pytest-httpserver):
//   - 200 application/json          -> that JSON is the result
//   - 200 any other content type    -> the body stream is the result (SSE, PNG, MP3)
//   - >= 400 {"errors":[{code,message}]} -> run() throws "<code>: <message>", as the binding does

import { renderImage, renderSpeech } from "./emulator-media.mjs";
import { checkInput, checkOutput } from "./contract-validate.mjs";
import { schemaInstance } from "./schema-instance.mjs";
import { checkGatewayOptions } from "./gateway-options.mjs";
import { decision } from "./emulator-decision.mjs";

const encoder = new TextEncoder();

class AiError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = "AiError";
    this.code = code;
  }
}

// --- inputs: Python may hand us JS Maps (plain to_js) or plain objects --------------

function plain(value) {
  // Streams, files and forms (nova-3's audio, FLUX.2's multipart) stay as they are.
  if (value instanceof ReadableStream || value instanceof Blob || value instanceof FormData) return value;
  // A String object (the gateway's images, kept in JS) is the string it wraps, as JSON.stringify
  // (the real binding's serialisation) writes it.
  if (value instanceof String) return value.valueOf();
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  }
  if (ArrayBuffer.isView(value)) return Array.from(value);
  if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

// --- which task a model id belongs to ----------------------------------------------

// Which ids exist, their task and which are retired come from the project's catalog
// (scripts/local/model-catalog.json, exported from src/gateway/catalog.py, bound as CATALOG).
// The patterns below only place ids the catalog does not list (a test's made-up model).
const CATALOG_TASKS = { chat: "text-generation" };
let catalog = null;

function catalogEntry(model) {
  return catalog?.models.find((m) => m.name === model);
}

function isRetired(model) {
  if (catalog) {
    return catalog.retired.includes(model) || catalog.retired_families.some((prefix) => model.startsWith(prefix));
  }
  return RETIRED.some((re) => re.test(model));
}

// Without a catalog binding: the ids Cloudflare retired on 2025-10-01 and 2026-05-30.
const RETIRED = [
  /^@hf\/thebloke\//,
  /llama-2-7b-chat/, /mistral-7b-instruct-v0\.[12]/, /qwen1\.5-/, /\/phi-2$/, /tinyllama/,
  /gemma-(2b|7b)-it/, /openchat/, /sqlcoder/, /deepseek-math/, /falcon-7b/, /discolm/,
  /starling-lm/, /hermes-2-pro/, /una-cybertron/, /llama-3-8b-instruct/,
  /meta-llama-3-8b-instruct/, /llama-3\.1-8b-instruct(-awq|-fp8)?$/, /llama-3\.1-70b-instruct$/,
  /llama-3\.3-70b-instruct$/, /llama-guard-3-8b/, /whisper-sherpa/, /-lora$/,
];

const TASKS = [
  ["translation", /\/m2m100/],
  ["speech-to-text", /\/whisper|\/nova-3/],
  ["text-to-speech", /\/melotts|\/aura-/],
  ["embeddings", /\/bge-|embedding/],
  ["image-to-image", /img2img|inpainting/],
  ["text-to-image", /\/flux-|stable-diffusion|dreamshaper|lucid-origin|phoenix-/],
  ["text-generation", /instruct|chat|-it$|-it-|gpt-oss|glm-|qwen3-|qwq|coder|granite|deepseek-r1|llama/],
];

function taskOf(model) {
  if (typeof model !== "string" || !/^@(cf|hf)\//.test(model) || isRetired(model)) {
    throw new AiError(5007, `No such model ${model} or task`);
  }
  const entry = catalogEntry(model);
  if (entry) return CATALOG_TASKS[entry.gateway_task] ?? entry.gateway_task;
  const found = TASKS.find(([, re]) => re.test(model));
  if (!found) throw new AiError(5007, `No such model ${model} or task`);
  return found[0];
}

// Newer chat models answer in OpenAI's `choices` shape; older ones with `{response}`.
const OPENAI_SHAPED = /gpt-oss|glm-|qwen3[-.]|gemma-4|kimi|deepseek-v4|nemotron-3/;

// --- helpers --------------------------------------------------------------------------

function invalid(message) {
  return new AiError(5006, `Error: ${message}`);
}

function words(text) {
  return String(text).split(/\s+/).filter(Boolean);
}

function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function streamOf(chunks, delayMs = 0) {
  let i = 0;
  const source = new ReadableStream({
    async pull(controller) {
      if (i >= chunks.length) return controller.close();
      if (delayMs && i > 0) await new Promise((r) => setTimeout(r, delayMs));
      const chunk = chunks[i++];
      controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    },
  });
  // The real binding's streams come from the network: the runtime's own byte streams (BYOB-readable,
  // tee-able), not JS-constructed ones, which the 2024 workerd mishandles (a tee whose copy is read
  // by Response.arrayBuffer() leaves the other branch empty). Piped through an identity transform,
  // this one is of the same kind.
  if (typeof IdentityTransformStream === "undefined") return source;
  const pipe = new IdentityTransformStream();
  source.pipeTo(pipe.writable).catch(() => {});
  return pipe.readable;
}

function sse(events) {
  return [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), "data: [DONE]\n\n"];
}

// --- text generation -------------------------------------------------------------------

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.filter((p) => p && p.type === "text").map((p) => p.text).join(" ");
  }
  return "";
}

// Older-shaped models whose JSON mode answers `response` as the parsed JSON object, not as text
// (Workers AI does so for these; their published output schema still says string).
const JSON_MODE_OBJECT = /llama-3\.3-70b|llama-4-scout|granite/;

// A model without JSON mode is asked for JSON in a system message (chat_contract's instruction,
// maybe with "JSON Schema: {...}" at its end). The emulator follows it the way small models do:
// the right JSON, but in a code fence after a sentence, which the gateway has to cut out.
function promptedSchema(inputs) {
  const system = (inputs.messages ?? []).filter((m) => m && m.role === "system").map((m) => contentText(m.content));
  const asking = system.find((text) => /one JSON value only/i.test(text));
  if (asking === undefined) return undefined;
  const at = asking.indexOf("JSON Schema: ");
  if (at < 0) return null;
  try {
    return JSON.parse(asking.slice(at + "JSON Schema: ".length));
  } catch {
    return null;
  }
}

// JSON mode: {value, asObject, prose} for a request that asks for JSON, else null.
function jsonModeReply(model, inputs, prompt) {
  const format = inputs.response_format ?? (inputs.guided_json ? { type: "json_schema", json_schema: inputs.guided_json } : null);
  if (format && typeof format === "object" && format.type !== "text") {
    // Workers AI's JSON mode takes the bare schema; OpenAI-compatible models take {name, schema}.
    const schema = format.type === "json_schema" ? (format.json_schema?.schema ?? format.json_schema) : null;
    const value = schema ? schemaInstance(schema, { text: prompt }) : { answer: prompt };
    const asObject = Boolean(inputs.response_format) && !OPENAI_SHAPED.test(model) && JSON_MODE_OBJECT.test(model);
    return { value, asObject, prose: false };
  }
  const prompted = promptedSchema(inputs);
  if (prompted === undefined) return null;
  return { value: prompted ? schemaInstance(prompted, { text: prompt }) : { answer: prompt }, asObject: false, prose: true };
}

// Tool-call arguments: for a `strict` tool, or one `tool_choice` forces (LangChain's structured
// output), an instance of its parameters; otherwise the emulator's plain `{query: <prompt>}`,
// which the other tests read back.
function toolArguments(tool, prompt, toolChoice) {
  const parameters = tool.function?.parameters ?? tool.parameters;
  const name = tool.function?.name ?? tool.name;
  const forced = toolChoice && typeof toolChoice === "object" && (toolChoice.function?.name ?? toolChoice.name) === name;
  if (parameters && ((tool.function?.strict ?? tool.strict) === true || forced)) {
    return schemaInstance(parameters, { text: prompt });
  }
  return { query: prompt };
}

function textGeneration(model, inputs) {
  let prompt;
  if (Array.isArray(inputs.messages)) {
    const last = [...inputs.messages].reverse().find((m) => m && m.role === "user");
    prompt = last ? contentText(last.content) : "";
    prompt = prompt || contentText(inputs.messages.at(-1)?.content);
  } else if (typeof inputs.prompt === "string") {
    prompt = inputs.prompt;
  } else {
    throw invalid("required properties at '/' are 'prompt' or 'messages'");
  }
  const promptText = Array.isArray(inputs.messages)
    ? inputs.messages.map((m) => contentText(m?.content)).join(" ")
    : prompt;
  let reply = `This is ${model} (emulated). You said: ${prompt}`;
  const limit = Number.isInteger(inputs.max_tokens) ? inputs.max_tokens : 256;
  let replyWords = words(reply).slice(0, Math.max(limit, 1));
  const finish = replyWords.length < words(reply).length ? "length" : "stop";
  reply = replyWords.join(" ");
  const json = jsonModeReply(model, inputs, prompt);
  if (json !== null) {
    const text = JSON.stringify(json.value);
    reply = json.prose ? `Here is the JSON you asked for:\n\`\`\`json\n${text}\n\`\`\`` : text;
    replyWords = [reply];
  }
  const usage = {
    prompt_tokens: words(promptText).length + 2 * (inputs.messages?.length ?? 1),
    completion_tokens: replyWords.length,
  };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;

  const tool = Array.isArray(inputs.tools) && inputs.tools.length && inputs.tool_choice !== "none"
    && inputs.messages?.at(-1)?.role === "user" ? inputs.tools[0] : null;
  const toolName = tool && (tool.function?.name ?? tool.name);
  const toolArgs = tool ? toolArguments(tool, prompt, inputs.tool_choice) : null;
  const openaiShaped = OPENAI_SHAPED.test(model);
  const pieces = replyWords.map((w, i) => (i === 0 ? w : ` ${w}`));

  if (!inputs.stream) {
    if (openaiShaped) {
      // `refusal` and `logprobs` are required by the pages of the OpenAI-shaped models (null when none).
      const message = { role: "assistant", content: tool ? "" : reply, refusal: null };
      if (tool) {
        message.tool_calls = [{ id: "call_emulated_0", type: "function", function: { name: toolName, arguments: JSON.stringify(toolArgs) } }];
      }
      return {
        id: `chatcmpl-emulated-${fnv1a(promptText).toString(16)}`,
        object: "chat.completion",
        created: 1764028800,
        model,
        choices: [{ index: 0, message, finish_reason: tool ? "tool_calls" : finish, logprobs: null }],
        usage,
      };
    }
    if (tool) return { response: "", tool_calls: [{ name: toolName, arguments: toolArgs }], usage };
    return { response: json?.asObject ? json.value : reply, usage };
  }

  let events;
  if (openaiShaped) {
    const base = { id: "chatcmpl-emulated", object: "chat.completion.chunk", created: 1764028800, model };
    events = tool
      ? [{ ...base, choices: [{ index: 0, delta: { role: "assistant", tool_calls: [{ index: 0, id: "call_emulated_0", type: "function", function: { name: toolName, arguments: JSON.stringify(toolArgs) } }] }, finish_reason: null }] }]
      : pieces.map((p, i) => ({ ...base, choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: p } : { content: p }, finish_reason: null }] }));
    events.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: tool ? "tool_calls" : finish }], usage });
  } else {
    events = tool
      ? [{ response: "", tool_calls: [{ name: toolName, arguments: toolArgs }] }]
      : json?.asObject ? [{ response: json.value }] : pieces.map((p) => ({ response: p }));
    events.push({ response: "", usage });
  }
  return streamOf(sse(events), Number(inputs.__emulator_delay_ms) || 0);
}

// --- embeddings ---------------------------------------------------------------------------

function dimensionsOf(model) {
  if (catalogEntry(model)?.dimensions) return catalogEntry(model).dimensions;
  if (/small/.test(model)) return 384;
  if (/base|embeddinggemma/.test(model)) return 768;
  return 1024;
}

function embeddings(model, inputs) {
  const texts = typeof inputs.text === "string" ? [inputs.text] : inputs.text;
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string")) {
    throw invalid("required properties at '/' are 'text'");
  }
  const dims = dimensionsOf(model);
  const data = texts.map((text) => {
    let seed = fnv1a(text) || 1;
    const vector = [];
    for (let i = 0; i < dims; i++) {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
      vector.push(Math.round(((seed / 0xffffffff) * 2 - 1) * 1e6) / 1e6);
    }
    return vector;
  });
  return { shape: [texts.length, dims], data, pooling: "cls" };
}

// --- translation ----------------------------------------------------------------------------

function translateOne(inputs) {
  if (typeof inputs.text !== "string" || typeof inputs.target_lang !== "string") {
    throw invalid("required properties at '/' are 'text','target_lang'");
  }
  const source = inputs.source_lang || "en";
  // Line by line so the caller can see that line structure survives.
  const text = inputs.text.split("\n").map((line) => (line ? `[${source}->${inputs.target_lang}] ${line}` : line)).join("\n");
  return { translated_text: text };
}

// m2m100 takes a batch only through the asynchronous Batch API: it queues the
// requests and answers with an id to poll, never with the translations.
function translation(model, inputs, options) {
  if (Array.isArray(inputs.requests)) {
    if (!options?.queueRequest) throw invalid("a batch of `requests` needs the queueRequest option");
    inputs.requests.forEach(translateOne);
    return { status: "queued", request_id: crypto.randomUUID(), model };
  }
  return translateOne(inputs);
}

// --- images -----------------------------------------------------------------------------------

function image(model, inputs, task) {
  if (typeof inputs.prompt !== "string" || !inputs.prompt) throw invalid("required properties at '/' are 'prompt'");
  if (task === "image-to-image" && !inputs.image && !inputs.image_b64) throw invalid("required properties at '/' are 'image'");
  if (/inpainting/.test(model) && !inputs.mask) throw invalid("required properties at '/' are 'mask'");
  // Step limits and every other input rule come from the model's contract (checked before this runs).
  // Real pictures (emulator-media.mjs): {image: base64 JPEG} for flux and lucid-origin, JPEG bytes
  // for phoenix-1.0 (its output contentType is image/jpeg), PNG bytes for the Stable Diffusion family.
  return renderImage(model, inputs).then(({ bytes }) =>
    (/flux-|lucid-origin/.test(model) ? { image: base64(bytes) } : streamOf([bytes])));
}

// --- speech ------------------------------------------------------------------------------------------

function audioBytes(model, inputs) {
  if (/whisper-large-v3-turbo/.test(model)) {
    const audio = typeof inputs.audio === "string" ? inputs.audio : inputs.audio?.body;
    if (typeof audio !== "string" || !audio) throw invalid("required properties at '/' are 'audio'");
    return atob(audio).length;
  }
  if (!Array.isArray(inputs.audio) || !inputs.audio.length) throw invalid("required properties at '/' are 'audio'");
  return inputs.audio.length;
}

function speechToText(model, inputs) {
  const size = audioBytes(model, inputs);
  const text = inputs.task === "translate"
    ? `Emulated English translation of ${size} bytes of audio.`
    : `Emulated transcript of ${size} bytes of audio.`;
  const ws = [];
  words(text).forEach((word, i) => ws.push({ word, start: i * 0.5, end: i * 0.5 + 0.4 }));
  const vtt = "WEBVTT\n\n" + ws.map((w) => `${fmt(w.start)} --> ${fmt(w.end)}\n${w.word}`).join("\n\n") + "\n";
  if (/whisper-large-v3-turbo/.test(model)) {
    const duration = ws.at(-1).end;
    return {
      text,
      word_count: ws.length,
      segments: [{ start: 0, end: duration, text, temperature: 0, avg_logprob: -0.2, compression_ratio: 1.1, no_speech_prob: 0.01, words: ws }],
      transcription_info: { language: inputs.language || "en", language_probability: 0.99, duration, duration_after_vad: duration },
      vtt,
    };
  }
  return { text, word_count: ws.length, words: ws, vtt };
}

function fmt(seconds) {
  const ms = Math.round(seconds * 1000);
  const h = String(Math.floor(ms / 3600000)).padStart(2, "0");
  const m = String(Math.floor(ms / 60000) % 60).padStart(2, "0");
  const s = String(Math.floor(ms / 1000) % 60).padStart(2, "0");
  return `${h}:${m}:${s}.${String(ms % 1000).padStart(3, "0")}`;
}

function textToSpeech(model, inputs) {
  const text = inputs.prompt ?? inputs.text;
  if (typeof text !== "string" || !text) throw invalid("required properties at '/' are 'prompt'");
  // Decodable audio about as long as the text takes to say (emulator-media.mjs): melotts
  // answers base64 MP3, Aura a stream in the requested encoding (MP3 by default).
  const bytes = /melotts/.test(model) ? renderSpeech(text, "mp3") : renderSpeech(text, inputs.encoding, inputs.container);
  if (/melotts/.test(model)) return { audio: base64(bytes) };
  return streamOf([bytes]);
}

// --- dispatch ------------------------------------------------------------------------------------------

// --- inputs that are JS objects rather than JSON: FLUX.2's multipart form, nova-3's audio stream ---

// FLUX.2 takes its prompt and options as multipart form fields: read them back into plain inputs.
async function multipartFields(multipart) {
  if (!multipart || !multipart.body) throw invalid("required properties at '/multipart' are 'body','contentType'");
  const form = multipart.body instanceof FormData
    ? multipart.body
    : await new Response(multipart.body, { headers: { "content-type": multipart.contentType } }).formData();
  const fields = {};
  for (const [name, value] of form.entries()) {
    fields[name] = typeof value === "string" ? (/^(width|height|steps|seed)$/.test(name) ? Number(value) : value)
      : { filename: value.name, type: value.type, size: value.size };
  }
  return fields;
}

async function audioStreamSize(audio) {
  if (!audio || !audio.body || typeof audio.contentType !== "string") {
    throw invalid("required properties at '/audio' are 'body','contentType'");
  }
  return (await new Response(audio.body).arrayBuffer()).byteLength;
}

// nova-3 answers in Deepgram's shape: results.channels[].alternatives[] with words.
function novaTranscript(size, inputs) {
  const text = `Emulated transcript of ${size} bytes of audio.`;
  const ws = words(text).map((word, i) => ({ word, punctuated_word: word, start: i * 0.5, end: i * 0.5 + 0.4, confidence: 0.99 }));
  const result = { results: { channels: [{ alternatives: [{ transcript: text, confidence: 0.99, words: ws }] }] } };
  if (inputs.detect_language) result.results.channels[0].detected_language = "en";
  return result;
}

// indictrans2 translates English into an Indic language: a list of texts in, `translations` out.
function indicTranslation(inputs) {
  const texts = typeof inputs.text === "string" ? [inputs.text] : inputs.text;
  if (!Array.isArray(texts) || typeof inputs.target_language !== "string") {
    throw invalid("required properties at '/' are 'text','target_language'");
  }
  return { translations: texts.map((t) => `[en->${inputs.target_language}] ${t}`) };
}

// llama-guard answers "safe", or "unsafe" and the hazard categories (S1..S14) on the next line.
const GUARD_RULES = [["S1", /\b(kill|murder|attack|stab)\b/i], ["S9", /\b(bomb|explosive|nerve agent)\b/i],
  ["S10", /\b(hate|slur)\b/i], ["S11", /\b(suicide|self-harm)\b/i], ["S12", /\b(porn|explicit sex)\b/i]];

function guard(inputs) {
  if (!Array.isArray(inputs.messages)) throw invalid("required properties at '/' are 'messages'");
  const text = inputs.messages.map((m) => contentText(m?.content)).join("\n");
  const hits = GUARD_RULES.filter(([, re]) => re.test(text)).map(([code]) => code);
  const usage = { prompt_tokens: words(text).length, completion_tokens: hits.length ? 3 : 1, total_tokens: 0 };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  if (inputs.response_format?.type === "json_object") return { response: { safe: !hits.length, categories: hits }, usage };
  return { response: hits.length ? `unsafe\n${hits.join(",")}` : "safe", usage };
}

async function emulate(model, inputs, options) {
  const task = taskOf(model);
  if (!inputs || typeof inputs !== "object") throw invalid("inputs must be an object");
  if (inputs.multipart) inputs = await multipartFields(inputs.multipart);
  switch (task) {
    case "text-generation": return textGeneration(model, inputs);
    case "moderation": return guard(inputs);
    case "embeddings": return embeddings(model, inputs);
    case "translation": return /indictrans2/.test(model) ? indicTranslation(inputs) : translation(model, inputs, options);
    case "text-to-image":
    case "image-to-image": return image(model, inputs, task);
    case "speech-to-text":
      return /nova-3/.test(model) ? novaTranscript(await audioStreamSize(inputs.audio), inputs) : speechToText(model, inputs);
    case "text-to-speech": return textToSpeech(model, inputs);
    case "decision": return decision(model, inputs);
    case "streaming-speech-to-text":
      // Workers AI opens flux only as a WebSocket (`{websocket: true}`); the emulator has none.
      throw new AiError(5006, `${model} is a WebSocket model: call it with { websocket: true }`);
  }
}

// --- models(): the catalog in the binding's AiModelsSearchObject shape ---------------------------------

const TASK_DESCRIPTIONS = {
  "Text Generation": "Family of generative text models, such as large language models (LLM).",
  "Text Embeddings": "Feature extraction models transform raw data into numerical features.",
  "Text-to-Image": "Generates images from input text.",
  "Automatic Speech Recognition": "Automatic speech recognition (ASR) models convert a speech signal to text.",
  "Text-to-Speech": "Text-to-Speech (TTS) is the task of generating natural sounding speech given text input.",
  "Translation": "Translation models convert a sequence of text from one language to another.",
};

function uuidOf(text) {
  const hex = [fnv1a(text), fnv1a(`${text}#1`), fnv1a(`${text}#2`), fnv1a(`${text}#3`)].map((h) => h.toString(16).padStart(8, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function searchObject(entry) {
  return {
    id: uuidOf(entry.name),
    source: 1,
    name: entry.name,
    description: `${entry.name} (emulated catalog entry)`,
    task: { id: uuidOf(entry.task), name: entry.task, description: TASK_DESCRIPTIONS[entry.task] ?? "" },
    tags: [],
    properties: Object.entries(entry.properties ?? {}).map(([property_id, value]) => ({ property_id, value })),
  };
}

// AiModelsSearchParams: author, hide_experimental, page, per_page, search, source, task.
function listModels(params = {}) {
  let found = (catalog?.models ?? []).map(searchObject);
  if (params.task) found = found.filter((m) => m.task.name.toLowerCase() === String(params.task).toLowerCase());
  if (params.author) found = found.filter((m) => m.name.split("/")[1] === params.author);
  if (params.search) found = found.filter((m) => m.name.includes(params.search));
  const perPage = Math.max(1, Math.min(Number(params.per_page) || 50, 1000));
  const page = Math.max(1, Number(params.page) || 1);
  return found.slice((page - 1) * perPage, page * perPage);
}

async function forwardModels(upstream, params) {
  const response = await fetch(new URL("/ai/models", upstream), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ params: params ?? {} }),
  });
  if (response.status >= 400) throw new AiError(3000, `models(): upstream answered ${response.status}`);
  return response.json();
}

// For the scripted upstream: what a stream or form input held, as JSON.
async function forwardable(args) {
  if (args?.multipart) return { ...args, multipart: { contentType: args.multipart.contentType, fields: await multipartFields(args.multipart) } };
  if (args?.audio?.body) return { ...args, audio: { contentType: args.audio.contentType, size: await audioStreamSize(args.audio) } };
  return args;
}

async function forward(upstream, model, inputs, options) {
  const response = await fetch(new URL("/ai/run", upstream), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, inputs, options: options ?? {} }),
  });
  const type = response.headers.get("content-type") || "";
  if (response.status >= 400) {
    let code = 3000, message = `upstream answered ${response.status}`;
    try {
      const error = (await response.json()).errors?.[0];
      if (error) ({ code, message } = { code: error.code ?? code, message: error.message ?? message });
    } catch {}
    throw new AiError(code, message);
  }
  if (type.startsWith("application/json")) return response.json();
  return response.body;
}

// Strict mode (the default): every call is checked against the model's published input
// schema first, and refused the way Workers AI refuses it (5006, naming the field). Test
// hooks (`__emulator_*` keys) are not part of any contract and are left out of the check.
function enforceContract(contracts, model, args) {
  const checked = Object.fromEntries(Object.entries(args ?? {}).filter(([k]) => !k.startsWith("__emulator")));
  const problems = checkInput(contracts, model, checked);
  if (problems.length) throw new AiError(5006, `Error: ${problems.join("; ")}`);
}

// The answer as the published output schema describes it: JSON mode's `response` object (see
// JSON_MODE_OBJECT) is text there, so it is checked as the text it stands for.
function publishedView(model, result) {
  if (JSON_MODE_OBJECT.test(model) && result && typeof result === "object" && result.response && typeof result.response === "object") {
    return { ...result, response: JSON.stringify(result.response) };
  }
  return result;
}

export default function (env) {
  const strict = env.STRICT !== false && env.CONTRACTS;
  catalog = env.CATALOG ?? null;
  return {
    async run(model, inputs, options) {
      checkGatewayOptions(plain(options));
      const args = plain(inputs);
      if (strict && args && typeof args === "object") enforceContract(env.CONTRACTS, model, args);
      if (env.UPSTREAM) return forward(env.UPSTREAM, model, await forwardable(args), plain(options));
      const result = await emulate(model, args, plain(options)); // images are rendered asynchronously
      if (strict && !(result instanceof ReadableStream)) {
        // The emulator's own answers must follow the published output schema too.
        const problems = checkOutput(env.CONTRACTS, model, publishedView(model, result));
        if (problems.length) throw new Error(`emulator answer for ${model} breaks its output schema: ${problems.join("; ")}`);
      }
      return result;
    },
    // AI.models(params): the account's current models (AiModelsSearchObject[]), from the project's catalog.
    async models(params) {
      if (env.UPSTREAM) return forwardModels(env.UPSTREAM, plain(params));
      return listModels(plain(params) ?? {});
    },
  };
}
