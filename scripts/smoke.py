#!/usr/bin/env python3
"""Smoke check of a deployed (or local) gateway: every endpoint once, with tiny inputs.

    python3 scripts/smoke.py https://ai.example.com sk-...
    python3 scripts/smoke.py http://127.0.0.1:8787 sk-local-dev

Prints a pass/fail table with each call's latency and exits 1 if any check failed
(2 for bad arguments). Standard library only: any python3 >= 3.11 runs it as it is.
When the worker sets TRANSLATE_PASSWORD, pass it with --translate-secret (the
translate checks use the API key otherwise). Costs a few dozen Workers AI neurons.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import wave
from dataclasses import dataclass
from typing import Callable

USER_AGENT = "workers-ai-gateway-smoke/1.0"


class CheckFailed(Exception):
    pass


@dataclass
class Row:
    name: str
    request: str
    status: int | None
    ms: float
    ok: bool
    detail: str


def expect(condition, message: str):
    if not condition:
        raise CheckFailed(message)


def error_message(body: bytes) -> str:
    """The message of any of the gateway's error envelopes, or the start of the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:120].decode("utf-8", "replace").strip() or "(empty body)"
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        errors = error.get("errors")
        message = error.get("message") or (errors[0].get("message") if errors else None) or json.dumps(error)[:120]
        return f"{code}: {message}" if code else str(message)
    return str(error)[:120]


def tiny_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A second of a 440 Hz tone, 16-bit mono: a valid WAV of about 32 KB."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        frames = (struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate)))
        wav.writeframes(b"".join(frames))
    return out.getvalue()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content_type, data) in files.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Gateway:
    def __init__(self, base_url: str, key: str, translate_secret: str, timeout: float):
        base = base_url.rstrip("/")
        self.base = base[:-3] if base.endswith("/v1") else base
        self.key, self.translate_secret, self.timeout = key, translate_secret, timeout
        self.status: int | None = None

    def open(self, method: str, url: str, *, json_body=None, data: bytes | None = None, content_type: str | None = None,
             headers: dict | None = None, auth: bool = True):
        """The open response; raises CheckFailed with the status and the envelope's message on an HTTP error."""
        url = url if url.startswith(("http://", "https://")) else self.base + url
        headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if auth:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        if json_body is not None:
            data, content_type = json.dumps(json_body).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        self.status = None
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            self.status = error.code
            raise CheckFailed(f"HTTP {error.code} {error_message(error.read())}") from None
        except (urllib.error.URLError, OSError) as error:
            raise CheckFailed(f"no answer: {getattr(error, 'reason', error)}") from None
        self.status = response.status
        return response

    def call(self, method: str, url: str, **kwargs) -> tuple[dict, bytes]:
        with self.open(method, url, **kwargs) as response:
            return dict(response.headers), response.read()

    def json(self, method: str, url: str, **kwargs):
        _, body = self.call(method, url, **kwargs)
        try:
            return json.loads(body)
        except ValueError:
            raise CheckFailed(f"not JSON: {body[:80]!r}") from None


def short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the checks: each returns a short detail, or raises CheckFailed -----------------------------

def check_health(gw: Gateway) -> str:
    body = gw.json("GET", "/health", auth=False)
    expect(body.get("status") == "ok", f"status {body.get('status')!r}")
    missing = [name for name, bound in (body.get("bindings") or {}).items() if not bound]
    expect(not missing, f"binding missing: {', '.join(missing)} (see wrangler.toml)")
    return f"version {body.get('version')}, runtime {body.get('runtime')}"


def check_models(gw: Gateway) -> str:
    headers, body = gw.call("GET", "/v1/models")
    data = json.loads(body).get("data") or []
    expect(data, "empty model list")
    tasks = sorted({m.get("task") for m in data})
    source = {k.lower(): v for k, v in headers.items()}.get("x-catalog-source", "?")
    return f"{len(data)} models, {source} ({', '.join(tasks)})"


def check_moderation(gw: Gateway) -> str:
    body = gw.json("POST", "/v1/moderations", json_body={"input": "Have a nice day."})
    result = body["results"][0]
    expect(result.get("flagged") is False, f"a friendly line was flagged: {short(json.dumps(result))}")
    return f"{body.get('model')}: not flagged"


