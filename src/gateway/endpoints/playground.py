"""GET /: a small page to try a fresh deployment (chat, image, translation, transcription) with a pasted key.

One self-contained page: no framework, no external asset. The key stays in the visitor's
browser (localStorage) and goes only to this worker's own origin: every call uses a
relative URL, and the Content-Security-Policy allows no other destination for `fetch`.
"""

from __future__ import annotations

import base64
import hashlib

from ..http import Response
from ..platform import Context
from .playground_usage import USAGE_SCRIPT, USAGE_SECTION

STYLE = """
:root{color-scheme:light dark;font:15px/1.45 system-ui,sans-serif}
body{margin:0 auto;max-width:1100px;padding:1rem 1.25rem}
h1{font-size:1.35rem;margin:.2rem 0 .8rem}h2{font-size:1.05rem;margin:0 0 .5rem}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));gap:1rem}
section,#keybox{border:1px solid #8886;border-radius:8px;padding:.8rem 1rem}
#keybox{margin-bottom:1rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
label{display:block;font-weight:600;margin:.35rem 0 .15rem}#keybox label{margin:0}
input,select,textarea,button{font:inherit;box-sizing:border-box}
input[type=password],input[type=text],select,textarea{width:100%;padding:.3rem .4rem}
#keybox input{width:auto;flex:1 1 16rem}input[type=file]{display:block}
button{margin-top:.5rem;padding:.35rem .9rem;border-radius:6px;border:1px solid #0a5;background:#0a5;color:#fff;cursor:pointer}
button:disabled{opacity:.55;cursor:progress}
.out{white-space:pre-wrap;min-height:1.5rem;margin-top:.5rem;padding:.4rem;background:#8881;border-radius:6px}
.err{color:#c22;font-weight:600;margin-top:.4rem}.err:empty,.note:empty{display:none}
.note{font-size:.85rem;opacity:.8}#image-link{display:block;word-break:break-all}
#image-output{display:block;width:100%;max-width:320px;height:auto;margin-top:.5rem}
#image-output:not([src]){display:none}
"""

SCRIPT = r"""
const $ = (id) => document.getElementById(id);
const store = (name) => { const el = $(name); el.value = localStorage.getItem("gateway-" + name) || "";
  el.addEventListener("input", () => localStorage.setItem("gateway-" + name, el.value.trim())); return el; };
const keyInput = store("key"), secretInput = store("translate-secret");

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

// Runs one tool: busy state on its form, its error (or none) in its alert box.
function tool(name, action) {
  const form = $(name + "-form"), button = $(name + "-send"), error = $(name + "-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true; form.setAttribute("aria-busy", "true"); error.textContent = ""; form.dataset.state = "busy";
    try { await action(); form.dataset.state = "done"; }
    catch (e) { error.textContent = e.message || String(e); form.dataset.state = "error"; }
    finally { button.disabled = false; form.removeAttribute("aria-busy"); }
  });
}

async function loadModels() {
  const status = $("key-status");
  if (!keyInput.value.trim()) { status.textContent = "No key yet."; return; }
  try {
    const { data } = await (await api("/v1/models")).json();
    fill($("chat-model"), data.filter((m) => m.task === "chat"), "gpt-4o-mini");
    fill($("image-model"), data.filter((m) => m.task === "text-to-image"), "", "default model");
    status.textContent = `Key accepted: ${data.length} models.`;
  } catch (e) { status.textContent = "Models could not be listed: " + e.message; }
}

function fill(select, models, wanted, blank) {
  const current = select.value || wanted, ids = models.map((m) => m.id).sort();
  const options = ids.map((id) => new Option(id, id, false, id === current));
  if (blank !== undefined) options.unshift(new Option(blank, "", false, current === ""));
  select.replaceChildren(...options);
}

tool("chat", async () => {
  const out = $("chat-output");
  out.textContent = "";
  const response = await api("/v1/chat/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: $("chat-model").value, stream: true,
      messages: [{ role: "user", content: $("chat-prompt").value }] }),
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "", finished = false;
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
        out.textContent += chunk.choices?.[0]?.delta?.content || "";
      }
    }
  }
  if (!finished) throw new Error("The stream ended without [DONE]: the answer may be cut.");
});

tool("image", async () => {
  const img = $("image-output"), link = $("image-link");
  img.removeAttribute("src"); link.textContent = "";
  const body = { prompt: $("image-prompt").value, n: 1, response_format: "url" };
  if ($("image-model").value) body.model = $("image-model").value;
  const response = await api("/v1/images/generations", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const url = (await response.json()).data[0].url;
  link.href = url; link.textContent = url;
  img.alt = body.prompt; img.src = url;
  try { await img.decode(); } catch { throw new Error("The image was stored (the link above opens it) but the browser cannot show it."); }
});

tool("translate", async () => {
  $("translate-output").textContent = $("translate-detected").textContent = "";
  const response = await api("/translate", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text: $("translate-text").value, source_lang: "auto", target_lang: $("translate-target").value }),
  }, true);
  const result = await response.json();
  $("translate-output").textContent = result.data;
  $("translate-detected").textContent = `Detected source language: ${result.source_lang}`;
});

tool("audio", async () => {
  const file = $("audio-file").files[0];
  $("audio-output").textContent = "";
  if (!file) throw new Error("Choose an audio file first.");
  const form = new FormData();
  form.append("file", file); form.append("model", "whisper-1");
  const response = await api("/v1/audio/transcriptions", { method: "POST", body: form });
  $("audio-output").textContent = (await response.json()).text;
});

let pending;
keyInput.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(loadModels, 300); });
loadModels();
"""

