"""The playground page at GET /, driven in Debian's headless Chromium through Playwright.

Playwright's Python package brings only its driver; the browser is the system's
/usr/bin/chromium (CI installs it in .ci/run), so no browser build is downloaded.
A missing Chromium fails these tests with a message saying so: they never skip.

The accessibility scan is axe-core (npm, pinned in package.json), injected into the page
by the test. `UPDATE_SCREENSHOTS=1` writes the screenshots to docs/ (the README shows one).
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import time
import wave
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.wrappers import Response

from support.local_gateway import ROOT, LocalGateway

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"  # what gpt-4o-mini resolves to
FLUX = "@cf/black-forest-labs/flux-1-schnell"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs"
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


@pytest.fixture(scope="module")
def fresh():
    """A gateway started as `npm start` starts it: no API_KEYS, so the local development key."""
    local = LocalGateway(api_keys=None)
    yield local
    local.stop()


class Visit:
    """A fresh browser context on one gateway, recording every request and console error."""

    def __init__(self, browser: Browser, base_url: str, viewport=DESKTOP, color_scheme="light"):
        self.context = browser.new_context(viewport=viewport, device_scale_factor=1, color_scheme=color_scheme)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.requests: list = []
        self.problems: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        self.page.goto(f"{base_url}/")

    def paste_key(self, key: str):
        self.page.fill("#key", key)

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def close(self):
        self.context.close()


def tiny_wav(seconds: float = 0.05, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        samples = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def axe_scan(page: Page) -> dict:
    """axe-core's WCAG 2.x A/AA rules and best practices on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())  # evaluated by the test driver: the page's CSP does not apply
    return page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
                                          resultTypes: ["violations", "incomplete"]});
        return {version: axe.version, passes: r.passes.length, incomplete: r.incomplete.map(v => v.id + " on " + v.nodes.map(n => n.target.join(" ")).join(", ")),
                violations: r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" ") + " " + n.failureSummary)}))};
    }""")


def assert_accessible(page: Page, label: str) -> dict:
    scan = axe_scan(page)
    print(f"axe-core {scan['version']} [{label}]: {scan['passes']} rules passed, {len(scan['violations'])} violated "
          f"({', '.join(v['id'] + '/' + str(v['impact']) for v in scan['violations']) or 'none'}), "
          f"{len(scan['incomplete'])} to review by a person ({', '.join(scan['incomplete']) or 'none'})")
    serious = [v for v in scan["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, json.dumps(serious, indent=1)
    assert not scan["violations"], json.dumps(scan["violations"], indent=1)
    return scan


def assert_touch_targets(page: Page):
    """Every visible control is at least 44 x 44 CSS pixels (a checkbox counts with its label)."""
    small = page.evaluate("""() => [...document.querySelectorAll('button, select, input:not([type=checkbox]), label.check, summary, a[href], audio[src]')]
        .filter(el => el.offsetParent !== null)
        .map(el => [el.id || el.textContent.trim().slice(0, 30) || el.tagName, el.getBoundingClientRect()])
        .filter(([, r]) => r.height < 44 || r.width < 44).map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)""")
    assert small == [], small


def screenshot(page: Page, name: str, viewport: dict) -> Image.Image:
    data = page.screenshot()
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(exist_ok=True)
        (SCREENSHOTS / name).write_bytes(data)
    shot = Image.open(io.BytesIO(data)).convert("RGB")
    assert shot.size == (viewport["width"], viewport["height"])
    assert len(shot.getcolors(maxcolors=1 << 20)) > 200, "the screenshot is (nearly) one colour"
    assert max(ImageStat.Stat(shot).stddev) > 15, "the screenshot is blank"
    # Nothing spills sideways: the page is as wide as the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    return shot


def chat_bodies(visit: Visit) -> list[dict]:
    return [json.loads(r.post_data) for r in visit.requests if r.url.endswith("/v1/chat/completions") and r.method == "POST"]


def test_first_run_shows_a_picture_speech_a_multi_turn_chat_and_a_translation(browser, fresh):
    """`npm start`, open the page, paste the development key: everything works and shows real results."""
    assert fresh.api_key is None  # started without API_KEYS, like `npm start`
    visit = Visit(browser, fresh.url)
    try:
        page = visit.page
        assert page.title() == "Workers AI gateway — playground"
        expect(page.locator("#key-status")).to_have_text("No key yet.")
        assert not page.is_checked("#remember")  # remembering the key is the visitor's choice
        visit.paste_key("sk-local-dev")
        expect(page.locator("#key-status")).to_contain_text("Key accepted")
        assert page.evaluate("localStorage.length") == 0

        models = httpx.get(f"{fresh.url}/v1/models", headers={"Authorization": "Bearer sk-local-dev"}).json()["data"]
        offered = page.eval_on_selector_all("#chat-model option", "options => options.map(o => o.value)")
        assert sorted(offered) == sorted(m["id"] for m in models if m["task"] == "chat")
        assert page.input_value("#chat-model") == "gpt-4o-mini"

        # A multi-turn chat: the second request carries the first exchange.
        page.fill("#chat-prompt", "Hello from Chromium")
        page.click("#chat-send")
        expect(page.locator("#chat-form")).to_have_attribute("data-state", "done")
        page.fill("#chat-prompt", "And a second question")
        page.click("#chat-send")
        expect(page.locator("#chat-log .msg")).to_have_count(4)
        expect(page.locator("#chat-form")).to_have_attribute("data-state", "done")
        answers = page.locator("#chat-log .msg.assistant .text")
        expect(answers.nth(0)).to_have_text(f"This is {CHAT_MODEL} (emulated). You said: Hello from Chromium")
        expect(answers.nth(1)).to_have_text(f"This is {CHAT_MODEL} (emulated). You said: And a second question")
        second = chat_bodies(visit)[-1]
        assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
        assert second["messages"][1]["content"] == f"This is {CHAT_MODEL} (emulated). You said: Hello from Chromium"
        expect(page.locator("#chat-usage")).to_contain_text("completion tokens, 2 turn(s)")
        expect(page.locator("#chat-status")).to_have_text("Answer complete.")

        # A picture: the default model at its default size, then SDXL at a size from /v1/models.
        flux = next(m for m in models if m["id"] == FLUX)
        assert page.input_value("#image-model") == FLUX
        assert page.eval_on_selector_all("#image-size option", "o => o.map(x => x.value)") == flux["sizes"] == ["1024x1024"]
        page.click("#image-send")
        expect(page.locator("#image-form")).to_have_attribute("data-state", "done")
        image = page.locator("#image-output")
        assert image.get_attribute("src").startswith(f"{fresh.url}/file/images/")
        assert image.evaluate("img => img.complete && img.naturalWidth") == 1024
        page.select_option("#image-model", SDXL)
        sdxl = next(m for m in models if m["id"] == SDXL)
        assert page.eval_on_selector_all("#image-size option", "o => o.map(x => x.value)") == sdxl["sizes"]
        page.select_option("#image-size", "768x1024")
        page.fill("#image-prompt", "a red bicycle")
        page.click("#image-send")
        expect(page.locator("#image-usage")).to_contain_text("768×1024")
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [768, 1024]
        assert image.bounding_box()["width"] > 100  # scaled to be seen
        expect(page.locator("#image-link")).to_have_attribute("href", image.get_attribute("src"))

        # Speech: the player loads audio about as long as the text takes to say.
        text = "Hello from the Workers AI gateway, speaking in the playground."
        page.fill("#speech-text", text)
        page.click("#speech-send")
        expect(page.locator("#speech-form")).to_have_attribute("data-state", "done")
        player = page.locator("#speech-audio")
        duration = player.evaluate("a => a.readyState >= 1 ? a.duration : 0")
        assert len(text) / 15 * 0.8 < duration < len(text) / 15 * 1.5, duration
        expect(page.locator("#speech-usage")).to_contain_text("s of audio/mpeg")
        player.evaluate("a => a.play()")  # it plays: the position moves on
        page.wait_for_function("() => document.getElementById('speech-audio').currentTime > 0.2")
        player.evaluate("a => a.pause()")

        page.fill("#translate-text", "Guten Morgen, wie geht es dir heute?")
        page.select_option("#translate-target", "EN")
        page.click("#translate-send")
        expect(page.locator("#translate-output")).to_have_text("[de->en] Guten Morgen, wie geht es dir heute?")
        expect(page.locator("#translate-detected")).to_have_text("Detected source language: DE")

        audio = tiny_wav()
        page.set_input_files("#audio-file", files=[{"name": "tone.wav", "mimeType": "audio/wav", "buffer": audio}])
        page.click("#audio-send")
        expect(page.locator("#audio-output")).to_have_text(f"Emulated transcript of {len(audio)} bytes of audio.")
        # The speech made above goes to whisper without being saved first.
        page.click("#audio-use-speech")
        name, spoken = page.eval_on_selector("#audio-file", "input => [input.files[0].name, input.files[0].size]")
        assert name == "speech.mp3" and spoken > 1000
        page.click("#audio-send")
        expect(page.locator("#audio-output")).to_have_text(f"Emulated transcript of {spoken} bytes of audio.")

        for name in ("chat", "image", "speech", "translate", "audio"):
            expect(page.locator(f"#{name}-error")).to_be_empty()
            expect(page.locator(f"#{name}-usage")).to_contain_text("Last request: ")
        # The key went to this origin only, and nothing was blocked or failed on the page.
        assert visit.requests and all(url.startswith(f"{fresh.url}/") or url.startswith("blob:") for url in visit.urls()), visit.urls()
        assert visit.problems == []

        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "playground-1280x800.png", DESKTOP)
        assert_touch_targets(page)
        assert_accessible(page, "1280x800, light, after every tool ran")
        page.set_viewport_size(PHONE)
        screenshot(page, "playground-390x844.png", PHONE)
        assert_touch_targets(page)
        assert_accessible(page, "390x844, light")

        # Not remembered unless asked: a reload forgets the key; ticking the box keeps it.
        page.reload()
        assert page.input_value("#key") == ""
        visit.paste_key("sk-local-dev")
        page.check("#remember")
        page.reload()
        assert page.input_value("#key") == "sk-local-dev" and page.is_checked("#remember")
        page.uncheck("#remember")
        assert page.evaluate("localStorage.length") == 0
    finally:
        visit.close()


def test_errors_show_next_to_their_control_in_light_and_dark(browser, gateway):
    for scheme in ("light", "dark"):
        visit = Visit(browser, gateway.url, color_scheme=scheme)
        try:
            page = visit.page
            visit.paste_key("sk-wrong")
            expect(page.locator("#key-status")).to_contain_text("401 invalid_api_key")
            page.click("#chat-send")
            expect(page.locator("#chat-error")).to_contain_text("401 invalid_api_key")
            page.click("#translate-send")  # DeepLX's {"code", "message"}
            expect(page.locator("#translate-error")).to_contain_text("401: ")
            page.click("#speech-send")
            expect(page.locator("#speech-error")).to_contain_text("401 invalid_api_key")
            # Each error sits right under the button that caused it.
            for name in ("chat", "translate", "speech"):
                button, error = page.locator(f"#{name}-send").bounding_box(), page.locator(f"#{name}-error").bounding_box()
                assert 0 <= error["y"] - (button["y"] + button["height"]) < 40, (name, button, error)
                assert page.get_attribute(f"#{name}-send", "aria-describedby") == f"{name}-error"
            # A failed first turn leaves no half conversation: the message is back in the box.
            expect(page.locator("#chat-log .msg")).to_have_count(0)
            assert page.input_value("#chat-prompt") == "Hello! Who are you?"
            page.click("#audio-send")  # no file: the browser's own validation stops it, no request is made
            assert page.eval_on_selector("#audio-file", "input => input.validity.valueMissing")
            assert not any("/v1/audio/transcriptions" in url for url in visit.urls())
            assert_accessible(page, f"1280x800, {scheme}, errors shown")
        finally:
            visit.close()


def scripted_stream(events: list[dict], pause: float, then: bytes = b"data: [DONE]\n\n"):
    def generate():
        for i, event in enumerate(events):
            if i:
                time.sleep(pause)
            yield f"data: {json.dumps(event)}\n\n".encode()
        yield then
    return Response(generate(), content_type="text/event-stream")


def test_chat_deltas_are_rendered_as_they_arrive(browser, scripted_gateway, httpserver):
    words = [f"w{i} " for i in range(6)]
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(
        scripted_stream([{"response": w} for w in words], 0.25, then=b'data: {"error": "model crashed"}\n\n'))
    visit = Visit(browser, scripted_gateway.url)
    try:
        page = visit.page
        visit.paste_key(scripted_gateway.api_key)
        expect(page.locator("#key-status")).to_contain_text("Key accepted")
        page.evaluate("""() => { window.seen = [];
            new MutationObserver(() => { const t = document.querySelector('#chat-log .msg.assistant .text');
              if (t) seen.push([performance.now(), t.textContent]); })
              .observe(document.getElementById('chat-log'), {childList: true, characterData: true, subtree: true}); }""")
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
        expect(page.locator("#chat-log .msg.assistant .text")).to_have_text("".join(words))
        # The streamed text is not a live region (screen readers would read every token); one status line is.
        assert page.get_attribute("#chat-log", "aria-live") in (None, "off")
        assert page.locator("#chat-log [aria-live]").count() == 0
        expect(page.locator("#chat-status")).to_have_text("The answer failed.")
    finally:
        visit.close()


def test_reasoning_is_folded_and_stop_keeps_the_partial_answer(browser, scripted_gateway, httpserver):
    model = "@cf/openai/gpt-oss-20b"
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": model}
    thinking = [{**base, "choices": [{"index": 0, "delta": {"reasoning_content": t}, "finish_reason": None}]} for t in ("Let me ", "think.")]
    answer = [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in ("One ", "two ", "three ")]
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(scripted_stream(thinking + answer + answer * 20, 0.3))
    visit = Visit(browser, scripted_gateway.url)
    try:
        page = visit.page
        visit.paste_key(scripted_gateway.api_key)
        expect(page.locator("#key-status")).to_contain_text("Key accepted")
        page.select_option("#chat-model", model)
        expect(page.locator("#chat-stop")).to_be_disabled()
        page.fill("#chat-prompt", "Count")
        page.click("#chat-send")
        reply = page.locator("#chat-log .msg.assistant")
        expect(reply.locator(".text")).to_contain_text("One two")
        details = reply.locator("details")
        expect(details.locator("summary")).to_have_text("Reasoning")
        assert details.get_attribute("open") is None  # folded
        expect(details).to_contain_text("Let me think.")
        assert not details.locator("div").is_visible()
        page.click("#chat-stop")
        expect(page.locator("#chat-status")).to_have_text("Stopped.")
        expect(reply.locator(".text")).to_contain_text("[stopped]")
        partial = reply.locator(".text").text_content().replace(" [stopped]", "")
        full = "".join(e["choices"][0]["delta"]["content"] for e in answer * 21)
        assert partial.startswith("One two") and full.startswith(partial) and len(partial) < len(full) / 2
        expect(page.locator("#chat-stop")).to_be_disabled()
        expect(page.locator("#chat-send")).to_be_enabled()
        details.locator("summary").click()
        expect(details.locator("div")).to_be_visible()

        # The next turn carries the partial answer.
        httpserver.expect_oneshot_request("/ai/run").respond_with_response(scripted_stream(answer, 0))
        page.fill("#chat-prompt", "Go on")
        page.click("#chat-send")
        expect(page.locator("#chat-log .msg")).to_have_count(4)
        messages = chat_bodies(visit)[-1]["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"] and messages[1]["content"] == partial
        page.click("#chat-new")
        expect(page.locator("#chat-log .msg")).to_have_count(0)
    finally:
        visit.close()


@pytest.mark.parametrize("model, fmt, audible", [
    ("tts-1", "mp3", True), ("@cf/deepgram/aura-1", "mp3", True), ("@cf/deepgram/aura-1", "wav", True),
    ("@cf/deepgram/aura-1", "flac", True), ("@cf/deepgram/aura-1", "aac", True),
    ("@cf/deepgram/aura-1", "opus", False),  # valid Ogg Opus, but silence: no Opus encoder in the emulator
])
def test_chromium_decodes_every_speech_format(browser, gateway, model, fmt, audible):
    text = "Every format the speech endpoint offers decodes in a browser."
    response = httpx.post(f"{gateway.url}/v1/audio/speech", headers={"Authorization": f"Bearer {gateway.api_key}"},
                          json={"model": model, "input": text, "response_format": fmt}, timeout=30)
    assert response.status_code == 200, response.text
    page = browser.new_page()
    try:
        decoded = page.evaluate("""async (bytes) => {
            const buffer = await new OfflineAudioContext(1, 48000, 48000).decodeAudioData(new Uint8Array(bytes).buffer);
            const samples = buffer.getChannelData(0);
            return {duration: buffer.duration, peak: samples.reduce((m, x) => Math.max(m, Math.abs(x)), 0)};
        }""", list(response.content))
    finally:
        page.close()
    assert len(text) / 15 * 0.8 < decoded["duration"] < len(text) / 15 * 1.5, decoded
    if audible:
        assert 0.05 < decoded["peak"] < 1, decoded
    else:
        assert decoded["peak"] < 0.001, decoded