def check_chat(gw: Gateway) -> str:
    body = gw.json("POST", "/v1/chat/completions", json_body={
        "model": "gpt-4o-mini", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello in three words."}]})
    content = body["choices"][0]["message"]["content"]
    expect(isinstance(content, str) and content.strip(), "empty answer")
    return f"{body.get('model')}: {short(content, 40)}"


def check_chat_stream(gw: Gateway) -> str:
    started, first, text, done = time.monotonic(), None, [], False
    with gw.open("POST", "/v1/chat/completions", json_body={
        "model": "gpt-4o-mini", "max_tokens": 16, "stream": True,
        "messages": [{"role": "user", "content": "Count to three."}]}) as response:
        expect(response.headers.get("Content-Type", "").startswith("text/event-stream"), "not an event stream")
        for raw in response:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            expect("error" not in chunk, f"error event: {error_message(data.encode())}")
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    first = first or time.monotonic()
                    text.append(piece)
    expect(done, "the stream ended without [DONE]")
    expect("".join(text).strip(), "no content in the stream")
    return f"first token {round((first - started) * 1000)} ms, {len(text)} chunks"


def check_completions(gw: Gateway) -> str:
    body = gw.json("POST", "/v1/completions", json_body={"model": "gpt-4o-mini", "max_tokens": 16, "prompt": "Say hello."})
    text = body["choices"][0]["text"]
    expect(body.get("object") == "text_completion" and isinstance(text, str) and text.strip(), "empty completion")
    return f"{body.get('model')}: {short(text, 40)}"


def check_responses(gw: Gateway) -> str:
    body = gw.json("POST", "/v1/responses", json_body={"model": "gpt-4o-mini", "max_output_tokens": 16, "input": "Say hello."})
    texts = [part.get("text", "") for item in body.get("output") or [] if item.get("type") == "message"
             for part in item.get("content") or []]
    expect(body.get("object") == "response" and "".join(texts).strip(), f"no output text: {short(json.dumps(body))}")
    return f"{body.get('status')}: {short(''.join(texts), 40)}"


def check_embeddings(gw: Gateway) -> str:
    body = gw.json("POST", "/v1/embeddings", json_body={"model": "text-embedding-3-small", "input": ["hello world"]})
    vector = body["data"][0]["embedding"]
    expect(isinstance(vector, list) and vector and all(isinstance(x, (int, float)) for x in vector), "no vector")
    return f"{body.get('model')}: {len(vector)} dimensions"


def check_image(gw: Gateway, found: dict) -> str:
    body = gw.json("POST", "/v1/images/generations", json_body={
        "prompt": "a small red apple on a white table", "n": 1, "response_format": "url"})
    url = body["data"][0].get("url")
    expect(isinstance(url, str) and "/file/" in url, f"no /file/ URL: {short(json.dumps(body))}")
    found["image_url"] = url
    return short(url.rsplit("/file/", 1)[-1], 48)


def check_image_file(gw: Gateway, found: dict) -> str:
    url = found.get("image_url")
    expect(url, "no image URL (the image check failed)")
    headers, body = gw.call("GET", url, auth=False)
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    expect(content_type.startswith("image/") and body, f"{content_type or 'no type'}, {len(body)} bytes")
    return f"{content_type}, {len(body)} bytes"


def check_transcription(gw: Gateway) -> str:
    data, content_type = multipart({"model": "whisper-1"}, {"file": ("tone.wav", "audio/wav", tiny_wav())})
    body = gw.json("POST", "/v1/audio/transcriptions", data=data, content_type=content_type)
    expect(isinstance(body.get("text"), str), "no `text`")
    return f"text {short(body['text'], 40)!r}"  # a tone may well transcribe to nothing


def check_speech(gw: Gateway) -> str:
    headers, body = gw.call("POST", "/v1/audio/speech", json_body={"model": "tts-1", "input": "Hello.", "voice": "alloy"})
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    expect(content_type.startswith("audio/") and body, f"{content_type or 'no type'}, {len(body)} bytes")
    return f"{content_type}, {len(body)} bytes"


GERMAN = "Guten Morgen, wie geht es dir heute?"
FRENCH = "Bonjour tout le monde, merci beaucoup."


def check_deeplx(gw: Gateway) -> str:
    query = urllib.parse.urlencode({"password": gw.translate_secret})
    body = gw.json("POST", f"/translate?{query}", auth=False,
                   json_body={"text": GERMAN, "source_lang": "auto", "target_lang": "EN"})
    expect(body.get("code") == 200 and isinstance(body.get("data"), str) and body["data"], short(json.dumps(body)))
    expect(body["data"] != GERMAN, f"came back untouched (source detected as {body.get('source_lang')})")
    return f"{body.get('source_lang')}→EN: {short(body['data'], 40)}"


def check_deepl_v2(gw: Gateway) -> str:
    body = gw.json("POST", "/v2/translate", auth=False, headers={"Authorization": f"DeepL-Auth-Key {gw.translate_secret}"},
                   json_body={"text": [FRENCH], "target_lang": "EN"})
    item = body["translations"][0]
    expect(item.get("text"), "empty translation")
    expect(item["text"] != FRENCH, f"came back untouched (source detected as {item.get('detected_source_language')})")
    return f"{item.get('detected_source_language')}→EN: {short(item['text'], 40)}"


def check_deepl_usage(gw: Gateway) -> str:
    body = gw.json("GET", "/v2/usage", auth=False, headers={"Authorization": f"DeepL-Auth-Key {gw.translate_secret}"})
    expect(isinstance(body.get("character_count"), int) and isinstance(body.get("character_limit"), int), short(json.dumps(body)))
    return f"{body['character_count']} of {body['character_limit']} characters today"


def checks(found: dict) -> list[tuple[str, str, Callable[[Gateway], str]]]:
    return [
        ("health", "GET /health", check_health),
        ("models", "GET /v1/models", check_models),
        ("chat", "POST /v1/chat/completions", check_chat),
        ("chat-stream", "POST /v1/chat/completions stream", check_chat_stream),
        ("completions", "POST /v1/completions", check_completions),
        ("responses", "POST /v1/responses", check_responses),
        ("embeddings", "POST /v1/embeddings", check_embeddings),
        ("image", "POST /v1/images/generations", lambda gw: check_image(gw, found)),
        ("image-file", "GET /file/<key>", lambda gw: check_image_file(gw, found)),
        ("transcription", "POST /v1/audio/transcriptions", check_transcription),
        ("speech", "POST /v1/audio/speech", check_speech),
        ("moderation", "POST /v1/moderations", check_moderation),
        ("deeplx", "POST /translate?password=", check_deeplx),
        ("deepl-v2", "POST /v2/translate", check_deepl_v2),
        ("deepl-usage", "GET /v2/usage", check_deepl_usage),
    ]


def run(gw: Gateway) -> list[Row]:
    rows, found = [], {}
    for name, request, check in checks(found):
        started, gw.status = time.monotonic(), None
        try:
            detail, ok = check(gw), True
        except CheckFailed as error:
            detail, ok = str(error), False
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            detail, ok = f"unexpected answer: {type(error).__name__} {error}", False
        rows.append(Row(name, request, gw.status, (time.monotonic() - started) * 1000, ok, detail))
    return rows


def table(rows: list[Row]) -> str:
    header = ("check", "request", "status", "ms", "result", "detail")
    lines = [(r.name, r.request, str(r.status or "-"), f"{r.ms:.0f}", "pass" if r.ok else "FAIL", short(r.detail, 70)) for r in rows]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(5)]
    fmt = lambda cells: "  ".join([cells[0].ljust(widths[0]), cells[1].ljust(widths[1]), cells[2].rjust(widths[2]),
                                   cells[3].rjust(widths[3]), cells[4].ljust(widths[4]), cells[5]]).rstrip()
    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths) + ("-" * 6,)), *map(fmt, lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Call every endpoint of a gateway with tiny inputs; print a pass/fail table.")
    parser.add_argument("base_url", help="the worker's address, e.g. https://ai.example.com")
    parser.add_argument("key", help="one of the worker's API_KEYS")
    parser.add_argument("--translate-secret", help="TRANSLATE_PASSWORD, when the worker sets one (default: the key)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request (default 120)")
    args = parser.parse_args(argv)
    if not args.base_url.startswith(("http://", "https://")):
        parser.error("base_url must start with http:// or https://")
    gw = Gateway(args.base_url, args.key, args.translate_secret or args.key, args.timeout)
    print(f"Smoke check of {gw.base}\n")
    rows = run(gw)
    print(table(rows))
    failed = sum(not r.ok for r in rows)
    print(f"\n{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
