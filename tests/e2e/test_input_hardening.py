"""Input hardening (issue 28): image fetches that stay off private addresses, Workers AI errors in our
own words, image links that ignore the Host header."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from support.local_gateway import LocalGateway

KEY = "sk-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
VISION = "@cf/meta/llama-4-scout-17b-16e-instruct"
CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
PUBLIC = "https://img.example.com"
# The one reason a client reads for any fetch that did not give an image, refused or not.
FETCH_FAILED = "The image_url could not be fetched: it could not be reached or did not answer with an image."


@pytest.fixture(scope="module")
def hardened(make_httpserver):
    """A gateway as deployed: only the scripted AI's own server (standing in for a public image host)
    may be fetched, and image links go to PUBLIC_BASE_URL."""
    local = LocalGateway(api_keys=KEY, upstream=make_httpserver.url_for("/"), extra_env={
        "IMAGE_FETCH_ALLOW_PRIVATE": f"127.0.0.1:{make_httpserver.port}", "PUBLIC_BASE_URL": PUBLIC})
    yield local
    local.stop()


@pytest.fixture(scope="module")
def private_server():
    """An image server on a private address the gateway must never reach."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/x.png").respond_with_data(PNG, content_type="image/png")
    server.start()
    yield server
    server.stop()


def _chat(gateway, url):
    content = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": url}}]
    return httpx.post(f"{gateway.url}/v1/chat/completions", headers=AUTH, timeout=30,
                      json={"model": VISION, "messages": [{"role": "user", "content": content}]})


def _responses(gateway, url):
    content = [{"type": "input_text", "text": "what is this"}, {"type": "input_image", "image_url": url}]
    return httpx.post(f"{gateway.url}/v1/responses", headers=AUTH, timeout=30,
                      json={"model": VISION, "input": [{"role": "user", "content": content}]})


def _img2img(gateway, url):
    return httpx.post(f"{gateway.url}/v1/images/generations", headers=AUTH, timeout=30,
                      json={"model": IMG2IMG, "prompt": "p", "image": url, "response_format": "b64_json"})


def _image_answer(request):
    # Both models answer PNG bytes as a stream.
    return Response(PNG, content_type="image/png")


def _ai_calls(httpserver) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == "/ai/run")


def _refused(response) -> bool:
    error = response.json()["error"]
    return (response.status_code, error["code"], error["message"]) == (400, "image_fetch_failed", FETCH_FAILED)


