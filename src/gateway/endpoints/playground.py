"""GET /: a small page to try a fresh deployment (chat, image, speech, translation, transcription) with a pasted key.

One self-contained page: no framework, no external asset. The key goes only to this
worker's own origin: every call uses a relative URL, and the Content-Security-Policy allows
no other destination for `fetch`. It is kept in the browser (localStorage) only when the
visitor ticks "Remember the key in this browser".
"""

from __future__ import annotations

import base64
import hashlib

from ..http import Response
from ..platform import Context
from .playground_usage import USAGE_SCRIPT, USAGE_SECTION

STYLE = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1b1b;--muted:#4d4d4d;--panel:#f4f6f5;--line:#767676;--accent:#0a6b3d;
--accent-fg:#fff;--off-bg:#dcdcdc;--off-fg:#3b3b3b;--err:#b3261e;--link:#0b57d0;--mine:#e3efe8;--focus:#0b57d0;
font:16px/1.5 system-ui,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#131514;--fg:#ececec;--muted:#b8b8b8;--panel:#1d201f;--line:#8f8f8f;
--off-bg:#3a3a3a;--off-fg:#d0d0d0;--err:#ff9b93;--link:#9cc1ff;--mine:#22302a;--focus:#9cc1ff}}
body{margin:0 auto;max-width:1180px;padding:.75rem 1rem 2rem;background:var(--bg);color:var(--fg)}
h1{font-size:1.35rem;margin:.2rem 0 .6rem}h2{font-size:1.1rem;margin:0 0 .4rem}
a{color:var(--link)}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,340px),1fr));gap:1rem;align-items:start}
section,#keybox{border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;background:var(--panel);min-width:0}
#keybox{margin-bottom:1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}
#keybox .field{flex:1 1 18rem;display:flex;gap:.5rem;align-items:center}#keybox .field label{margin:0}
label{display:block;font-weight:600;margin:.45rem 0 .15rem}
input,select,textarea,button{font:inherit;box-sizing:border-box;color:var(--fg);background:var(--bg)}
input[type=password],input[type=text],select,textarea{width:100%;padding:.45rem .55rem;border:1px solid var(--line);border-radius:6px}
input[type=password],input[type=text],select,input[type=file]{min-height:44px}
#keybox input[type=password]{flex:1 1 12rem;width:auto}input[type=file]{display:block;width:100%;padding:.45rem 0}
.check{display:inline-flex;align-items:center;gap:.5rem;min-height:44px;margin:0;font-weight:400;cursor:pointer}
.check input{width:22px;height:22px;margin:0}
.row{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.6rem}
button{min-height:44px;min-width:44px;padding:.45rem 1.1rem;border-radius:6px;border:1px solid var(--accent);
background:var(--accent);color:var(--accent-fg);cursor:pointer;font-weight:600}
button.plain{background:var(--bg);color:var(--fg);border-color:var(--line)}
button:disabled{background:var(--off-bg);color:var(--off-fg);border-color:var(--off-bg);cursor:not-allowed}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.out{white-space:pre-wrap;min-height:1.5rem;margin-top:.6rem;padding:.5rem .6rem;background:var(--bg);border-radius:6px}
.out:empty{display:none}
.err{color:var(--err);font-weight:600;margin-top:.4rem}.err:empty,.note:empty,.usage:empty{display:none}
.note,.usage{font-size:.9rem;color:var(--muted);margin-top:.35rem}
#chat-log{display:flex;flex-direction:column;gap:.5rem;max-height:22rem;overflow:auto;margin-bottom:.4rem}
#chat-log:empty{display:none}
.msg{padding:.5rem .7rem;border-radius:8px;background:var(--bg);white-space:pre-wrap;max-width:92%}
.msg.user{background:var(--mine);align-self:flex-end}.who{display:block;font-size:.8rem;font-weight:700;color:var(--muted)}
.msg details{margin:.2rem 0;color:var(--muted)}.msg summary{min-height:44px;display:flex;align-items:center;cursor:pointer}
#image-output,#image-link{display:block;margin-top:.5rem}#image-output{max-width:100%;max-height:250px;width:auto;height:auto;border-radius:6px}
#image-output:not([src]){display:none}#image-link{min-height:44px;padding:.6rem 0;width:max-content}#image-link:empty{display:none}
#speech-audio{display:block;width:100%;margin-top:.6rem;min-height:44px}#speech-audio:not([src]){display:none}
"""

SCRIPT = r"""
const $ = (id) => document.getElementById(id);
const SAVED = ["key", "translate-secret"], remember = $("remember");
const keyInput = $("key"), secretInput = $("translate-secret");

