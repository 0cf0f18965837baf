"""Auth on every route, bad input, and injected faults — through the real worker in workerd."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from werkzeug.wrappers import Response

from gateway.limits import body_limit
from support.local_gateway import LocalGateway

API_KEY = "sk-matrix-key-0123456789"
TRANSLATE_SECRET = "tr-matrix-secret-9876"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")

# Every route with a concrete path, and who may call it: "public", "key" (API key) or "translate".
ROUTES = [
    ("/", {"GET"}, "public"),
    ("/health", {"GET"}, "public"),
    ("/openapi.json", {"GET"}, "key"),
    ("/v1/models", {"GET"}, "key"),
    ("/v1/models/@cf/baai/bge-m3", {"GET"}, "key"),
    ("/v1/chat/completions", {"POST"}, "key"),
    ("/v1/embeddings", {"POST"}, "key"),
    ("/v1/images/generations", {"GET", "POST"}, "key"),
    ("/v1/audio/transcriptions", {"POST"}, "key"),
    ("/v1/audio/translations", {"POST"}, "key"),
    ("/v1/audio/speech", {"POST"}, "key"),
    ("/file/images/2026/01/01/00000000000000000000000000000000.png", {"GET"}, "public"),
    ("/translate", {"POST"}, "translate"),
    ("/v2/translate", {"POST"}, "deepl"),
    ("/v2/usage", {"GET", "POST"}, "deepl"),
    ("/v2/languages", {"GET", "POST"}, "deepl"),
    ("/ai/run/@cf/meta/m2m100-1.2b", {"POST"}, "key"),
]

# (name, query, headers, which audience it opens)
CREDENTIALS = [
    ("none", {}, {}, set()),
    ("bearer-wrong", {}, {"Authorization": "Bearer sk-wrong"}, set()),
    ("bearer-empty", {}, {"Authorization": "Bearer"}, set()),
    ("basic-key", {}, {"Authorization": f"Basic {API_KEY}"}, set()),
    ("bearer-key", {}, {"Authorization": f"Bearer {API_KEY}"}, {"key"}),
    ("query-key", {"key": API_KEY}, {}, {"key"}),
    ("query-key-wrong", {"key": "nope"}, {}, set()),
    ("password-key", {"password": API_KEY}, {}, set()),
    ("password-secret", {"password": TRANSLATE_SECRET}, {}, {"translate"}),
    ("token-secret", {"token": TRANSLATE_SECRET}, {}, {"translate"}),
    ("token-wrong", {"token": "nope"}, {}, set()),
    ("deepl-secret", {}, {"Authorization": f"DeepL-Auth-Key {TRANSLATE_SECRET}"}, {"translate"}),
    ("deepl-key", {}, {"Authorization": f"DeepL-Auth-Key {API_KEY}"}, set()),
    ("bearer-secret", {}, {"Authorization": f"Bearer {TRANSLATE_SECRET}"}, {"translate"}),
]


@pytest.fixture(scope="module")
def secured():
    local = LocalGateway(api_keys=API_KEY, extra_env={"TRANSLATE_PASSWORD": TRANSLATE_SECRET})
    yield local
    local.stop()


def expected_status(methods: set[str], audience: str, method: str, opens: set[str]):
    """405 for a wrong method, 401 without the right credential, else "not 401"."""
    if method not in methods and not (method == "HEAD" and "GET" in methods):
        return 405
    if audience == "public" or audience in opens or (audience == "deepl" and "translate" in opens):
        return "open"
    # DeepL's API answers 403 for a missing or wrong key; its clients expect that.
    return 403 if audience == "deepl" else 401


def test_auth_matrix(secured):
    mismatches, cases = [], 0
    with httpx.Client(base_url=secured.url, timeout=30) as client:
        for path, methods, audience in ROUTES:
            for method in METHODS:
                for name, query, headers, opens in CREDENTIALS:
                    cases += 1
                    response = client.request(method, path, params=query, headers=headers)
                    want = expected_status(methods, audience, method, opens)
                    got = response.status_code
                    ok = (got not in (401, 403, 405) and got < 500) if want == "open" else got == want
                    if not ok:
                        mismatches.append((method, path, name, want, got, response.text[:120]))
                    # No secret ever comes back, whatever was sent.
                    echoed = response.text + json.dumps(dict(response.headers))
                    if API_KEY in echoed or TRANSLATE_SECRET in echoed:
                        mismatches.append((method, path, name, "secret echoed", got, ""))
    print(f"auth matrix: {cases} requests")
    assert cases == len(ROUTES) * len(METHODS) * len(CREDENTIALS)
    assert not mismatches, "\n".join(map(str, mismatches[:20]))
    log = secured.log()
    assert API_KEY not in log and TRANSLATE_SECRET not in log


def test_preflight_never_needs_a_key(secured):
    for path, _, _ in ROUTES:
        response = httpx.options(f"{secured.url}{path}", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        assert response.status_code == 204, path
        assert response.headers["access-control-allow-origin"] == "*"


def test_openapi_json_is_served_with_a_key(secured):
    assert httpx.get(f"{secured.url}/openapi.json").status_code == 401
    document = httpx.get(f"{secured.url}/openapi.json", headers={"Authorization": f"Bearer {API_KEY}"}).json()
    assert document["openapi"] == "3.1.0" and "/v1/chat/completions" in document["paths"]


# --- bad input --------------------------------------------------------------------------------------------

JSON_ROUTES = ["/v1/chat/completions", "/v1/embeddings", "/v1/images/generations", "/v1/audio/speech", "/translate", "/ai/run/@cf/meta/m2m100-1.2b"]


def error_of(response) -> tuple[str | None, str]:
    body = response.json()
    if "error" in body:
        return body["error"]["code"], body["error"]["message"]
    if "errors" in body:
        return None, body["errors"][0]["message"]
    return None, body["message"]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize(
    "content, status",
    [(b"{not json", 400), (b"", 400), (b"[1, 2]", 400), (b'"text"', 400), (b"\xff\xfe{}", 400), (b'{"model": 5}', 400)],
    ids=["malformed", "empty", "array", "string", "invalid-utf8", "wrong-type"],
)
def test_malformed_bodies_are_400s_in_each_envelope(secured, path, content, status):
    # /translate takes one credential per request: its secret in the address, as Immersive Translate sends it.
    query = {"password": TRANSLATE_SECRET} if path == "/translate" else {}
    auth = {} if path == "/translate" else {"Authorization": f"Bearer {API_KEY}"}
    response = httpx.post(f"{secured.url}{path}", params=query, content=content,
                          headers={**auth, "Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == status, response.text
    _, message = error_of(response)
    assert message


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_huge_bodies_are_413_naming_the_limit(secured, path):
    query = {"password": TRANSLATE_SECRET} if path == "/translate" else {}
    auth = {} if path == "/translate" else {"Authorization": f"Bearer {API_KEY}"}
    body = b'{"input": "' + b"a" * (17 * 1024 * 1024) + b'"}'
    response = httpx.post(f"{secured.url}{path}", params=query, content=body,
                          headers={**auth, "Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413
    _, message = error_of(response)
    # Each route has its own limit (limits.BODY_LIMITS), and the message names it.
    route = "/ai/run/{model:path}" if path.startswith("/ai/run/") else path
    assert f"limit here is {body_limit(route)} bytes" in message


def test_wrong_types_name_the_field(secured):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    cases = [
        ("/v1/chat/completions", {"messages": "hi"}, "messages"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ("/v1/embeddings", {"input": {"a": 1}}, "input"),
        ("/v1/images/generations", {"prompt": ["x"]}, "prompt"),
    ]
    for path, body, param in cases:
        response = httpx.post(f"{secured.url}{path}", json=body, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["param"] == param


# --- faults ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def impatient(make_httpserver):
    """A gateway that gives Workers AI one second, forwarding every AI call to pytest-httpserver."""
    local = LocalGateway(api_keys=API_KEY, upstream=make_httpserver.url_for("/"), extra_env={"AI_TIMEOUT_SECONDS": "1"})
    yield local
    local.stop()


def chat(gateway, **extra):
    return httpx.post(f"{gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30,
                      json={"model": "@cf/meta/llama-3.1-8b-instruct-fast", "messages": [{"role": "user", "content": "hi"}], **extra})


def test_a_slow_model_is_a_504_not_a_hang(impatient, httpserver):
    def slow(request):
        time.sleep(3)
        return Response(json.dumps({"response": "too late"}), content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(slow)
    started = time.monotonic()
    response = chat(impatient)
    assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 2.5


def test_a_stream_that_goes_silent_ends_with_an_error_event(impatient, httpserver):
    def stalls(request):
        def generate():
            yield b'data: {"response": "Hello"}\n\n'
            time.sleep(3)
            yield b"data: [DONE]\n\n"
        return Response(generate(), content_type="text/event-stream")

    httpserver.expect_request("/ai/run").respond_with_handler(stalls)
    started = time.monotonic()
    response = chat(impatient, stream=True)
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert "[DONE]" not in events
    assert json.loads(events[-1])["error"]["code"] == "stream_interrupted"
    assert "Hello" in response.text
    assert time.monotonic() - started < 2.9


def test_a_slow_translation_is_a_deeplx_503_or_504(impatient, httpserver):
    def slow(request):
        time.sleep(3)
        return Response(json.dumps({"translated_text": "x"}), content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(slow)
    response = httpx.post(f"{impatient.url}/translate", params={"password": API_KEY}, timeout=30,
                          json={"text": "Hallo", "source_lang": "DE", "target_lang": "EN"})
    assert response.status_code == 503 and response.json()["code"] == 503


# --- memory ---------------------------------------------------------------------------------------------

def test_streams_do_not_grow_the_python_heap(secured):
    """Each streamed chunk arms a timeout; cancelled timers must be released at once, not at their
    deadline (Pyodide's loop kept them for the whole AI timeout: ~10 MiB per 1300 streams)."""
    import asyncio

    async def streams(count: int) -> int:
        done = 0
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=secured.url, headers={"Authorization": f"Bearer {API_KEY}"}, limits=limits, timeout=60) as client:
            async def one():
                nonlocal done
                body = {"messages": [{"role": "user", "content": "twenty words " * 10}], "stream": True}
                async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    text = "".join([line async for line in response.aiter_lines()])
                    done += text.endswith("[DONE]")
            for start in range(0, count, 100):
                await asyncio.gather(*(one() for _ in range(min(100, count - start))))
        return done

    asyncio.run(streams(200))  # warm-up: the heap reaches its working size
    before = httpx.get(f"{secured.url}/health").json()["python_heap_mib"]
    assert asyncio.run(streams(1500)) == 1500
    after = httpx.get(f"{secured.url}/health").json()["python_heap_mib"]
    assert after - before < 5, (before, after)
