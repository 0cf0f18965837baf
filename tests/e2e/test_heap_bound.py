"""One isolate, 128 MB (issue 28): no request within the documented limits grows the Python heap by
more than HEAP_BOUND_MIB, and CONCURRENT such requests at once by more than CONCURRENT_BOUND_MIB.

Each test drives the worst case of one byte path against a gateway of its own (warmed up first: the
first requests import modules), with the AI scripted by pytest-httpserver, and reads the Python
heap (which never shrinks) from /health. Requests past a limit must be refused without growing it.
The figures are printed (`-s`) for the README and the closing note.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json

import httpx
import pytest
from werkzeug.wrappers import Response

from support.local_gateway import LocalGateway

KEY = {"Authorization": "Bearer sk-test-key"}
MiB = 1024 * 1024
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
VISION = "@cf/meta/llama-3.2-11b-vision-instruct"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINT = "@cf/runwayml/stable-diffusion-v1-5-inpainting"

# The README's promise (Limits): per request, and for CONCURRENT requests at once.
HEAP_BOUND_MIB = 16
CONCURRENT = 8
CONCURRENT_BOUND_MIB = 64


def heap(gateway) -> float:
    return httpx.get(f"{gateway.url}/health").json()["python_heap_mib"]


def png(size: int) -> bytes:
    return PNG_HEAD + b"\0" * (size - len(PNG_HEAD))


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def answer(request):
    """A chat answer for chat models, `size` bytes of PNG for image models (the request's
    `__emulator` hooks are not used: the size is read from the scripted server's state)."""
    body = json.loads(request.get_data())
    model = body["model"]
    if "stable-diffusion" in model:
        if STATE.get("not_an_image"):
            return Response(b"<html>not an image</html>" * 100, content_type="image/png")
        return Response(png(STATE["png_bytes"]), content_type="image/png")
    if "bge" in model:
        texts = body["inputs"]["text"]
        return Response(json.dumps({"shape": [len(texts), 4], "data": [[0.1, 0.2, 0.3, 0.4]] * len(texts)}),
                        content_type="application/json")
    if STATE.get("huge_answer"):
        return Response(json.dumps({"response": "x" * STATE["huge_answer"]}), content_type="application/json")
    return Response(json.dumps({"response": "ok", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
                    content_type="application/json")


STATE: dict = {"png_bytes": 1000}


def chat(gateway, model, content, timeout=120, **extra):
    return httpx.post(f"{gateway.url}/v1/chat/completions", headers=KEY, timeout=timeout,
                      json={"model": model, "messages": [{"role": "user", "content": content}], **extra})


def images(gateway, timeout=180, **body):
    return httpx.post(f"{gateway.url}/v1/images/generations", headers=KEY, timeout=timeout, json={"prompt": "p", **body})


@pytest.fixture(scope="module")
def served(make_httpserver):
    make_httpserver.clear()
    make_httpserver.expect_request("/ai/run").respond_with_handler(answer)
    ten = png(10 * MiB)
    make_httpserver.expect_request("/ten.png").respond_with_data(ten, content_type="image/png")
    make_httpserver.expect_request("/ten-b.png").respond_with_data(ten, content_type="image/png")
    return make_httpserver


@pytest.fixture(scope="module")
def gateway(served):
    local = LocalGateway(api_keys="sk-test-key", upstream=served.url_for("/"))
    # Warm-up: every route and kind of input once, small (the first request of each imports modules),
    # and one body of 1.5 MB (the first large body grows Pyodide's heap by ~6 MiB, once).
    small = data_url(png(2000))
    assert chat(local, SCOUT, "w" * 1_500_000).status_code == 200
    assert chat(local, SCOUT, [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": small}}]).status_code == 200
    assert chat(local, VISION, [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": small}}]).status_code == 200
    assert images(local, model=SDXL, response_format="b64_json").status_code == 200
    assert images(local, model=INPAINT, image=small, mask=small, response_format="b64_json").status_code == 200
    assert httpx.post(f"{local.url}/v1/embeddings", headers=KEY, json={"model": "text-embedding-3-small", "input": [1, 2, 3]}).status_code == 200
    assert httpx.post(f"{local.url}/v1/responses", headers=KEY, json={"model": SCOUT, "input": "hi"}).status_code == 200
    local.readings = {}
    local.start_heap = heap(local)
    yield local
    local.stop()


def measured(gateway, name: str, response, status: int) -> None:
    after = heap(gateway)
    print(f"FIGURE heap bound: {name}: status={response.status_code} heap_mib={gateway.start_heap} -> {after}")
    assert response.status_code == status, response.text[:500]
    # The heap never shrinks: growth since the warm-up bounds what every request so far added.
    assert after - gateway.start_heap <= HEAP_BOUND_MIB, (name, gateway.start_heap, after)


def test_scout_with_two_remote_images_an_inline_one_and_text(gateway, served):
    text = "a" * (2 * MiB - 64 * 1024)
    response = chat(gateway, SCOUT, [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": served.url_for("/ten.png")}},
        {"type": "image_url", "image_url": {"url": served.url_for("/ten-b.png")}},
        {"type": "image_url", "image_url": {"url": data_url(png(10 * MiB))}},
    ])
    measured(gateway, "scout, 2 remote 10 MB images + 10 MB data: image + 1.9 MB text", response, 200)
    sent = json.loads(served.log[-1][0].get_data())["inputs"]["messages"][0]["content"]
    # The model got all three images whole, as data: URLs.
    assert [len(part["image_url"]["url"]) for part in sent if part["type"] == "image_url"] == [len(data_url(png(10 * MiB)))] * 3


def test_scout_with_two_remote_images(gateway, served):
    response = chat(gateway, SCOUT, [{"type": "text", "text": "what?"},
                                     {"type": "image_url", "image_url": {"url": served.url_for("/ten.png")}},
                                     {"type": "image_url", "image_url": {"url": served.url_for("/ten-b.png")}}])
    measured(gateway, "scout, 2 remote 10 MB images, tiny body", response, 200)


def test_vision_with_a_ten_megabyte_data_url(gateway, served):
    image = png(10 * MiB)
    response = chat(gateway, VISION, [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": data_url(image)}}])
    measured(gateway, "11b-vision, one 10 MB data: image", response, 200)
    sent = json.loads(served.log[-1][0].get_data())["inputs"]["image"]
    assert len(sent) == len(image) and sent[:8] == list(PNG_HEAD)


def test_responses_input_image(gateway, served):
    response = httpx.post(f"{gateway.url}/v1/responses", headers=KEY, timeout=120, json={
        "model": SCOUT, "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "what?"}, {"type": "input_image", "image_url": data_url(png(10 * MiB))}]}]})
    measured(gateway, "responses, one 10 MB input_image", response, 200)


def test_b64_json_images(gateway, served):
    STATE["png_bytes"] = 3 * MiB
    response = images(gateway, model=SDXL, size="1024x1024", n=4, response_format="b64_json")
    measured(gateway, "SDXL 1024², n=4, b64_json, 3 MB PNGs", response, 200)
    data = response.json()["data"]
    assert [len(base64.b64decode(item["b64_json"])) for item in data] == [3 * MiB] * 4
    assert all(item["revised_prompt"] == "p" for item in data)
    STATE["png_bytes"] = 8 * MiB
    response = images(gateway, model=SDXL, size="2048x2048", n=3, response_format="b64_json")
    measured(gateway, "SDXL 2048², n=3, b64_json, 8 MB PNGs", response, 200)
    assert base64.b64decode(response.json()["data"][2]["b64_json"])[:8] == PNG_HEAD
    calls = len(served.log)
    response = images(gateway, model=SDXL, size="2048x2048", n=4, response_format="b64_json")
    # Four images of up to 13.6 MB each would pass what one request may hold: refused before any is made.
    measured(gateway, "SDXL 2048², n=4, b64_json", response, 413)
    assert response.json()["error"]["code"] == "request_too_large" and len(served.log) == calls
    # Three such images and a 10 MB input image are more than a request may hold: refused before any call.
    response = images(gateway, model=IMG2IMG, size="2048x2048", n=3, image=data_url(png(10 * MiB)), response_format="b64_json")
    measured(gateway, "img2img 2048², n=3, b64_json, 10 MB input image", response, 413)
    assert response.json()["error"]["code"] == "request_too_large" and len(served.log) == calls
    STATE["png_bytes"] = 1000


def test_img2img_and_inpainting(gateway, served):
    STATE["png_bytes"] = 1000
    response = images(gateway, model=IMG2IMG, image=data_url(png(10 * MiB)), response_format="b64_json")
    measured(gateway, "img2img, 10 MB data: image", response, 200)
    response = images(gateway, model=IMG2IMG, image=served.url_for("/ten.png"), response_format="b64_json")
    measured(gateway, "img2img, 10 MB remote image", response, 200)
    response = images(gateway, model=INPAINT, image=data_url(png(5 * MiB)), mask=data_url(png(5 * MiB)), response_format="b64_json")
    measured(gateway, "inpainting, 5 MB image + 5 MB mask", response, 200)
    sent = json.loads(served.log[-1][0].get_data())["inputs"]
    assert len(sent["mask"]) == 5 * MiB and base64.b64decode(sent["image_b64"])[:8] == PNG_HEAD


def test_text_up_to_the_limit_and_past_it(gateway, served):
    # Text that takes Python 4 bytes a character: the worst a str can be.
    text = ("漢字" * 250 + "😀") * 1000
    response = chat(gateway, SCOUT, text)
    measured(gateway, f"chat, {len(text.encode('utf-16-le')) // 2} UTF-16 units of CJK and emoji", response, 200)
    messages = [{"role": "user", "content": "b" * 450} for _ in range(33_000)]
    response = httpx.post(f"{gateway.url}/v1/chat/completions", headers=KEY, timeout=120,
                          json={"model": SCOUT, "messages": messages})
    measured(gateway, "33 000 chat messages of 450 characters", response, 413)
    assert response.json()["error"]["code"] == "request_too_large"


def test_bytes_that_are_not_an_image_are_never_stored(gateway, served):
    STATE["not_an_image"] = True
    try:
        response = images(gateway, model=SDXL, response_format="url")
        measured(gateway, "SDXL answering HTML labelled image/png", response, 502)
        assert "url" not in response.text
    finally:
        STATE.pop("not_an_image")


def test_completions_with_packed_token_ids(gateway, served):
    # A body over 1 MiB: its `prompt` array is packed in JS and decoded, as embeddings' `input` is.
    ids = [9906, 1917] * 100_000
    response = httpx.post(f"{gateway.url}/v1/completions", headers=KEY, timeout=120,
                          json={"model": SCOUT, "prompt": ids, "max_tokens": 5})
    measured(gateway, "completions, 200 000 token ids", response, 200)
    assert response.json()["choices"][0]["text"] == "ok"
    sent = json.loads(served.log[-1][0].get_data())["inputs"]["messages"]
    assert sent[-1]["content"] == "Hello world" * 100_000


def test_huge_upstream_answers_are_refused(gateway, served):
    STATE["huge_answer"] = 30 * MiB
    try:
        for _ in range(2):
            response = chat(gateway, SCOUT, "hi")
            measured(gateway, "a 30 MB non-streamed answer", response, 502)
    finally:
        STATE.pop("huge_answer")


def embed(gateway, value):
    return httpx.post(f"{gateway.url}/v1/embeddings", headers=KEY, timeout=120,
                      json={"model": "text-embedding-3-small", "input": value})


def test_embeddings_token_ids(gateway, served):
    # Ids of 4-byte characters among others: their text is a Python str of 4 bytes a character.
    response = embed(gateway, [10_000 + i % 90_000 for i in range(300_000)])
    measured(gateway, "embeddings, 300 000 token ids", response, 200)
    assert len(response.json()["data"]) == 1


def test_token_ids_decoding_to_the_most_text_allowed(gateway, served):
    # 👋 (three tokens) and 16 383 × cl100k's 128-space token: 2 097 028 bytes, a str of 4 bytes a
    # character; in a small body (98 KB), and as several lists.
    ids = [9468, 239, 233] + [58040] * 16_383
    response = embed(gateway, ids)
    measured(gateway, "embeddings, token ids decoding to 2 MiB with an emoji", response, 200)
    sent = json.loads(served.log[-1][0].get_data())["inputs"]["text"]
    assert sent == ["👋" + " " * 128 * 16_383]
    response = embed(gateway, [ids[: len(ids) // 2], ids[len(ids) // 2 :]])
    measured(gateway, "embeddings, the same as two lists", response, 200)
    assert len(response.json()["data"]) == 2


def test_token_ids_decoding_past_the_limit_are_refused(gateway, served):
    # 300 000 × 128 spaces would be 38 MB of text.
    calls = len(served.log)
    response = embed(gateway, [58040] * 300_000)
    measured(gateway, "embeddings, 300 000 ids of 128 spaces", response, 413)
    assert response.json()["error"]["code"] == "request_too_large"
    response = httpx.post(f"{gateway.url}/v1/completions", headers=KEY, timeout=120,
                          json={"model": SCOUT, "prompt": [[58040] * 20_000], "max_tokens": 5})
    measured(gateway, "completions, 20 000 ids of 128 spaces", response, 413)
    assert len(served.log) == calls


def test_concurrent_worst_cases(served):
    """CONCURRENT of the heaviest inline-image requests at once, on a gateway of their own."""
    local = LocalGateway(api_keys="sk-test-key", upstream=served.url_for("/"))
    try:
        small = data_url(png(2000))
        assert chat(local, SCOUT, [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": small}}]).status_code == 200
        assert chat(local, SCOUT, "w" * 1_500_000).status_code == 200
        start = heap(local)
        content = [{"type": "text", "text": "a" * MiB}, {"type": "image_url", "image_url": {"url": data_url(png(10 * MiB))}}]
        with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
            statuses = list(pool.map(lambda _: chat(local, SCOUT, content, timeout=300).status_code, range(CONCURRENT)))
        after = heap(local)
        print(f"FIGURE heap bound: {CONCURRENT} at once (10 MB data: image + 1 MB text each): {statuses} heap_mib={start} -> {after}")
        assert statuses == [200] * CONCURRENT
        assert after - start <= CONCURRENT_BOUND_MIB
        # The most text a chat body may carry, with one character outside the BMP (a str of 4 bytes a
        # character), sent as UTF-8; then as token ids that decode to as much.
        body = json.dumps({"model": SCOUT, "messages": [{"role": "user", "content": "😀" + "a" * 2_000_000}]},
                          ensure_ascii=False).encode()
        with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
            statuses = list(pool.map(lambda _: httpx.post(f"{local.url}/v1/chat/completions", content=body, timeout=300,
                                                          headers={**KEY, "content-type": "application/json"}).status_code,
                                     range(CONCURRENT)))
        after = heap(local)
        print(f"FIGURE heap bound: {CONCURRENT} at once (2 M characters of text with an emoji each): {statuses} heap_mib={start} -> {after}")
        assert statuses == [200] * CONCURRENT
        assert after - start <= CONCURRENT_BOUND_MIB
        # And the most text a request may hold, as token ids that decode to a str of 4 bytes a character.
        ids = [9468, 239, 233] + [58040] * 16_383
        with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
            statuses = list(pool.map(lambda _: embed(local, ids).status_code, range(CONCURRENT)))
        after = heap(local)
        print(f"FIGURE heap bound: {CONCURRENT} at once (token ids decoding to 2 MiB with an emoji each): {statuses} heap_mib={start} -> {after}")
        assert statuses == [200] * CONCURRENT
        assert after - start <= CONCURRENT_BOUND_MIB
    finally:
        local.stop()