LANGUAGES = [("EN", "English"), ("DE", "German"), ("FR", "French"), ("ES", "Spanish"), ("IT", "Italian"),
             ("PT-BR", "Portuguese"), ("NL", "Dutch"), ("PL", "Polish"), ("RU", "Russian"), ("UK", "Ukrainian"),
             ("TR", "Turkish"), ("ZH", "Chinese"), ("JA", "Japanese"), ("KO", "Korean"), ("AR", "Arabic")]
LANGUAGE_OPTIONS = "".join(f'<option value="{code}">{name}</option>' for code, name in LANGUAGES)

BODY = f"""<h1>Workers AI gateway — playground</h1>
<div id="keybox"><label for="key">API key</label>
<input id="key" type="password" autocomplete="off" spellcheck="false" placeholder="sk-...">
<span id="key-status" class="note" role="status" aria-live="polite"></span></div>
<main>
<section aria-labelledby="chat-title"><h2 id="chat-title">Chat (streaming)</h2>
<form id="chat-form"><label for="chat-model">Model</label>
<select id="chat-model"><option value="gpt-4o-mini" selected>gpt-4o-mini</option></select>
<label for="chat-prompt">Message</label><textarea id="chat-prompt" rows="3" required>Hello! Who are you?</textarea>
<button id="chat-send" type="submit">Send</button></form>
<div id="chat-output" class="out" aria-live="polite"></div><div id="chat-error" class="err" role="alert"></div></section>
<section aria-labelledby="image-title"><h2 id="image-title">Image</h2>
<form id="image-form"><label for="image-model">Model</label><select id="image-model"><option value="">default model</option></select>
<label for="image-prompt">Prompt</label><input id="image-prompt" type="text" required value="a lighthouse at dawn">
<button id="image-send" type="submit">Generate</button></form>
<img id="image-output" alt=""><a id="image-link" class="note" target="_blank" rel="noopener"></a>
<div id="image-error" class="err" role="alert"></div></section>
<section aria-labelledby="translate-title"><h2 id="translate-title">Translation (DeepLX)</h2>
<form id="translate-form"><label for="translate-text">Text (source language detected)</label>
<textarea id="translate-text" rows="3" required>Guten Morgen, wie geht es dir?</textarea>
<label for="translate-target">Target language</label><select id="translate-target">{LANGUAGE_OPTIONS}</select>
<label for="translate-secret">Translate secret <span class="note">(optional: only if the worker sets TRANSLATE_PASSWORD)</span></label>
<input id="translate-secret" type="password" autocomplete="off" placeholder="optional">
<button id="translate-send" type="submit">Translate</button></form>
<div id="translate-output" class="out" aria-live="polite"></div><div id="translate-detected" class="note"></div>
<div id="translate-error" class="err" role="alert"></div></section>
<section aria-labelledby="audio-title"><h2 id="audio-title">Transcription (whisper-1)</h2>
<form id="audio-form"><label for="audio-file">Audio file</label><input id="audio-file" type="file" accept="audio/*" required>
<button id="audio-send" type="submit">Transcribe</button></form>
<div id="audio-output" class="out" aria-live="polite"></div><div id="audio-error" class="err" role="alert"></div></section>
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
        "img-src * data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def page(ctx: Context):
    # A static page: it holds no secret and spends nothing; the key stays in the visitor's browser.
    return Response(200, PAGE, dict(HEADERS))
