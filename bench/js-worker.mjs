// The benchmark's baseline: a minimal JS worker doing the same conversion work as the Python
// gateway for the benchmarked routes, on the same runtime and the same AI binding (the Workers AI
// emulator). It is written the way a plain JS worker would be (no framework, no catalog, a few
// aliases), and it validates only what it must; it is a yardstick, not a second gateway.
//
//   POST /v1/chat/completions   OpenAI request -> env.AI.run -> chat.completion (or chunk SSE)
//   POST /v1/embeddings         OpenAI request -> env.AI.run({text}) -> OpenAI list
//   POST /translate             DeepLX {text, source_lang, target_lang} -> {code: 200, data, ...}
//   POST /v1/audio/transcriptions  multipart file -> base64 -> whisper -> {text}   (memory test)
//   POST /v1/images/generations    prompt -> image stream -> R2 -> {data: [{url}]}  (memory test)
//   GET  /file/<key>               R2 -> body stream                                (memory test)
//   GET  /health                   {status: "ok"}                                   (cold start)

const ALIASES = {
  "gpt-4o-mini": "@cf/meta/llama-3.1-8b-instruct-fast",
  "gpt-3.5-turbo": "@cf/meta/llama-3.1-8b-instruct-fast",
  "text-embedding-3-small": "@cf/baai/bge-base-en-v1.5",
  "whisper-1": "@cf/openai/whisper-large-v3-turbo",
};
const DEFAULTS = {
  chat: "@cf/meta/llama-3.1-8b-instruct-fast",
  embeddings: "@cf/baai/bge-m3",
  translation: "@cf/meta/m2m100-1.2b",
  image: "@cf/stabilityai/stable-diffusion-xl-base-1.0",
};
const SSE_HEADERS = { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "X-Accel-Buffering": "no" };
const encoder = new TextEncoder();

function json(data, status = 200, headers = {}) {
  return new Response(JSON.stringify(data), { status, headers: { "Content-Type": "application/json", ...headers } });
}