// The key is kept in this browser only when "Remember" is ticked; unticking forgets it.
function save() {
  for (const name of SAVED) {
    const value = $(name).value.trim();
    if (remember.checked && value) localStorage.setItem("gateway-" + name, value);
    else localStorage.removeItem("gateway-" + name);
  }
}
for (const name of SAVED) {
  const saved = localStorage.getItem("gateway-" + name);
  if (saved) { $(name).value = saved; remember.checked = true; }
  $(name).addEventListener("input", save);
}
remember.addEventListener("change", save);

function auth(secret) {
  const key = (secret && secretInput.value.trim()) || keyInput.value.trim();
  if (!key) throw new Error("Paste an API key at the top first.");
  return { Authorization: "Bearer " + key };
}

// One message from any of the gateway's error envelopes: OpenAI's {error: {message, code}},
// DeepLX's {code, message}, DeepL's {message}.
async function failure(response) {
  const text = await response.text();
  let message = text || response.statusText, code = "";
  try {
    const body = JSON.parse(text), error = typeof body.error === "object" && body.error ? body.error : body;
    message = error.message || body.error || message;
    if (typeof error.code === "string") code = " " + error.code;
  } catch {}
  return new Error(`${response.status}${code}: ${message}`);
}

async function api(path, init = {}, secret = false) {
  const response = await fetch(path, { ...init, headers: { ...auth(secret), ...(init.headers || {}) } });
  if (!response.ok) throw await failure(response);
  return response;
}

const post = (path, body, init = {}, secret = false) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), ...init }, secret);
const seconds = (started) => ((performance.now() - started) / 1000).toFixed(2) + " s";
const size = (n) => (n < 1024 ? n + " B" : (n / 1024).toFixed(1) + " KB");

// Runs one tool: busy state on its form, its error (or none) under its button, and the
// usage of its last request (what the action returns).
function tool(name, action) {
  const form = $(name + "-form"), button = $(name + "-send"), error = $(name + "-error"), usage = $(name + "-usage");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true; form.setAttribute("aria-busy", "true"); error.textContent = usage.textContent = ""; form.dataset.state = "busy";
    const started = performance.now();
    try {
      const used = await action();
      usage.textContent = "Last request: " + (used ? used + " · " : "") + seconds(started);
      form.dataset.state = "done";
    } catch (e) { error.textContent = e.message || String(e); form.dataset.state = "error"; }
    finally { button.disabled = false; form.removeAttribute("aria-busy"); }
  });
}

let catalog = [];
async function loadModels() {
  const status = $("key-status");
  if (!keyInput.value.trim()) { status.textContent = "No key yet."; return; }
  try {
    catalog = (await (await api("/v1/models")).json()).data;
    fill($("chat-model"), catalog.filter((m) => m.task === "chat"), "gpt-4o-mini");
    fill($("image-model"), catalog.filter((m) => m.task === "text-to-image" && !m.root), "@cf/black-forest-labs/flux-1-schnell");
    fill($("speech-model"), catalog.filter((m) => m.task === "text-to-speech"), "tts-1");
    fillSizes();
    status.textContent = `Key accepted: ${catalog.length} models.`;
  } catch (e) { status.textContent = "Models could not be listed: " + e.message; }
}