SPELLINGS = [
    "http://127.0.0.1:{port}/x.png",
    "http://localhost:{port}/x.png",
    "http://images.localhost:{port}/x.png",
    "http://2130706433:{port}/x.png",
    "http://0x7f.1:{port}/x.png",
    "http://0177.0.0.1:{port}/x.png",
    "http://127.1:{port}/x.png",
    "http://[::ffff:127.0.0.1]:{port}/x.png",
    "http://[::1]:{port}/x.png",
    "http://%31%32%37.0.0.1:{port}/x.png",
    "http://example.com@127.0.0.1:{port}/x.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://10.0.0.1/x.png",
    "http://100.64.0.1/x.png",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_private_addresses_are_refused_before_any_fetch(hardened, private_server, httpserver, spelling):
    response = _chat(hardened, spelling.format(port=private_server.port))
    assert _refused(response), response.text
    assert private_server.log == [] and _ai_calls(httpserver) == 0


@pytest.mark.parametrize("send", [_chat, _responses, _img2img])
def test_every_image_input_is_refused_the_same(hardened, private_server, httpserver, send):
    response = send(hardened, f"http://127.0.0.1:{private_server.port}/x.png")
    assert _refused(response), response.text
    assert private_server.log == [] and _ai_calls(httpserver) == 0


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/x.png", "http://[::ffff:7f00:1]:{port}/x.png", "//localhost:{port}/x.png"])
def test_a_redirect_to_a_private_address_is_refused(hardened, private_server, httpserver, target):
    location = target.format(port=private_server.port)
    httpserver.expect_request("/hop.png").respond_with_response(Response("", 302, headers={"Location": location}))
    response = _chat(hardened, httpserver.url_for("/hop.png"))
    assert _refused(response), response.text
    hops = [request.path for request, _ in httpserver.log]
    assert hops == ["/hop.png"] and private_server.log == []


def test_the_refusal_reads_like_any_failed_fetch(hardened, httpserver):
    """A refused address and an allowed host that answers 404 get the same answer: a client cannot
    tell from it what (if anything) listens on a private address."""
    httpserver.expect_request("/missing.png").respond_with_data("not here", status=404)
    assert _refused(_chat(hardened, httpserver.url_for("/missing.png")))


def test_an_allowed_host_is_still_fetched(hardened, httpserver):
    httpserver.expect_request("/cat.png").respond_with_data(PNG, content_type="image/png")
    httpserver.expect_request("/ai/run").respond_with_handler(_image_answer)
    content = [{"type": "text", "text": "make it blue"}, {"type": "image_url", "image_url": {"url": httpserver.url_for("/cat.png")}}]
    response = httpx.post(f"{hardened.url}/v1/chat/completions", headers=AUTH, timeout=30,
                          json={"model": IMG2IMG, "messages": [{"role": "user", "content": content}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith(f"![]({PUBLIC}/file/images/")
    assert _ai_calls(httpserver) == 1


# An upstream error text carrying what Workers AI may put there: account id, an email, a URL.
ACCOUNT = "0123456789abcdef0123456789abcdef"
EMAIL = "owner@example.org"
LEAKY = f"account {ACCOUNT} ({EMAIL}) see https://dash.cloudflare.com/{ACCOUNT}/ai"


def _ai_error(code: int, message: str, status: int = 400) -> Response:
    return Response(json.dumps({"success": False, "errors": [{"code": code, "message": message}]}), status,
                    content_type="application/json")


@pytest.mark.parametrize("code, status, upstream, keeps", [
    (5006, 400, f"Error: required properties at '/' are 'prompt' for {LEAKY}", "required properties at '/' are 'prompt'"),
    (3036, 429, f"You have used up your daily free allocation of 10,000 neurons, {LEAKY}", "00:00 UTC"),
    (3040, 429, f"Capacity temporarily exceeded for {LEAKY}", "out of capacity"),
    (3007, 504, f"Request timeout for {LEAKY}", "timed out"),
    (3999, 502, f"Something new went wrong for {LEAKY}", "Workers AI error 3999"),
])
def test_workers_ai_errors_reach_the_client_in_our_words(hardened, httpserver, code, status, upstream, keeps):
    httpserver.expect_oneshot_request("/ai/run").respond_with_response(_ai_error(code, upstream, 500 if status >= 500 else status))
    response = httpx.post(f"{hardened.url}/v1/chat/completions", headers=AUTH, timeout=30,
                          json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == status
    message = response.json()["error"]["message"]
    assert keeps in message and str(code) in message
    for secret in (ACCOUNT, EMAIL, "dash.cloudflare.com", "owner@"):
        assert secret not in response.text


def test_image_links_use_public_base_url_whatever_the_host_header(hardened, httpserver):
    httpserver.expect_request("/ai/run").respond_with_handler(_image_answer)
    forged = {**AUTH, "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    generated = httpx.post(f"{hardened.url}/v1/images/generations", headers=forged, timeout=30,
                           json={"model": IMG2IMG, "prompt": "p", "image": "data:image/png;base64," + base64.b64encode(PNG).decode()})
    chatted = httpx.post(f"{hardened.url}/v1/chat/completions", headers=forged, timeout=30,
                         json={"model": SDXL, "messages": [{"role": "user", "content": "a fox"}]})
    assert generated.status_code == 200 and chatted.status_code == 200, (generated.text, chatted.text)
    url = generated.json()["data"][0]["url"]
    link = chatted.json()["choices"][0]["message"]["content"]
    assert url.startswith(f"{PUBLIC}/file/images/") and link.startswith(f"![]({PUBLIC}/file/images/")
    assert "evil.example" not in generated.text + chatted.text
