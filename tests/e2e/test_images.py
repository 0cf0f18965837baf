"""Images through the worker: chat and /v1/images/generations, stored in local R2, served at /file/<key>."""

from __future__ import annotations

import base64
import json
import re

import httpx
import openai
import pytest
from werkzeug.wrappers import Response

from support.local_gateway import LocalGateway

SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"  # PNG bytes as a stream
FLUX = "@cf/black-forest-labs/flux-1-schnell"  # {image: base64 JPEG}
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINT = "@cf/runwayml/stable-diffusion-v1-5-inpainting"
LINK = re.compile(r"^!\[\]\((http://127\.0\.0\.1:\d+/file/images/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.(png|jpg))\)$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def chat(http, auth_headers, model, content, **extra):
    return http.post("/v1/chat/completions", headers=auth_headers,
                     json={"model": model, "messages": [{"role": "user", "content": content}], **extra})


def b64_of(http, auth_headers, model, prompt) -> bytes:
    response = http.post("/v1/images/generations", headers=auth_headers,
                         json={"model": model, "prompt": prompt, "response_format": "b64_json"})
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["data"][0]["b64_json"])


@pytest.mark.parametrize("model, magic, content_type", [(SDXL, PNG_MAGIC, "image/png"), (FLUX, b"\xff\xd8\xff", "image/jpeg")])
def test_chat_answers_with_a_link_that_serves_the_exact_image(http, auth_headers, model, magic, content_type):
    response = chat(http, auth_headers, model, "a red bicycle")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == model
    link = LINK.match(body["choices"][0]["message"]["content"])
    assert link, body
    image = http.get(link.group(1))
    assert image.status_code == 200
    assert image.content.startswith(magic)
    assert image.content == b64_of(http, auth_headers, model, "a red bicycle")  # the emulator is deterministic
    assert image.headers["content-type"] == content_type
    assert image.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert image.headers["etag"].startswith('"') and image.headers["last-modified"].endswith("GMT")


@pytest.mark.parametrize("model", [SDXL, FLUX])
def test_streamed_chat_sends_the_link_as_chunks_then_done(http, auth_headers, model):
    response = chat(http, auth_headers, model, [{"type": "text", "text": "a lighthouse"}], stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    link = LINK.match(content)
    assert link, content
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert http.get(link.group(1)).status_code == 200


def test_images_api_with_the_openai_client(client, gateway):
    result = client.images.generate(model="dall-e-3", prompt="a mountain at dawn", n=2, size="1024x1024")
    assert len(result.data) == 2
    urls = [item.url for item in result.data]
    assert len(set(urls)) == 2 and all(url.startswith(f"{gateway.url}/file/images/") for url in urls)
    assert all(httpx.get(url).content.startswith(b"\xff\xd8\xff") for url in urls)
    b64 = client.images.generate(model=SDXL, prompt="a mountain at dawn", response_format="b64_json")
    assert base64.b64decode(b64.data[0].b64_json).startswith(PNG_MAGIC)
    assert b64.data[0].url is None


def test_etag_and_last_modified_revalidate_with_304(http, auth_headers):
    url = http.post("/v1/images/generations", headers=auth_headers, json={"model": SDXL, "prompt": "cache me"}).json()["data"][0]["url"]
    first = http.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = http.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert http.get(url, headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert http.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert http.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    assert http.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    head = http.head(url)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(first.content))


def test_files_need_no_key_but_only_gateway_keys_are_served(http):
    for path in [
        "/file/images/2026/01/01/00000000000000000000000000000000.png",  # well-formed, not stored
        "/file/images/2026/01/01/../../../secret.png",
        "/file/images/2026/01/01/..%2F..%2Fsecret.png",
        "/file/images%2F2026%2F01%2F01%2Fabc.png",
        "/file/other/key.png",
        "/file/",
    ]:
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] in ("file_not_found", "unknown_path")


def test_size_steps_and_seed_reach_the_model(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_response(Response(TINY_PNG, content_type="image/png"))
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}
    response = httpx.post(f"{scripted_gateway.url}/v1/images/generations", headers=headers,
                          json={"model": SDXL, "prompt": "p", "size": "512x768", "seed": 42, "negative_prompt": "blur"})
    assert response.status_code == 200, response.text
    sent = json.loads(httpserver.log[-1][0].get_data())["inputs"]
    assert sent == {"prompt": "p", "num_steps": 20, "seed": 42, "width": 512, "height": 768, "negative_prompt": "blur"}
    stored = httpx.get(response.json()["data"][0]["url"])
    assert stored.content == TINY_PNG