function fill(select, models, wanted) {
  const current = select.value || wanted, ids = models.map((m) => m.id).sort();
  const chosen = ids.includes(current) ? current : ids.includes(wanted) ? wanted : ids[0];
  select.replaceChildren(...ids.map((id) => new Option(id, id, false, id === chosen)));
}

function fillSizes() {
  const model = catalog.find((m) => m.id === $("image-model").value), select = $("image-size");
  const sizes = model?.sizes || ["1024x1024"], current = select.value;
  select.replaceChildren(...sizes.map((s) => new Option(s + (s === model?.default_size ? " (default)" : ""), s, false,
    sizes.includes(current) ? s === current : s === sizes[0])));
}
$("image-model").addEventListener("change", fillSizes);

// --- chat: the whole conversation goes with each turn; Stop keeps what arrived.
const history = [];
let controller = null;

function bubble(role, text) {
  const item = document.createElement("div"), who = document.createElement("span"), body = document.createElement("div");
  item.className = "msg " + role; who.className = "who"; body.className = "text";
  who.textContent = role === "user" ? "You" : "Assistant"; body.textContent = text;
  item.append(who, body); $("chat-log").append(item);
  return { item, body };
}

function reasoningBox(item, body) {
  const details = document.createElement("details"), summary = document.createElement("summary"), text = document.createElement("div");
  summary.textContent = "Reasoning"; details.append(summary, text); item.insertBefore(details, body);
  return text;
}

tool("chat", async () => {
  const prompt = $("chat-prompt").value.trim(), log = $("chat-log"), status = $("chat-status");
  if (!prompt) throw new Error("Write a message first.");
  auth();
  history.push({ role: "user", content: prompt });
  const asked = bubble("user", prompt).item;
  $("chat-prompt").value = "";
  const { item, body } = bubble("assistant", "");
  let answer = "", thoughts = "", thoughtBox = null, usage = null, finished = false;
  controller = new AbortController();
  $("chat-stop").disabled = false; $("chat-new").disabled = true;
  log.setAttribute("aria-busy", "true"); status.textContent = "Answering…";
  try {
    const response = await post("/v1/chat/completions", { model: $("chat-model").value, stream: true,
      stream_options: { include_usage: true }, messages: history.slice() }, { signal: controller.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (!finished) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r/g, "");
      let end;
      while (!finished && (end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") { finished = true; break; }
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error("The stream broke: " + (chunk.error.message || JSON.stringify(chunk.error)));
          if (chunk.usage) usage = chunk.usage;
          const delta = chunk.choices?.[0]?.delta || {}, thought = delta.reasoning_content || delta.reasoning;
          if (thought) { thoughtBox ||= reasoningBox(item, body); thoughts += thought; thoughtBox.textContent = thoughts; }
          if (delta.content) { answer += delta.content; body.textContent = answer; log.scrollTop = log.scrollHeight; }
        }
      }
    }
    if (!finished) throw new Error("The stream ended without [DONE]: the answer may be cut.");
    status.textContent = "Answer complete.";
  } catch (e) {
    if (e.name !== "AbortError") { status.textContent = "The answer failed."; throw e; }
    status.textContent = "Stopped."; item.dataset.stopped = "true";
    body.textContent = answer + (answer ? " " : "") + "[stopped]";
  } finally {
    controller = null; log.removeAttribute("aria-busy");
    $("chat-stop").disabled = true; $("chat-new").disabled = false;
    if (answer) history.push({ role: "assistant", content: answer });
    else if (!item.dataset.stopped) { history.pop(); item.remove(); asked.remove(); $("chat-prompt").value = prompt; }
  }
  const turns = `${history.filter((m) => m.role === "user").length} turn(s)`;
  return usage ? `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens, ${turns}` : turns;
});
$("chat-stop").addEventListener("click", () => controller?.abort());
$("chat-new").addEventListener("click", () => {
  history.length = 0; $("chat-log").replaceChildren(); $("chat-usage").textContent = ""; $("chat-status").textContent = "New conversation.";
});
$("chat-prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("chat-form").requestSubmit();
});

