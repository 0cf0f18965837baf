"""The playground page at GET /, driven in Debian's headless Chromium through Playwright.

Playwright's Python package brings only its driver; the browser is the system's
/usr/bin/chromium (CI installs it in .ci/run), so no browser build is downloaded.
A missing Chromium fails these tests with a message saying so: they never skip.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import tempfile
import time
import wave
import zlib
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.wrappers import Response

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 960}
CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"  # what gpt-4o-mini resolves to
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"  # the emulator's image is a real (1x1) PNG
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the playground tests drive the system Chromium. "
            "Install it with `apt-get install -y chromium` (CI's .ci/run does), or set CHROMIUM_PATH.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        yield browser
        browser.close()


class Visit:
    """A fresh browser context on one gateway, recording every request and console error."""

    def __init__(self, browser: Browser, base_url: str):
        self.context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        self.page.goto(f"{base_url}/")

    def paste_key(self, key: str):
        self.page.fill("#key", key)

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, gateway):
    opened = Visit(browser, gateway.url)
    yield opened
    opened.close()


def tiny_wav(seconds: float = 0.05, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        samples = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0], kind
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    assert len(raw) == height * (stride + 1)
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def test_playground_chat_image_translation_and_transcription(visit, gateway):
    page = visit.page
    assert page.title() == "Workers AI gateway — playground"
    visit.paste_key(gateway.api_key)
    expect(page.locator("#key-status")).to_contain_text("Key accepted")

    # Chat models only, gpt-4o-mini chosen by default.
    models = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {gateway.api_key}"}).json()["data"]
    offered = page.eval_on_selector_all("#chat-model option", "options => options.map(o => o.value)")
    assert sorted(offered) == sorted(m["id"] for m in models if m["task"] == "chat")
    assert "@cf/baai/bge-m3" not in offered and page.input_value("#chat-model") == "gpt-4o-mini"

    page.fill("#chat-prompt", "Hello from Chromium")
    page.click("#chat-send")
    expect(page.locator("#chat-form")).to_have_attribute("data-state", "done")
    expect(page.locator("#chat-output")).to_have_text(f"This is {CHAT_MODEL} (emulated). You said: Hello from Chromium")
    expect(page.locator("#chat-error")).to_be_empty()

    page.select_option("#image-model", SDXL)
    page.fill("#image-prompt", "a red bicycle")
    page.click("#image-send")
    expect(page.locator("#image-form")).to_have_attribute("data-state", "done")
    image = page.locator("#image-output")
    assert image.get_attribute("src").startswith(f"{gateway.url}/file/images/")
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0
    assert image.bounding_box()["width"] > 100  # scaled up to be seen
    expect(page.locator("#image-link")).to_have_attribute("href", image.get_attribute("src"))

    page.fill("#translate-text", "Guten Morgen, wie geht es dir heute?")
    page.select_option("#translate-target", "EN")
    page.click("#translate-send")
    expect(page.locator("#translate-output")).to_have_text("[de->en] Guten Morgen, wie geht es dir heute?")
    expect(page.locator("#translate-detected")).to_have_text("Detected source language: DE")

    audio = tiny_wav()
    page.set_input_files("#audio-file", files=[{"name": "tone.wav", "mimeType": "audio/wav", "buffer": audio}])
    page.click("#audio-send")
    expect(page.locator("#audio-output")).to_have_text(f"Emulated transcript of {len(audio)} bytes of audio.")

    for name in ("chat", "image", "translate", "audio"):
        expect(page.locator(f"#{name}-error")).to_be_empty()
    # The key went to this origin only, and nothing was blocked or failed on the page.
    assert visit.requests and all(url.startswith(f"{gateway.url}/") for url in visit.requests), visit.requests
    assert visit.problems == []

    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "playground.png"
        page.screenshot(path=str(shot))
        width, height, rows = decode_png(shot.read_bytes())
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])
    bpp = len(rows[0]) // width
    pixels = [row[i:i + bpp] for row in rows[::4] for i in range(0, len(row), bpp * 4)]
    background = max(set(pixels), key=pixels.count)
    assert len(set(pixels)) > 20, "the screenshot is (nearly) one colour"
    assert pixels.count(background) / len(pixels) < 0.97, "the screenshot is blank"

    # The key stays in this browser: a reload finds it in localStorage.
    page.reload()
    assert page.input_value("#key") == gateway.api_key


def test_errors_from_each_envelope_are_shown(visit):
    page = visit.page
    visit.paste_key("sk-wrong")
    expect(page.locator("#key-status")).to_contain_text("401 invalid_api_key")
    page.click("#chat-send")
    expect(page.locator("#chat-error")).to_contain_text("401 invalid_api_key")
    page.click("#translate-send")  # DeepLX's {"code", "message"}
    expect(page.locator("#translate-error")).to_have_text(re.compile(r"^401: \S"))
    page.click("#audio-send")  # no file: the browser's own validation stops it, no request is made
    assert page.eval_on_selector("#audio-file", "input => input.validity.valueMissing")
    assert not any("/v1/audio/" in url for url in visit.requests)


def test_chat_deltas_are_rendered_as_they_arrive(browser, scripted_gateway, httpserver):
    words = [f"w{i} " for i in range(6)]

    def generate():
        for i, word in enumerate(words):
            if i:
                time.sleep(0.25)
            yield f"data: {json.dumps({'response': word})}\n\n".encode()
        yield b'data: {"error": "model crashed"}\n\n'  # then the stream breaks

    httpserver.expect_oneshot_request("/ai/run").respond_with_response(Response(generate(), content_type="text/event-stream"))
    visit = Visit(browser, scripted_gateway.url)
    try:
        page = visit.page
        visit.paste_key(scripted_gateway.api_key)
        expect(page.locator("#key-status")).to_contain_text("Key accepted")
        page.evaluate("""() => { window.seen = [];
            new MutationObserver(() => seen.push([performance.now(), document.getElementById('chat-output').textContent]))
              .observe(document.getElementById('chat-output'), {childList: true, characterData: true, subtree: true}); }""")
        page.click("#chat-send")
        expect(page.locator("#chat-form")).to_have_attribute("data-state", "error")
        seen = page.evaluate("seen")
        texts = [text for _, text in seen if text]
        assert texts[-1] == "".join(words)
        # Each word showed up on its own, about 250 ms apart: not all at the end.
        assert ["".join(words[:n]) for n in range(1, len(words) + 1)] == list(dict.fromkeys(texts))
        assert seen[-1][0] - next(t for t, text in seen if text) > 1000
        # A cut stream keeps what came and says it broke.
        expect(page.locator("#chat-error")).to_contain_text("The stream broke")
        expect(page.locator("#chat-output")).to_have_text("".join(words))
    finally:
        visit.close()