function openaiError(status, message, code = null) {
  return json({ error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", param: null, code } }, status);
}

function hex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function keys(env) {
  return String(env.API_KEYS || "").split(",").map((k) => k.trim()).filter(Boolean);
}

function bearer(request) {
  const header = request.headers.get("authorization") || "";
  const [scheme, value] = header.trim().split(/\s+/, 2);
  return scheme && scheme.toLowerCase() === "bearer" ? value : null;
}

// The models whose streams are already OpenAI chunks (the catalog's stream="openai").
const OPENAI_STREAMS = /gpt-oss|glm-4|gemma-4/;

function model(name, kind) {
  if (!name) return DEFAULTS[kind];
  return ALIASES[name] ?? name;
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.filter((p) => p && p.type === "text").map((p) => p.text).join("");
  return "";
}

function usageOf(raw, prompt, completion) {
  if (raw && Number.isInteger(raw.prompt_tokens) && Number.isInteger(raw.completion_tokens)) {
    return { prompt_tokens: raw.prompt_tokens, completion_tokens: raw.completion_tokens, total_tokens: raw.total_tokens || raw.prompt_tokens + raw.completion_tokens };
  }
  const p = Math.ceil(prompt.length / 4), c = Math.ceil(completion.length / 4);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c, estimated: true };
}

// --- chat -----------------------------------------------------------------------------------

function chatInputs(body) {
  if (!Array.isArray(body.messages) || !body.messages.length) throw new TypeError("`messages` must be a non-empty array.");
  const inputs = {
    messages: body.messages.map((m) => ({ role: m.role === "developer" ? "system" : m.role, content: Array.isArray(m.content) ? textOf(m.content) : m.content ?? "" })),
  };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (Number.isInteger(maxTokens)) inputs.max_tokens = maxTokens;
  for (const name of ["temperature", "top_p", "top_k", "seed", "frequency_penalty", "presence_penalty"]) {
    if (typeof body[name] === "number") inputs[name] = body[name];
  }
  if (body.stream === true) inputs.stream = true;
  return inputs;
}

async function chat(request, env) {
  const body = await request.json();
  const modelId = model(body.model, "chat");
  let inputs;
  try {
    inputs = chatInputs(body);
  } catch (error) {
    return openaiError(400, error.message);
  }
  const result = await env.AI.run(modelId, inputs);
  const created = Math.floor(Date.now() / 1000);
  const headers = { "X-Model": modelId };
  // Pass-through (issue 18), by the gateway's rule: a model that streams OpenAI chunks, no stop, no usage chunk asked.
  if (inputs.stream && OPENAI_STREAMS.test(modelId) && !body.stop && !body.stream_options?.include_usage) {
    return new Response(result, { headers: { ...SSE_HEADERS, ...headers } });
  }
  if (inputs.stream) return new Response(result.pipeThrough(chunkStream(modelId, created)), { headers: { ...SSE_HEADERS, ...headers } });

  const prompt = inputs.messages.map((m) => textOf(m.content)).join("\n");
  let content, reported = null;
  if (Array.isArray(result.choices) && result.choices.length) {
    content = result.choices[0].message?.content ?? "";
    reported = result.choices[0].finish_reason ?? null;
  } else {
    content = result.response ?? "";
  }
  const usage = usageOf(result.usage, prompt, content);
  const finish = reported ?? (inputs.max_tokens && usage.completion_tokens >= inputs.max_tokens ? "length" : "stop");
  return json({
    id: `chatcmpl-${hex(12)}`,
    object: "chat.completion",
    created,
    model: modelId,
    choices: [{ index: 0, message: { role: "assistant", content }, logprobs: null, finish_reason: finish }],
    usage,
  }, 200, headers);
}

// Workers AI SSE (`data: {"response": ...}` or OpenAI-shaped chunks) -> chat.completion.chunk SSE,
// one event out per event in, then a finish chunk and `data: [DONE]`.
function chunkStream(modelId, created) {
  const id = `chatcmpl-${hex(12)}`;
  const decoder = new TextDecoder();
  let pending = "";
  let data = [];
  let usage = null;
  let finished = false;
  const frame = (delta, finishReason = null) =>
    encoder.encode(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: modelId, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] })}\n\n`);
  const onEvent = (payload, controller) => {
    if (payload.trim() === "[DONE]") { finished = true; return; }
    let event;
    try { event = JSON.parse(payload); } catch { return; }
    if (event.usage) usage = event.usage;
    const text = Array.isArray(event.choices) ? event.choices[0]?.delta?.content : event.response;
    if (typeof text === "string" && text) controller.enqueue(frame({ content: text }));
  };
  return new TransformStream({
    start(controller) {
      controller.enqueue(frame({ role: "assistant", content: "" }));
    },
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline).replace(/\r$/, "");
        pending = pending.slice(newline + 1);
        if (!line) {
          if (data.length) onEvent(data.join("\n"), controller);
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line[5] === " " ? 6 : 5));
        }
      }
    },
    flush(controller) {
      if (data.length) onEvent(data.join("\n"), controller);
      if (!finished) {
        controller.enqueue(encoder.encode(`data: ${JSON.stringify({ error: { message: "stream cut", type: "server_error", code: "stream_interrupted" } })}\n\n`));
        return;
      }
      controller.enqueue(frame({}, "stop"));
      controller.enqueue(encoder.encode("data: [DONE]\n\n"));
    },
  });
}

// --- embeddings -------------------------------------------------------------------------------

async function embeddings(request, env) {
  const body = await request.json();
  const texts = typeof body.input === "string" ? [body.input] : body.input;
  if (!Array.isArray(texts) || !texts.length || texts.some((t) => typeof t !== "string" || !t)) {
    return openaiError(400, "`input` must be a non-empty string or array of strings.");
  }
  const modelId = model(body.model, "embeddings");
  const vectors = [];
  for (let i = 0; i < texts.length; i += 100) {
    const result = await env.AI.run(modelId, { text: texts.slice(i, i + 100) });
    vectors.push(...result.data);
  }
  const tokens = texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
  return json({
    object: "list",
    data: vectors.map((embedding, index) => ({ object: "embedding", index, embedding })),
    model: modelId,
    usage: { prompt_tokens: tokens, total_tokens: tokens, estimated: true },
  }, 200, { "X-Model": modelId, "X-Usage-Estimated": "true" });
}

// --- DeepLX translate ---------------------------------------------------------------------------

function m2m100(code) {
  const upper = String(code || "").trim().toUpperCase();
  if (upper.startsWith("ZH")) return "zh";
  if (upper === "NB") return "no";
  return upper.split("-")[0].toLowerCase();
}

async function translate(request, env, url) {
  const secret = url.searchParams.get("password") || url.searchParams.get("token") || bearer(request);
  const allowed = env.TRANSLATE_PASSWORD ? [env.TRANSLATE_PASSWORD] : keys(env);
  if (!secret || !allowed.includes(secret)) return json({ code: 401, message: "Unauthorized" }, 401);
  const body = await request.json();
  if (typeof body.text !== "string") return json({ code: 400, message: "`text` is required and must be a string." }, 400);
  const modelId = model(body.model, "translation");
  const source = m2m100(body.source_lang || "en");
  const target = m2m100(body.target_lang);
  // Line by line (m2m100 drops line breaks), each distinct line once.
  const lines = body.text.split(/(\r?\n)/);
  const wanted = [...new Set(lines.filter((l) => l.trim() && !/^\r?\n$/.test(l)).map((l) => l.trim()))];
  const done = new Map(await Promise.all(wanted.map(async (line) => {
    const result = await env.AI.run(modelId, { text: line, source_lang: source, target_lang: target });
    return [line, result.translated_text];
  })));
  const data = lines.map((l) => (done.has(l.trim()) ? l.replace(l.trim(), done.get(l.trim())) : l)).join("");
  return json({
    code: 200,
    id: Math.floor(Math.random() * 1e10),
    data,
    alternatives: [],
    source_lang: source.toUpperCase(),
    target_lang: body.target_lang,
    method: "Free",
  }, 200, { "X-Model": modelId });
}

// --- memory-test routes: audio upload, image store and serve ----------------------------------------

function base64(bytes) {
  const parts = [];
  for (let i = 0; i < bytes.length; i += 3 * 8192) parts.push(btoa(String.fromCharCode.apply(null, bytes.subarray(i, i + 3 * 8192))));
  return parts.join("");
}

async function transcription(request, env) {
  const form = await request.formData();
  const file = form.get("file");
  if (!file || typeof file === "string") return openaiError(400, "`file` is required.");
  if (file.size > 25 * 1024 * 1024) return openaiError(413, "The audio file is larger than 25 MB.");
  const modelId = model(form.get("model"), "chat");
  const result = await env.AI.run(modelId, { audio: base64(new Uint8Array(await file.arrayBuffer())), task: "transcribe" });
  return json({ text: result.text }, 200, { "X-Model": modelId });
}

async function image(request, env, url) {
  const body = await request.json();
  const modelId = model(body.model, "image");
  const result = await env.AI.run(modelId, { prompt: body.prompt });
  const bytes = result instanceof ReadableStream ? await new Response(result).arrayBuffer() : Uint8Array.from(atob(result.image), (c) => c.charCodeAt(0));
  const now = new Date();
  const key = `images/${now.toISOString().slice(0, 10).replaceAll("-", "/")}/${hex(16)}.png`;
  await env.IMAGES.put(key, bytes, { httpMetadata: { contentType: "image/png" } });
  return json({ created: Math.floor(now / 1000), data: [{ url: `${url.origin}/file/${key}`, revised_prompt: body.prompt }] });
}

async function file(env, key) {
  const obj = await env.IMAGES.get(key);
  if (!obj) return openaiError(404, "No such file.");
  return new Response(obj.body, {
    headers: { "Content-Type": obj.httpMetadata?.contentType || "application/octet-stream", ETag: obj.httpEtag, "Content-Length": String(obj.size) },
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/health") return json({ status: "ok", runtime: "js" });
    if (request.method === "GET" && path.startsWith("/file/")) return file(env, path.slice(6));
    if (request.method !== "POST") return openaiError(405, "Method not allowed.");
    if (path === "/translate") return translate(request, env, url);
    const key = bearer(request);
    if (!key || !keys(env).includes(key)) return openaiError(401, "Incorrect API key provided.", "invalid_api_key");
    try {
      switch (path) {
        case "/v1/chat/completions": return await chat(request, env);
        case "/v1/embeddings": return await embeddings(request, env);
        case "/v1/audio/transcriptions": return await transcription(request, env);
        case "/v1/images/generations": return await image(request, env, url);
      }
    } catch (error) {
      return openaiError(502, `Workers AI failed: ${error.message}`);
    }
    return openaiError(404, `Unknown path ${path}.`);
  },
};