tool("image", async () => {
  const img = $("image-output"), link = $("image-link");
  img.removeAttribute("src"); link.textContent = "";
  const body = { prompt: $("image-prompt").value, model: $("image-model").value, size: $("image-size").value, n: 1, response_format: "url" };
  const url = (await (await post("/v1/images/generations", body)).json()).data[0].url;
  link.href = url; link.textContent = "Open the stored image";
  img.alt = body.prompt; img.src = url;
  try { await img.decode(); } catch { throw new Error("The image was stored (the link above opens it) but the browser cannot show it."); }
  return `${img.naturalWidth}×${img.naturalHeight} from ${body.model}`;
});

let lastSpeech = null;
tool("speech", async () => {
  const player = $("speech-audio");
  const response = await post("/v1/audio/speech", { model: $("speech-model").value, input: $("speech-text").value, response_format: "mp3" });
  const blob = await response.blob();
  lastSpeech = blob; $("audio-use-speech").disabled = false;
  if (player.src) URL.revokeObjectURL(player.src);
  await new Promise((resolve, reject) => {
    player.onloadedmetadata = resolve;
    player.onerror = () => reject(new Error("The browser cannot play the audio it received."));
    player.src = URL.createObjectURL(blob);
  });
  return `${player.duration.toFixed(1)} s of ${blob.type || "audio"}, ${size(blob.size)}`;
});

tool("translate", async () => {
  $("translate-output").textContent = $("translate-detected").textContent = "";
  const text = $("translate-text").value;
  const result = await (await post("/translate", { text, source_lang: "auto", target_lang: $("translate-target").value }, {}, true)).json();
  $("translate-output").textContent = result.data;
  $("translate-detected").textContent = `Detected source language: ${result.source_lang}`;
  return `${text.length} characters`;
});

// The speech made above can be transcribed without saving it first.
$("audio-use-speech").addEventListener("click", () => {
  const files = new DataTransfer();
  files.items.add(new File([lastSpeech], "speech.mp3", { type: lastSpeech.type || "audio/mpeg" }));
  $("audio-file").files = files.files;
});

tool("audio", async () => {
  const file = $("audio-file").files[0];
  $("audio-output").textContent = "";
  if (!file) throw new Error("Choose an audio file first.");
  const form = new FormData();
  form.append("file", file); form.append("model", "whisper-1");
  $("audio-output").textContent = (await (await api("/v1/audio/transcriptions", { method: "POST", body: form })).json()).text;
  return `${size(file.size)} of audio`;
});

let pending;
keyInput.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(loadModels, 300); });
loadModels();
"""

LANGUAGES = [("EN", "English"), ("DE", "German"), ("FR", "French"), ("ES", "Spanish"), ("IT", "Italian"),
             ("PT-BR", "Portuguese"), ("NL", "Dutch"), ("PL", "Polish"), ("RU", "Russian"), ("UK", "Ukrainian"),
             ("TR", "Turkish"), ("ZH", "Chinese"), ("JA", "Japanese"), ("KO", "Korean"), ("AR", "Arabic")]
LANGUAGE_OPTIONS = "".join(f'<option value="{code}">{name}</option>' for code, name in LANGUAGES)


def _after(name: str) -> str:
    """What follows a tool's buttons: its error, then the usage of its last request."""
    return (f'<div id="{name}-error" class="err" role="alert"></div>'
            f'<div id="{name}-usage" class="usage" role="status"></div>')


