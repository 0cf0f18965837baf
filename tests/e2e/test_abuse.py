"""Abuse resistance (issue 16): what one request may spend — AI calls, memory, time — and inputs that
must never crash a response. Each test reproduces one finding against the worker in workerd, counts
Workers AI calls through the scripted upstream (pytest-httpserver) and reads the Python heap from
/health; the figures are printed (`-s`) for the closing note.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from urllib.parse import urlencode

import httpx
import pytest
from werkzeug.wrappers import Response

from support.local_gateway import LocalGateway

CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINT = "@cf/runwayml/stable-diffusion-v1-5-inpainting"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
KEY = {"Authorization": "Bearer sk-test-key"}
MiB = 1024 * 1024


def figure(name: str, **values) -> None:
    print(f"FIGURE {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


def heap(gateway) -> float:
    return httpx.get(f"{gateway.url}/health").json()["python_heap_mib"]


def ai_calls(httpserver) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == "/ai/run")


def translated(request):
    text = json.loads(request.get_data())["inputs"]["text"]
    return Response(json.dumps({"translated_text": f"T({text})"}), content_type="application/json")


def image_answer(request):
    return Response(json.dumps({"image": base64.b64encode(PNG).decode()}), content_type="application/json")


def any_answer(request):
    """What each kind of model answers: a translation, a transcription or an image."""
    model = json.loads(request.get_data())["model"]
    if "m2m100" in model:
        return translated(request)
    if "whisper" in model:
        return Response(json.dumps({"text": "heard", "transcription_info": {}}), content_type="application/json")
    return image_answer(request)


def _gateway(make_httpserver, **env):
    return LocalGateway(api_keys="sk-test-key", upstream=make_httpserver.url_for("/"), extra_env=env)


@pytest.fixture(scope="module")
def tight(make_httpserver):
    """A gateway with a budget of 3 AI calls and a 2 s fetch timeout."""
    local = _gateway(make_httpserver, MAX_AI_CALLS_PER_REQUEST="3", FETCH_TIMEOUT_SECONDS="2")
    yield local
    local.stop()


@pytest.fixture(scope="module")
def wide(make_httpserver):
    """A gateway whose budget allows 20 000 calls: only concurrency bounds a huge translation."""
    local = _gateway(make_httpserver, MAX_AI_CALLS_PER_REQUEST="20000")
    yield local
    local.stop()


@pytest.fixture
def scripted(scripted_gateway, httpserver):
    return scripted_gateway


# --- cost amplification: a per-request budget of AI calls, enforced before the first call ---------


def _lines(count: int, prefix: str = "line") -> str:
    return "\n".join(f"{prefix} {i}" for i in range(count))


@pytest.mark.parametrize("path, body, envelope", [
    ("/translate", {"text": _lines(9900), "source_lang": "EN", "target_lang": "DE"}, "deeplx"),
    ("/translate", {"text": "".join(f"<b>w{i}</b>" for i in range(5000)), "source_lang": "EN", "target_lang": "DE",
                    "tag_handling": "html"}, "deeplx"),
    ("/translate", {"text_list": [_lines(15, f"t{j}") for j in range(200)], "source_lang": "EN", "target_lang": "DE"}, "deeplx"),
    ("/ai/run/@cf/meta/m2m100-1.2b", {"text": _lines(2000), "source_lang": "en", "target_lang": "de"}, "cloudflare"),
])
def test_translation_beyond_the_budget_is_refused_before_any_call(scripted, httpserver, path, body, envelope):
    httpserver.expect_request("/ai/run").respond_with_handler(translated)
    started = time.monotonic()
    response = httpx.post(f"{scripted.url}{path}", headers=KEY, json=body, timeout=60)
    figure(f"budget {path} {envelope}", status=response.status_code, ai_calls=ai_calls(httpserver),
           seconds=round(time.monotonic() - started, 2))
    assert response.status_code == 400
    assert ai_calls(httpserver) == 0
    if envelope == "deeplx":
        assert response.json()["code"] == 400 and "at most 200" in response.json()["message"]
    else:
        assert response.json()["success"] is False and "at most 200" in response.json()["errors"][0]["message"]


def test_deepl_form_beyond_the_budget_is_refused_in_deepls_envelope(scripted, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(translated)
    form = [("text", f"a{i}\nb{i}") for i in range(200)] + [("target_lang", "DE"), ("source_lang", "EN")]
    response = httpx.post(f"{scripted.url}/v2/translate", headers={**KEY, "Content-Type": "application/x-www-form-urlencoded"},
                          content=urlencode(form), timeout=60)
    figure("budget /v2/translate form 400 segments", status=response.status_code, ai_calls=ai_calls(httpserver))
    assert response.status_code == 400 and ai_calls(httpserver) == 0
    assert set(response.json()) == {"message"} and "MAX_AI_CALLS_PER_REQUEST" in response.json()["message"]


def test_translation_within_the_budget_makes_one_call_per_distinct_line(scripted, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(translated)
    text = _lines(150) + "\n" + _lines(50)  # 50 repeated lines cost nothing more
    response = httpx.post(f"{scripted.url}/translate", headers=KEY, json={"text": text, "source_lang": "EN", "target_lang": "DE"})
    assert response.status_code == 200
    assert response.json()["data"].split("\n")[:2] == ["T(line 0)", "T(line 1)"]
    assert ai_calls(httpserver) == 150


def test_every_route_has_the_budget(tight, httpserver):
    """With MAX_AI_CALLS_PER_REQUEST=3: images n=4 and embeddings in 4 batches are refused before a call."""
    httpserver.expect_request("/ai/run").respond_with_handler(image_answer)
    images = httpx.post(f"{tight.url}/v1/images/generations", headers=KEY,
                        json={"model": "@cf/black-forest-labs/flux-1-schnell", "prompt": "p", "n": 4, "response_format": "b64_json"})
    embeddings = httpx.post(f"{tight.url}/v1/embeddings", headers=KEY, json={"model": "@cf/baai/bge-m3", "input": ["x"] * 350})
    translate = httpx.post(f"{tight.url}/translate", headers=KEY, json={"text": _lines(4), "source_lang": "EN", "target_lang": "DE"})
    figure("budget=3 on other routes", images=images.status_code, embeddings=embeddings.status_code,
           translate=translate.status_code, ai_calls=ai_calls(httpserver))
    assert images.status_code == embeddings.status_code == 400
    assert images.json()["error"]["code"] == embeddings.json()["error"]["code"] == "too_many_ai_calls"
    assert translate.status_code == 400 and translate.json()["code"] == 400
    assert ai_calls(httpserver) == 0
    ok = httpx.post(f"{tight.url}/v1/images/generations", headers=KEY,
                    json={"model": "@cf/black-forest-labs/flux-1-schnell", "prompt": "p", "n": 3, "response_format": "b64_json"})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 3 and ai_calls(httpserver) == 3


# --- fan-out: bounded concurrency, work created as slots free up -----------------------------------


def test_ten_thousand_lines_run_a_few_at_a_time_without_crashing(wide, httpserver):
    in_flight, peak, lock = [0], [0], threading.Lock()

    def counted(request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            time.sleep(0.001)
            return translated(request)
        finally:
            with lock:
                in_flight[0] -= 1

    httpserver.expect_request("/ai/run").respond_with_handler(counted)
    texts = ["\n".join(str(j * 50 + i) for i in range(50)) for j in range(200)]  # 10 000 distinct lines, < 50 000 chars
    started = time.monotonic()
    response = httpx.post(f"{wide.url}/translate", headers=KEY, json={"text_list": texts, "source_lang": "EN", "target_lang": "DE"},
                          timeout=300)
    figure("fan-out 10 000 lines", status=response.status_code, content_type=response.headers["content-type"],
           ai_calls=ai_calls(httpserver), peak_in_flight=peak[0], seconds=round(time.monotonic() - started, 1))
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert ai_calls(httpserver) == 10_000
    assert peak[0] <= 6
    assert response.json()["translations"][1]["text"].split("\n")[0] == "T(50)"


# --- strings that reach headers --------------------------------------------------------------------


@pytest.mark.parametrize("model", [CHAT_MODEL + "\r\nX-Evil: 1", CHAT_MODEL + "\n", "llama\0x", "m" * 100_000, "modèle"])
def test_model_names_unfit_for_a_header_are_400_before_any_call(scripted, httpserver, model):
    httpserver.expect_request("/ai/run").respond_with_json({"response": "hi"})
    response = httpx.post(f"{scripted.url}/v1/chat/completions", headers=KEY,
                          json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
    figure(f"model name {model[:12]!r} ({len(model)} chars)", status=response.status_code, ai_calls=ai_calls(httpserver),
           x_requested_model=len(response.headers.get("x-requested-model", "")))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_model" and response.json()["error"]["param"] == "model"
    assert ai_calls(httpserver) == 0


def test_bad_model_names_on_translate_routes_use_their_envelopes(scripted, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(translated)
    deeplx = httpx.post(f"{scripted.url}/translate", headers=KEY, json={"text": "hi", "target_lang": "DE", "model": "m2m100\r\nX: y"})
    ai_run = httpx.post(f"{scripted.url}/ai/run/@cf/meta/m2m100-1.2b%0D%0AX:%20y", headers=KEY, json={"text": "hi", "target_lang": "de"})
    assert deeplx.status_code == 400 and deeplx.json()["code"] == 400
    assert ai_run.status_code == 400 and ai_run.json()["success"] is False
    assert ai_calls(httpserver) == 0


# --- JSON that would build huge structures ---------------------------------------------------------


@pytest.mark.parametrize("depth", [50_000, 200_000])
def test_deeply_nested_json_is_a_400(scripted, depth):
    response = httpx.post(f"{scripted.url}/v1/chat/completions", headers={**KEY, "Content-Type": "application/json"},
                          content=b"[" * depth + b"]" * depth)
    figure(f"nested JSON depth {depth}", status=response.status_code, code=response.json()["error"]["code"])
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("json_too_deep", "json_too_complex")


def test_per_route_body_limits(scripted):
    # A translation needs 1 MB at most; 2 MB is refused from Content-Length in DeepLX's envelope.
    response = httpx.post(f"{scripted.url}/translate", headers=KEY, json={"text": "a" * (2 * MiB), "target_lang": "DE"})
    assert response.status_code == 413 and response.json()["code"] == 413
    speech = httpx.post(f"{scripted.url}/v1/audio/speech", headers=KEY, json={"model": "tts-1", "input": "a" * 100_000, "voice": "alloy"})
    assert speech.status_code == 413 and speech.json()["error"]["code"] == "request_too_large"


# --- odd upstream shapes and streams ---------------------------------------------------------------


@pytest.mark.parametrize("path, body, answer", [
    ("/v1/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]}, {"choices": [5]}),
    ("/v1/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]}, {"choices": [{"message": 5}]}),
    ("/v1/embeddings", {"model": "@cf/baai/bge-m3", "input": ["a"]}, {"data": [5]}),
    ("/v1/embeddings", {"model": "@cf/baai/bge-m3", "input": ["a"]}, {"data": [["a"]]}),
    ("/v1/audio/speech", {"model": "@cf/myshell-ai/melotts", "input": "hi"}, {"audio": "!!!"}),
])
def test_odd_upstream_shapes_are_a_502(scripted, httpserver, path, body, answer):
    httpserver.expect_request("/ai/run").respond_with_json(answer)
    response = httpx.post(f"{scripted.url}{path}", headers=KEY, json=body)
    figure(f"odd shape {path} {json.dumps(answer)}", status=response.status_code)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "server_error"


def _chat_stream(gateway):
    return httpx.post(f"{gateway.url}/v1/chat/completions", headers=KEY, timeout=120,
                      json={"model": CHAT_MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]})


def test_an_endless_sse_line_ends_the_stream_quickly(scripted, httpserver):
    def long_line(request):
        def generate():
            yield b'data: {"response": "'
            for _ in range(20):
                yield b"a" * 1_000_000
            yield b'"}\n\ndata: [DONE]\n\n'

        return Response(generate(), content_type="text/event-stream")

    httpserver.expect_request("/ai/run").respond_with_handler(long_line)
    started = time.monotonic()
    response = _chat_stream(scripted)
    seconds = time.monotonic() - started
    figure("SSE 20 MB line", status=response.status_code, seconds=round(seconds, 2), relayed_bytes=len(response.content))
    assert "stream_interrupted" in response.text and "data: [DONE]" not in response.text
    assert len(response.content) < 10_000
    assert seconds < 8


def test_relayed_answers_are_capped(scripted, httpserver):
    event = b'data: {"response": "' + b"x" * 4000 + b'"}\n\n'

    def huge(request):
        def generate():
            for _ in range(2600):  # ~10.4 MB of events
                yield event
            yield b"data: [DONE]\n\n"

        return Response(generate(), content_type="text/event-stream")

    httpserver.expect_request("/ai/run").respond_with_handler(huge)
    response = _chat_stream(scripted)
    figure("relayed stream of 10.4 MB", status=response.status_code, relayed_bytes=len(response.content))
    assert "stream_interrupted" in response.text and "data: [DONE]" not in response.text
    assert len(response.content) < 9 * MiB


# --- remote image fetches --------------------------------------------------------------------------


def _img2img(gateway, url, **extra):
    return httpx.post(f"{gateway.url}/v1/images/generations", headers=KEY, timeout=60,
                      json={"model": IMG2IMG, "prompt": "p", "image": url, "response_format": "b64_json", **extra})


def test_a_slow_image_url_times_out(tight, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(image_answer)

    def slow(request):
        time.sleep(6)
        return Response(PNG, content_type="image/png")

    httpserver.expect_request("/slow.png").respond_with_handler(slow)
    started = time.monotonic()
    response = _img2img(tight, httpserver.url_for("/slow.png"))
    seconds = time.monotonic() - started
    figure("image_url answering after 6 s, FETCH_TIMEOUT_SECONDS=2", status=response.status_code, seconds=round(seconds, 1))
    assert response.status_code == 400 and response.json()["error"]["code"] == "image_fetch_failed"
    assert seconds < 4.5 and ai_calls(httpserver) == 0


def test_redirects_are_followed_a_few_times_only(scripted, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(image_answer)
    httpserver.expect_request("/loop").respond_with_response(Response("", 302, headers={"Location": "/loop"}))
    httpserver.expect_request("/hop").respond_with_response(Response("", 301, headers={"Location": "/image.png"}))
    httpserver.expect_request("/image.png").respond_with_response(Response(PNG, content_type="image/png"))
    loop = _img2img(scripted, httpserver.url_for("/loop"))
    hop = _img2img(scripted, httpserver.url_for("/hop"))
    loops = sum(1 for request, _ in httpserver.log if request.path == "/loop")
    figure("image_url redirect loop", status=loop.status_code, fetches_of_loop=loops, one_hop=hop.status_code)
    assert loop.status_code == 400 and "redirects more than 3 times" in loop.json()["error"]["message"]
    assert loops == 4
    assert hop.status_code == 200


@pytest.mark.parametrize("target", ["text", "forbidden", "closed-port"])
def test_fetch_errors_are_generic(scripted, httpserver, target):
    httpserver.expect_request("/ai/run").respond_with_handler(image_answer)
    httpserver.expect_request("/text").respond_with_response(Response("<html>secret page</html>", content_type="text/html"))
    httpserver.expect_request("/forbidden").respond_with_response(Response("no", 403))
    url = {"text": httpserver.url_for("/text"), "forbidden": httpserver.url_for("/forbidden"),
           "closed-port": "http://127.0.0.1:1/x.png"}[target]
    response = _img2img(scripted, url)
    message = response.json()["error"]["message"]
    figure(f"image_url {target}", status=response.status_code, message=message)
    assert response.status_code == 400 and response.json()["error"]["code"] == "image_fetch_failed"
    assert "403" not in message and "secret" not in message and "connection" not in message.lower()
    assert ai_calls(httpserver) == 0


def test_image_and_mask_are_fetched_once_for_all_images(scripted, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(image_answer)
    httpserver.expect_request("/in.png").respond_with_response(Response(PNG, content_type="image/png"))
    response = httpx.post(f"{scripted.url}/v1/images/generations", headers=KEY, timeout=60, json={
        "model": INPAINT, "prompt": "p", "n": 4, "image": httpserver.url_for("/in.png"), "mask": httpserver.url_for("/in.png"),
        "response_format": "b64_json"})
    fetches = sum(1 for request, _ in httpserver.log if request.path == "/in.png")
    figure("n=4 with image and mask URLs", status=response.status_code, fetches=fetches, ai_calls=ai_calls(httpserver))
    assert response.status_code == 200 and len(response.json()["data"]) == 4
    assert fetches == 2 and ai_calls(httpserver) == 4
    sent = json.loads(httpserver.log[-1][0].get_data())["inputs"]
    assert base64.b64decode(sent["image_b64"]) == PNG and sent["mask"] == list(PNG)


# --- memory: the Python heap never shrinks, so bodies and fetches are refused as they stream --------


@pytest.fixture(scope="module")
def fresh(make_httpserver):
    """A gateway of its own, so its heap shows only what these tests made it allocate."""
    local = _gateway(make_httpserver)
    local.baseline_heap = heap(local)
    yield local
    local.stop()


# Refused attacks (oversized, chunked or too-complex bodies and fetches) leave the heap as it was.
ATTACK_HEAP_MIB = 2
# No request within the documented limits grows the Python heap by more than this.
WITHIN_LIMITS_HEAP_MIB = 16


def test_memory_attacks_are_refused_without_growing_the_heap(fresh, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(image_answer)

    def big(request):
        def generate():
            for _ in range(100):
                yield b"\0" * 1_000_000

        return Response(generate(), content_type="image/png")  # chunked: no Content-Length

    httpserver.expect_request("/big.png").respond_with_handler(big)
    results = {}

    def chunked_body():
        for _ in range(60):
            yield b"x" * 1_000_000

    response = httpx.post(f"{fresh.url}/v1/chat/completions", headers={**KEY, "Content-Type": "application/json"},
                          content=chunked_body(), timeout=120)
    results["chunked 60 MB body"] = (response.status_code, heap(fresh))
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"

    response = _img2img(fresh, httpserver.url_for("/big.png"))
    results["image_url of 100 MB, chunked"] = (response.status_code, heap(fresh))
    assert response.status_code == 400 and "larger than 10 MB" in response.json()["error"]["message"]

    body = b'{"model":"x","messages":[{"role":"user","content":"hi"}],"ignored":[' + b",".join([b"{}"] * 5_000_000) + b"]}"
    response = httpx.post(f"{fresh.url}/v1/chat/completions", headers={**KEY, "Content-Type": "application/json"}, content=body,
                          timeout=120)
    results[f"{len(body) // 1_000_000} MB JSON of 5 million empty objects"] = (response.status_code, heap(fresh))
    assert response.status_code == 400 and response.json()["error"]["code"] == "json_too_complex"

    for name, (status, after) in results.items():
        figure(f"heap: {name}", status=status, heap_mib=f"{fresh.baseline_heap} -> {after}")
    assert max(after for _, after in results.values()) - fresh.baseline_heap <= ATTACK_HEAP_MIB


def test_requests_within_the_limits_keep_the_heap_bounded(fresh, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(any_answer)
    ten_mb = PNG + b"\0" * (10 * MiB - len(PNG))
    httpserver.expect_request("/ten.png").respond_with_handler(
        lambda request: Response(iter([ten_mb[i:i + MiB] for i in range(0, len(ten_mb), MiB)]), content_type="image/png"))
    start = heap(fresh)
    readings = {}

    response = _img2img(fresh, "data:image/png;base64," + base64.b64encode(ten_mb).decode())
    readings["img2img 10 MB data: URL (14 MB body)"] = (response.status_code, heap(fresh))
    five_mb = PNG + b"\0" * (5 * MiB)
    response = httpx.post(f"{fresh.url}/v1/images/generations", headers=KEY, timeout=60, json={
        "model": INPAINT, "prompt": "p", "response_format": "b64_json",
        "image": "data:image/png;base64," + base64.b64encode(five_mb).decode(),
        "mask": "data:image/png;base64," + base64.b64encode(five_mb).decode()})
    readings["inpainting 5 MB image + 5 MB mask as data: URLs"] = (response.status_code, heap(fresh))
    sent = json.loads(httpserver.log[-1][0].get_data())["inputs"]
    assert len(sent["mask"]) == len(five_mb) and sent["mask"][:8] == list(PNG[:8])
    response = _img2img(fresh, httpserver.url_for("/ten.png"))
    readings["img2img image_url of 10 MB"] = (response.status_code, heap(fresh))
    response = httpx.post(f"{fresh.url}/v1/audio/transcriptions", headers=KEY, timeout=120,
                          files={"file": ("a.mp3", b"\xff\xfb" + b"\0" * (25 * 1000 * 1000 - 2), "audio/mpeg")},
                          data={"model": "whisper-1"})
    readings["transcription of 25 MB"] = (response.status_code, heap(fresh))
    texts = ["ü" * 249 for _ in range(200)]
    response = httpx.post(f"{fresh.url}/translate", headers=KEY, json={"text_list": texts, "source_lang": "DE", "target_lang": "EN"})
    readings["translate 200 texts, 49 800 characters"] = (response.status_code, heap(fresh))

    for name, (status, after) in readings.items():
        figure(f"heap within limits: {name}", status=status, heap_mib=f"{start} -> {after}")
    assert all(status == 200 for status, _ in readings.values()), readings
    assert max(after for _, after in readings.values()) - fresh.baseline_heap <= WITHIN_LIMITS_HEAP_MIB


# --- relayed image answers -------------------------------------------------------------------------


@pytest.mark.parametrize("response_format, megabytes", [("b64_json", 20), ("url", 40)])
def test_streamed_images_are_capped(scripted, httpserver, response_format, megabytes):
    def endless_png(request):
        def generate():
            yield PNG
            for _ in range(megabytes):
                yield b"\0" * 1_000_000

        return Response(generate(), content_type="image/png")

    httpserver.expect_request("/ai/run").respond_with_handler(endless_png)
    response = httpx.post(f"{scripted.url}/v1/images/generations", headers=KEY, timeout=120, json={
        "model": "@cf/stabilityai/stable-diffusion-xl-base-1.0", "prompt": "p", "response_format": response_format})
    figure(f"streamed image of {megabytes} MB as {response_format}", status=response.status_code,
           code=response.json()["error"]["code"])
    assert response.status_code == 502
    # Both are read (in the runtime) only up to the most an image of that size may take.
    assert response.json()["error"]["code"] == "upstream_error"