def test_flux_gets_its_own_step_field_and_limit(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_json({"image": base64.b64encode(b"\xff\xd8\xff\xe0jpeg").decode()})
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}
    ok = httpx.post(f"{scripted_gateway.url}/v1/images/generations", headers=headers, json={"model": FLUX, "prompt": "p", "size": "1024x1024"})
    assert ok.status_code == 200
    assert json.loads(httpserver.log[-1][0].get_data())["inputs"] == {"prompt": "p", "steps": 4}
    too_many = httpx.post(f"{scripted_gateway.url}/v1/images/generations", headers=headers, json={"model": FLUX, "prompt": "p", "steps": 9})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "steps"


def test_a_non_image_answer_is_a_502_not_a_link(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_json({"image": base64.b64encode(b"not an image").decode()})
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}
    response = httpx.post(f"{scripted_gateway.url}/v1/chat/completions", headers=headers,
                          json={"model": FLUX, "messages": [{"role": "user", "content": "p"}]})
    assert response.status_code == 502 and "file/" not in response.text


def test_img2img_takes_a_data_url_or_an_http_url(http, auth_headers, httpserver):
    data_url = "data:image/png;base64," + base64.b64encode(TINY_PNG).decode()
    content = [{"type": "text", "text": "make it blue"}, {"type": "image_url", "image_url": {"url": data_url}}]
    assert LINK.match(chat(http, auth_headers, IMG2IMG, content).json()["choices"][0]["message"]["content"])
    httpserver.expect_request("/input.png").respond_with_data(TINY_PNG, content_type="image/png")
    remote = [{"type": "text", "text": "make it blue"}, {"type": "image_url", "image_url": {"url": httpserver.url_for("/input.png")}}]
    assert LINK.match(chat(http, auth_headers, IMG2IMG, remote).json()["choices"][0]["message"]["content"])
    httpserver.expect_request("/missing.png").respond_with_data("nope", status=404)
    broken = [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": httpserver.url_for("/missing.png")}}]
    failed = chat(http, auth_headers, IMG2IMG, broken)
    assert failed.status_code == 400 and failed.json()["error"]["code"] == "image_fetch_failed"


@pytest.mark.parametrize(
    "model, content, code",
    [
        (IMG2IMG, "no image given", "image_required"),
        (INPAINT, [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}], "mask_required"),
        (SDXL, "", None),
        (IMG2IMG, [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}], None),
        (IMG2IMG, [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}], None),
    ],
)
def test_image_inputs_are_refused_clearly(http, auth_headers, model, content, code):
    response = chat(http, auth_headers, model, content)
    assert response.status_code == 400, response.text
    if code:
        assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "body, param",
    [({"prompt": "x", "n": 5}, "n"), ({"prompt": "x", "size": "huge"}, "size"), ({"prompt": "x", "response_format": "gif"}, "response_format"),
     ({"n": 1}, "prompt"), ({"prompt": "x", "model": "@cf/baai/bge-m3"}, "model")],
)
def test_images_api_validation(http, auth_headers, body, param):
    response = http.post("/v1/images/generations", headers=auth_headers, json={"model": SDXL, **body} if "model" not in body else body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_a_failed_r2_write_gives_an_error_never_a_link():
    local = LocalGateway(extra_env={"LOCAL_R2_FAULTS": "1"})
    try:
        headers = {"Authorization": f"Bearer {local.api_key}"}
        for model in (SDXL, FLUX):
            for stream in (False, True):
                response = httpx.post(f"{local.url}/v1/chat/completions", headers=headers,
                                      json={"model": model, "stream": stream, "messages": [{"role": "user", "content": "x"}]})
                assert response.status_code == 502, response.text
                assert response.json()["error"]["code"] == "storage_failed"
                assert "/file/" not in response.text
        api = httpx.post(f"{local.url}/v1/images/generations", headers=headers, json={"prompt": "x"})
        assert api.status_code == 502 and "/file/" not in api.text
        # The b64_json format stores nothing, so it still works.
        assert httpx.post(f"{local.url}/v1/images/generations", headers=headers,
                          json={"prompt": "x", "response_format": "b64_json"}).status_code == 200
        served = httpx.get(f"{local.url}/file/images/2026/01/01/00000000000000000000000000000000.png")
        assert served.status_code == 502
    finally:
        local.stop()


def test_debug_mode_is_off_by_default(http, auth_headers):
    response = http.get("/v1/images/generations", params={"prompt": "x"}, headers=auth_headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "debug_disabled"


def test_debug_mode_and_public_base_url_when_enabled():
    local = LocalGateway(extra_env={"IMAGE_DEBUG": "true", "PUBLIC_BASE_URL": "https://img.example.com/"})
    try:
        assert httpx.get(f"{local.url}/v1/images/generations", params={"prompt": "x"}).status_code == 401
        image = httpx.get(f"{local.url}/v1/images/generations", params={"prompt": "a fox", "model": SDXL, "key": local.api_key})
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(PNG_MAGIC)
        client = openai.OpenAI(base_url=f"{local.url}/v1", api_key=local.api_key, max_retries=0)
        url = client.images.generate(prompt="x").data[0].url
        assert url.startswith("https://img.example.com/file/images/")
    finally:
        local.stop()