BODY = f"""<header><h1>Workers AI gateway — playground</h1>
<div id="keybox"><div class="field"><label for="key">API key</label>
<input id="key" type="password" autocomplete="off" spellcheck="false" placeholder="sk-..." aria-describedby="key-status"></div>
<label class="check"><input id="remember" type="checkbox"> Remember the key in this browser</label>
<span id="key-status" class="note" role="status"></span></div></header>
<main>
<section id="chat" aria-labelledby="chat-title"><h2 id="chat-title">Chat</h2>
<div id="chat-log" role="group" aria-label="Conversation"></div>
<form id="chat-form"><label for="chat-model">Model</label>
<select id="chat-model"><option value="gpt-4o-mini" selected>gpt-4o-mini</option></select>
<label for="chat-prompt">Message <span class="note">(Ctrl+Enter sends)</span></label>
<textarea id="chat-prompt" rows="2" required>Hello! Who are you?</textarea>
<div class="row"><button id="chat-send" type="submit" aria-describedby="chat-error">Send</button>
<button id="chat-stop" type="button" class="plain" disabled>Stop</button>
<button id="chat-new" type="button" class="plain">New chat</button></div>
{_after("chat")}<div id="chat-status" class="note" role="status"></div></form></section>
<section aria-labelledby="image-title"><h2 id="image-title">Image</h2>
<form id="image-form"><label for="image-model">Model</label>
<select id="image-model"><option value="@cf/black-forest-labs/flux-1-schnell">@cf/black-forest-labs/flux-1-schnell</option></select>
<label for="image-size">Size</label><select id="image-size"><option value="1024x1024">1024x1024</option></select>
<label for="image-prompt">Prompt</label><input id="image-prompt" type="text" required value="a lighthouse at dawn">
<div class="row"><button id="image-send" type="submit" aria-describedby="image-error">Generate</button></div>
{_after("image")}</form>
<img id="image-output" alt=""><a id="image-link" target="_blank" rel="noopener"></a></section>
<section aria-labelledby="speech-title"><h2 id="speech-title">Speech</h2>
<form id="speech-form"><label for="speech-model">Model</label>
<select id="speech-model"><option value="tts-1">tts-1</option></select>
<label for="speech-text">Text</label><textarea id="speech-text" rows="2" required>Hello from the Workers AI gateway.</textarea>
<div class="row"><button id="speech-send" type="submit" aria-describedby="speech-error">Speak</button></div>
{_after("speech")}</form><audio id="speech-audio" controls></audio></section>
<section aria-labelledby="translate-title"><h2 id="translate-title">Translation (DeepLX)</h2>
<form id="translate-form"><label for="translate-text">Text (source language detected)</label>
<textarea id="translate-text" rows="2" required>Guten Morgen, wie geht es dir?</textarea>
<label for="translate-target">Target language</label><select id="translate-target">{LANGUAGE_OPTIONS}</select>
<label for="translate-secret">Translate secret <span class="note">(optional: only if the worker sets TRANSLATE_PASSWORD)</span></label>
<input id="translate-secret" type="password" autocomplete="off" placeholder="optional">
<div class="row"><button id="translate-send" type="submit" aria-describedby="translate-error">Translate</button></div>
{_after("translate")}</form>
<div id="translate-output" class="out"></div><div id="translate-detected" class="note"></div></section>
<section aria-labelledby="audio-title"><h2 id="audio-title">Transcription (whisper-1)</h2>
<form id="audio-form"><label for="audio-file">Audio file</label><input id="audio-file" type="file" accept="audio/*" required>
<div class="row"><button id="audio-send" type="submit" aria-describedby="audio-error">Transcribe</button>
<button id="audio-use-speech" type="button" class="plain" disabled>Use the speech above</button></div>
{_after("audio")}</form><div id="audio-output" class="out"></div></section>
</main>"""

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Workers AI gateway — playground</title><link rel="icon" href="data:,"><style>{STYLE}</style></head>
<body>{BODY}{USAGE_SECTION}<script>{SCRIPT}</script><script>{USAGE_SCRIPT}</script></body></html>"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Only this page's own script and style run, and `fetch` reaches only this origin, so the
# pasted key cannot leave it. Images may come from PUBLIC_BASE_URL, another origin.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {_sha256(SCRIPT)} {_sha256(USAGE_SCRIPT)}; style-src {_sha256(STYLE)}; connect-src 'self'; "
        "img-src * data: blob:; media-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def page(ctx: Context):
    # A static page: it holds no secret and spends nothing; the key stays in the visitor's browser.
    return Response(200, PAGE, dict(HEADERS))
