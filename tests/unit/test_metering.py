"""The one metered path, through the whole pipeline (`app.handle`) with plain-Python fakes: every
route, every credential form, reservations before calls and settlements after them, streams, the
database failing, the DeepL character limit. Expected figures are worked out by hand from the price
list (see test_pricing.py); key ids are literal SHA-256 values computed outside the gateway."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import urlencode

import pytest

from fakes import FakeAi, SqliteDatabase, make_platform, make_request, run
from gateway import ledger
from gateway.platform import BytesBlob, DatabaseError
from gateway.app import ROUTER, handle
from gateway.http import Form, PassthroughResponse, RelayResponse, StreamResponse

CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"  # $0.045 / $0.384 per M tokens, 256 tokens unless told
GLM = "@cf/zai-org/glm-4.7-flash"  # streams OpenAI chunks; no published default answer length
GPT_OSS = "@cf/openai/gpt-oss-120b"  # streams OpenAI chunks (passed through); $0.35 / $0.75
M2M = "@cf/meta/m2m100-1.2b"
INDICTRANS2 = "@cf/ai4bharat/indictrans2-en-indic-1B"
KEY = "sk-unit"
# sha256("workers-ai-gateway usage\0sk-unit"), worked out with hashlib outside the gateway.
KEY_HASH = "24882fb3103e24bc38b11fff199acf1b32ff3ee88aebf783245711688e413ce1"
KEY_ID = "24882fb3103e24bc"
OTHER = "sk-other"
OTHER_HASH = "79fe4b3c615566e86aa9f7068f28fc10ad00eaf1f28d31d0bbd954af3a658148"
DEEPL_SECRET = "deepl-secret"
DEEPL_HASH = "5cd0c1b9b335aa97f208a2a74c5b94ade8f39b6b55a086d5671ad24cae5f2351"
# One chat answer with usage 10 + 20 tokens: 10 × 0.045e-6 + 20 × 0.384e-6 = 8.13e-6 USD.
CHAT_NEURONS = 0.739091
# A chat call's bound for "hi": (2 + 8 + 16) × 0.045e-6 + 256 × 0.384e-6 = 9.9474e-5 USD.
CHAT_BOUND = 9.043091
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 60
MP3 = b"ID3" + b"\0" * 60


@pytest.fixture
def passthrough_allowed(monkeypatch):
    """The pass-through path, which no catalog model takes while its stream carries usage the client
    did not ask for (chat_stream.passthrough_safe): its metering is kept for when the runtime can drop it."""
    from gateway.endpoints import chat as chat_endpoint

    monkeypatch.setattr(chat_endpoint, "passthrough_safe", lambda request: request.model.limits.get("stream") == "openai")


@pytest.fixture(autouse=True)
def fresh_isolate():
    ledger.reset()
    yield
    ledger.reset()


def answer(model, inputs):
    """What each kind of model answers."""
    if "m2m100" in model:
        return {"translated_text": f"<{inputs['target_lang']}>{inputs['text']}"}
    if "indictrans2" in model:
        return {"translations": [f"<{inputs['target_language']}>{t}" for t in inputs["text"]]}
    if "bge" in model or "embedding" in model:
        return {"shape": [len(inputs["text"]), 3], "data": [[0.1, 0.2, 0.3] for _ in inputs["text"]]}
    if "flux" in model:
        return {"image": base64.b64encode(JPEG).decode()}
    if "whisper" in model:
        return {"text": "heard", "transcription_info": {"duration": 60.0}}
    if "melotts" in model:
        return {"audio": base64.b64encode(MP3).decode()}
    if "llama-guard" in model:
        return {"response": "safe", "usage": {"prompt_tokens": 10, "completion_tokens": 1}}
    return {"response": "ok", "usage": {"prompt_tokens": 10, "completion_tokens": 20}}


class FakeFile:
    filename, content_type = "a.mp3", "audio/mpeg"

    def __init__(self, data: bytes):
        self.data, self.size = data, len(data)

    async def read(self):
        return self.data

    async def base64(self):
        return base64.b64encode(self.data).decode()

    async def byte_values(self):
        return list(self.data)

    def stream(self):
        return self.data


class FormBody:
    def __init__(self, fields: dict, files: dict):
        self.form = Form({k: [v] for k, v in fields.items()}, files)

    async def read_bytes(self, max_bytes):
        return b""

    async def read_form(self, max_bytes):
        return self.form


class FakeStream:
    """A model's stream in the runtime: read in Python, or tee'd (the copy read whole, as the runtime does)."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks
        self.handle = object()

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk

    async def buffer(self, max_bytes):
        data = b"".join(self.chunks)
        return BytesBlob(data) if len(data) <= max_bytes else None

    def tee(self):
        data = b"".join(self.chunks)

        class Copy:
            size = len(data)

            def tail(self, n):
                return data[max(0, len(data) - n):]  # as the runtime's copy does: 0 is nothing

            def slices(self, step):
                return [data[i:i + step] for i in range(0, len(data), step)]

        async def copy():
            return Copy()

        return FakeStream(self.chunks), copy()


class Gateway:
    """The pipeline with a fake AI, SQLite as D1 and deferred work run as tasks of the test's loop."""

    def __init__(self, result=answer, *, database=True, **settings):
        settings.setdefault("api_keys", (KEY, OTHER))
        self.ai = FakeAi(result)
        self.platform = make_platform(self.ai, **settings)
        self.platform.database = SqliteDatabase() if database else None
        self.tasks: list = []
        self.holds: list = []
        self.deferred_before_calls: list[int] = []
        self.deferred_before_statements: list[int] = []
        self.platform.defer = self._defer
        self.platform.keep_alive = self._keep_alive

    def _defer(self, coro):
        self.tasks.append(asyncio.ensure_future(coro))

    def _keep_alive(self):
        """As the runtime's waitUntil: the request is kept until the function returned is called."""
        self.deferred_before_calls.append(len(self.ai.calls))
        if self.platform.database is not None:
            self.deferred_before_statements.append(len(self.platform.database.statements))
        kept = asyncio.get_event_loop().create_future()
        self.holds.append(kept)
        return lambda: kept.done() or kept.set_result(None)

    async def send(self, method, path, body=None, *, key=KEY, headers=None, form=None):
        headers = {**({"authorization": f"Bearer {key}"} if key is not None else {}),
                   **({"content-type": "application/json"} if body is not None else {}), **(headers or {})}
        request = make_request(method, path, headers=headers, body=body)
        if form is not None:
            request._body = form
            request.headers = type(request.headers)({**headers, "content-type": "multipart/form-data"})
        response = await handle(request, self.platform)
        await drain(response)
        return response

    async def settled(self):
        while self.tasks or self.holds:
            waiting, self.tasks, self.holds = self.tasks + self.holds, [], []
            await asyncio.gather(*waiting)

    def usage(self, hashed=KEY_HASH) -> dict:
        rows = self.platform.database.rows("SELECT * FROM usage WHERE key_hash = ?", [hashed])
        return {row["model"]: row for row in rows}

    def total(self, column, hashed=KEY_HASH):
        return sum(row[column] for row in self.usage(hashed).values())


async def drain(response):
    """What the runtime does with a streamed answer: feed the relay every read, read a stream through."""
    if isinstance(response, RelayResponse):
        async for chunk in response.source:
            response.relay.feed_bytes(chunk)
            if response.relay.finished or response.relay.closed:
                break
        response.relay.end()
    elif isinstance(response, StreamResponse):
        async for _ in response.chunks:
            pass


def body_of(response) -> dict:
    return json.loads(response.body)


def sse(events: list, done=True) -> list[bytes]:
    chunks = [f"data: {json.dumps(e)}\n\n".encode() for e in events]
    return chunks + ([b"data: [DONE]\n\n"] if done else [])


def scenario(coro):
    return run(coro)


# --- the one path ------------------------------------------------------------------------------------

def n(usd: float) -> float:
    """Neurons for a price in USD, as Cloudflare's pricing page defines them: $0.011 per 1 000."""
    return usd / 0.011 * 1000


AUDIO_FORM = {"model": "@cf/openai/whisper-large-v3-turbo"}
CHAT_COST = n((10 * 0.045 + 20 * 0.384) / 1e6)  # the fake's chat answers report 10 + 20 tokens
IMAGE_COST = n(4 * 0.0001056 + 4 * 0.0000528)  # flux-1-schnell: 4 steps, 1024² = 4 tiles
MINUTE = n(0.00051)  # whisper-large-v3-turbo's audio minute (the fake reports 60 s)
# Every route with a request that makes the AI calls it makes (or none), and what they cost: a new
# route must be added here.
ROUTE_REQUESTS = {
    "/v3/glossaries": ("GET", "/v3/glossaries", None, 0, 0),
    "/v3/glossaries/{glossary_id}": ("GET", "/v3/glossaries/g1", None, 0, 0),
    "/v3/glossaries/{glossary_id}/entries": ("GET", "/v3/glossaries/g1/entries", None, 0, 0),
    "/v3/glossaries/{glossary_id}/dictionaries": ("DELETE", "/v3/glossaries/g1/dictionaries", None, 0, 0),
    "/openapi.json": ("GET", "/openapi.json", None, 0, 0),
    "/v1/models": ("GET", "/v1/models", None, 0, 0),
    "/v1/models/{model:path}": ("GET", f"/v1/models/{CHAT}", None, 0, 0),
    "/v1/chat/completions": ("POST", "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}, 1, CHAT_COST),
    # "a", "b": 1 token each at bge-large's $0.204
    "/v1/embeddings": ("POST", "/v1/embeddings", {"model": "@cf/baai/bge-m3", "input": ["a", "b"]}, 1, n(2 * 0.204 / 1e6)),
    "/v1/completions": ("POST", "/v1/completions", {"model": CHAT, "prompt": "hi"}, 1, CHAT_COST),
    "/v1/responses": ("POST", "/v1/responses", {"model": CHAT, "input": "hi"}, 1, CHAT_COST),
    "/v1/messages": ("POST", "/v1/messages", {"model": CHAT, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}, 1, CHAT_COST),
    # An estimate from the text: no AI call, nothing charged
    "/v1/messages/count_tokens": ("POST", "/v1/messages/count_tokens", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}, 0, 0),
    "/v1/images/generations": ("POST", "/v1/images/generations", {"model": "@cf/black-forest-labs/flux-1-schnell", "prompt": "p", "n": 2, "response_format": "b64_json"}, 2, 2 * IMAGE_COST),
    "/v1/audio/transcriptions": ("POST", "/v1/audio/transcriptions", AUDIO_FORM, 1, MINUTE),
    "/v1/audio/translations": ("POST", "/v1/audio/translations", AUDIO_FORM, 1, MINUTE),
    # "hello": five characters, less than a second of speech: a second, priced as a whisper minute
    "/v1/audio/speech": ("POST", "/v1/audio/speech", {"model": "@cf/myshell-ai/melotts", "input": "hello"}, 1, MINUTE / 60),
    # llama-guard, priced as the 70b: 10 + 1 tokens each
    "/v1/moderations": ("POST", "/v1/moderations", {"input": ["one", "two", "three"]}, 3, 3 * n((10 * 0.293 + 2.253) / 1e6)),
    "/file/{key:path}": ("GET", "/file/images/2026/01/01/0123456789abcdef0123456789abcdef.png", None, 0, 0),
    # "One." → 1 token, "<de>One." → 2, at m2m100's $0.342
    "/translate": ("POST", "/translate", {"text_list": ["One.", "Two."], "source_lang": "EN", "target_lang": "DE"}, 2, 2 * n(3 * 0.342 / 1e6)),
    # "Hallo" → 2 tokens, "<en>Hallo" → 3
    "/v2/translate": ("POST", "/v2/translate", {"text": ["Hallo"], "source_lang": "DE", "target_lang": "EN"}, 1, n(5 * 0.342 / 1e6)),
    "/v2/usage": ("GET", "/v2/usage", None, 0, 0),
    "/v2/languages": ("GET", "/v2/languages", None, 0, 0),
    # DeepL's features the gateway does not offer: a 404, no AI call
    "/v2/glossaries": ("GET", "/v2/glossaries", None, 0, 0),
    "/v2/glossaries/{glossary_id}": ("GET", "/v2/glossaries/g1", None, 0, 0),
    "/v2/glossaries/{glossary_id}/entries": ("GET", "/v2/glossaries/g1/entries", None, 0, 0),
    "/v2/glossary-language-pairs": ("GET", "/v2/glossary-language-pairs", None, 0, 0),
    "/v2/document": ("POST", "/v2/document", None, 0, 0),
    "/v2/document/{document_id}": ("POST", "/v2/document/d1", None, 0, 0),
    "/v2/document/{document_id}/result": ("POST", "/v2/document/d1/result", None, 0, 0),
    "/v2/write/rephrase": ("POST", "/v2/write/rephrase", None, 0, 0),
    "/v2/write/correct": ("POST", "/v2/write/correct", None, 0, 0),
    "/ai/run/{model:path}": ("POST", f"/ai/run/{M2M}", {"text": "Hallo", "source_lang": "de", "target_lang": "en"}, 1, n(5 * 0.342 / 1e6)),
    "/v1/usage": ("GET", "/v1/usage", None, 0, 0),
    "/": ("GET", "/", None, 0, 0),
    "/health": ("GET", "/health", None, 0, 0),
}


def test_every_route_is_listed_here():
    assert {route.pattern for route in ROUTER.routes} == set(ROUTE_REQUESTS)


@pytest.mark.parametrize("pattern", sorted({route.pattern for route in ROUTER.routes}))
def test_every_ai_call_of_every_route_is_metered(pattern):
    method, path, body, calls, cost = ROUTE_REQUESTS[pattern]

    async def go():
        gateway = Gateway(image_debug=True)
        form = None
        if pattern.startswith("/v1/audio/t"):
            form, body_ = FormBody(body, {"file": FakeFile(b"\xff\xfb" + b"\0" * 998)}), None
        else:
            body_ = body
        response = await gateway.send(method, path, body_, form=form)
        if calls:
            assert response.status < 400, (response.status, getattr(response, "body", ""))
        await gateway.settled()
        assert len(gateway.ai.calls) == calls
        assert gateway.total("ai_calls") == calls
        assert gateway.total("neurons") == pytest.approx(cost, rel=1e-5, abs=1e-6)

    scenario(go())


def test_the_image_debug_route_is_metered_too():
    async def go():
        gateway = Gateway(image_debug=True)
        response = await gateway.send("GET", "/v1/images/generations?prompt=p&model=@cf/black-forest-labs/flux-1-schnell")
        assert response.status == 200
        await gateway.settled()
        assert gateway.total("ai_calls") == 1 and gateway.total("neurons") == pytest.approx(57.6)

    scenario(go())


@pytest.mark.parametrize("path, headers, body, form", [
    ("/translate", {"authorization": f"Bearer {DEEPL_SECRET}"}, {"text": "Hallo", "source_lang": "DE", "target_lang": "EN"}, None),
    (f"/translate?password={DEEPL_SECRET}", {}, {"text": "Hallo", "source_lang": "DE", "target_lang": "EN"}, None),
    (f"/translate?token={DEEPL_SECRET}", {}, {"text": "Hallo", "source_lang": "DE", "target_lang": "EN"}, None),
    ("/v2/translate", {"authorization": f"DeepL-Auth-Key {DEEPL_SECRET}"}, {"text": ["Hallo"], "target_lang": "EN"}, None),
    (f"/v2/translate?auth_key={DEEPL_SECRET}", {}, {"text": ["Hallo"], "target_lang": "EN"}, None),
    ("/v2/translate", {"content-type": "application/x-www-form-urlencoded"}, None,
     urlencode({"auth_key": DEEPL_SECRET, "text": "Hallo", "target_lang": "EN"})),
])
def test_every_credential_form_is_metered_under_its_secret(path, headers, body, form):
    async def go():
        gateway = Gateway(translate_password=DEEPL_SECRET)
        request_body = body if form is None else form
        response = await gateway.send("POST", path, request_body, key=None, headers=headers)
        assert response.status == 200, response.body
        await gateway.settled()
        assert len(gateway.ai.calls) == 1
        assert gateway.total("ai_calls", DEEPL_HASH) == 1 and gateway.total("characters", DEEPL_HASH) == 5

    scenario(go())


def test_the_api_key_in_the_query_is_the_same_key():
    async def go():
        gateway = Gateway()
        chat = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}
        assert (await gateway.send("POST", f"/v1/chat/completions?key={KEY}", chat, key=None)).status == 200
        assert (await gateway.send("POST", "/v1/chat/completions", chat)).status == 200
        await gateway.settled()
        assert gateway.usage()[CHAT]["requests"] == 2 and gateway.usage()[CHAT]["key_hash"] == KEY_HASH

    scenario(go())


def test_the_settlement_is_registered_before_the_first_call():
    async def go():
        gateway = Gateway()
        await gateway.send("POST", "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]})
        assert gateway.deferred_before_calls == [0]  # deferred with no AI call made yet
        assert gateway.usage() == {}  # nothing written before the deferred work runs
        await gateway.settled()
        row = gateway.usage()[CHAT]
        assert (row["requests"], row["ai_calls"]) == (1, 1)
        assert row["neurons"] == pytest.approx(CHAT_NEURONS, rel=1e-5)
        assert len([s for s in gateway.platform.database.statements if "INSERT INTO settlements" in s]) == 1

    scenario(go())


def test_a_public_route_cannot_call_the_model():
    from gateway.errors import ApiError
    from gateway.metering import Meter
    from gateway.request_caps import RequestCaps

    async def go():
        meter = Meter(key=None, hashed=None, day="2026-01-01", started=0.0, calls=RequestCaps())
        with pytest.raises(ApiError) as caught:
            await meter.open(CHAT, {})
        assert caught.value.status == 500

    scenario(go())


# --- budgets ---------------------------------------------------------------------------------------


def chat(text="hi", **extra):
    return {"model": CHAT, "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize("budgets", [{KEY_ID: 2.0}, {"*": 2.0}, {KEY_HASH: 2.0}, {KEY: 2.0}, {"*": 1000.0, KEY_ID: 2.0}])
def test_a_budget_names_a_key_by_id_hash_key_or_star(budgets):
    async def go():
        gateway = Gateway(key_budgets=budgets)
        refused = await gateway.send("POST", "/v1/chat/completions", chat())  # its bound (9.04) is over 2
        assert refused.status == 429 and body_of(refused)["error"]["code"] == "budget_exhausted"
        assert gateway.ai.calls == []

    scenario(go())


def test_another_keys_budget_does_not_apply():
    async def go():
        gateway = Gateway(key_budgets={"79fe4b3c615566e8": 2.0})  # sk-other's id
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 200
        assert (await gateway.send("POST", "/v1/chat/completions", chat(), key=OTHER)).status == 429

    scenario(go())


def test_calls_are_made_while_their_bound_fits_what_is_left():
    async def go():
        cap = 3 * CHAT_BOUND  # 27.129 neurons
        gateway = Gateway(key_budgets={KEY_ID: cap})
        gateway.platform.clock = lambda: 86400 * 10 - 3600  # 23:00 UTC
        # Each answer reports 10 + 20 tokens (0.739 neurons), settled before the next request: a
        # request runs while spent + 9.043 ≤ 27.129, i.e. while spent ≤ 18.086: 25 requests (0.739 × 24 = 17.74).
        served = 0
        while (response := await gateway.send("POST", "/v1/chat/completions", chat())).status == 200:
            served += 1
            await gateway.settled()
            assert served < 100
        assert served == 25
        assert gateway.total("neurons") == pytest.approx(25 * CHAT_NEURONS, rel=1e-5)
        error = body_of(response)["error"]
        assert response.status == 429 and error["code"] == "budget_exhausted" and error["type"] == "insufficient_quota"
        assert response.headers["Retry-After"] == "3600" and response.headers["X-Should-Retry"] == "false"
        assert "00:00 UTC" in error["message"] and "max_tokens" in error["message"]
        # Midnight: a new day, a whole budget.
        gateway.platform.clock = lambda: 86400 * 10 + 1
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 200

    scenario(go())


def test_a_reservation_at_exactly_the_cap_is_allowed_and_one_past_it_is_not():
    async def go():
        exact = Gateway(key_budgets={KEY_ID: CHAT_BOUND * (1 + 1e-9)})
        assert (await exact.send("POST", "/v1/chat/completions", chat())).status == 200
        short = Gateway(key_budgets={KEY_ID: CHAT_BOUND * (1 - 1e-6)})
        assert (await short.send("POST", "/v1/chat/completions", chat())).status == 429
        assert short.ai.calls == []

    scenario(go())


def test_max_tokens_sets_the_bound():
    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 5.0})
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 429  # 256 tokens: 9.04
        # 100 tokens: (26 × 0.045e-6 + 100 × 0.384e-6) = 3.957e-5 USD = 3.6 neurons
        assert (await gateway.send("POST", "/v1/chat/completions", chat(max_tokens=100))).status == 200

    scenario(go())


def test_a_budgeted_call_to_a_model_without_a_default_length_is_capped():
    async def go():
        budgeted = Gateway(key_budgets={KEY_ID: 10_000.0})
        await budgeted.send("POST", "/v1/chat/completions", {"model": GLM, "messages": [{"role": "user", "content": "hi"}]})
        assert budgeted.ai.calls[0][1]["max_tokens"] == 4096
        await budgeted.send("POST", "/v1/chat/completions", {"model": GLM, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50})
        assert budgeted.ai.calls[1][1]["max_tokens"] == 50
        await budgeted.send("POST", "/v1/chat/completions", chat())  # llama's own default (256) holds
        assert "max_tokens" not in budgeted.ai.calls[2][1]
        free = Gateway()
        await free.send("POST", "/v1/chat/completions", {"model": GLM, "messages": [{"role": "user", "content": "hi"}]})
        assert "max_tokens" not in free.ai.calls[0][1]

    scenario(go())


def test_concurrent_requests_never_hold_more_than_the_cap():
    async def slow(model, inputs):
        await asyncio.sleep(0.01)
        return {"response": "ok", "usage": {"prompt_tokens": 26, "completion_tokens": 256}}  # its whole bound

    async def go():
        cap = 10 * CHAT_BOUND + 0.001
        gateway = Gateway(slow, key_budgets={KEY_ID: cap})
        responses = await asyncio.gather(*(gateway.send("POST", "/v1/chat/completions", chat()) for _ in range(50)))
        await gateway.settled()
        statuses = [r.status for r in responses]
        assert statuses.count(200) == 10 and statuses.count(429) == 40
        assert len(gateway.ai.calls) == 10
        assert gateway.total("neurons") == pytest.approx(10 * CHAT_BOUND, rel=1e-5) and gateway.total("neurons") <= cap
        assert gateway.platform.database.rows("SELECT * FROM reservations") == []

    scenario(go())


def test_a_refused_request_writes_nothing():
    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 0.0})
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 429
        await asyncio.wait_for(gateway.settled(), 1)  # the request was let go at once
        assert gateway.usage() == {}
        assert not [s for s in gateway.platform.database.statements if "settlements" in s or "DELETE" in s]

    scenario(go())


@pytest.mark.parametrize("path, body, envelope", [
    ("/v2/translate", {"text": ["Hallo"], "target_lang": "EN"}, {"message"}),
    ("/translate", {"text": "Hallo", "source_lang": "DE", "target_lang": "EN"}, {"code", "message"}),
])
def test_deepl_routes_answer_a_used_up_budget_with_456(path, body, envelope):
    async def go():
        gateway = Gateway(key_budgets={"*": 0.0})
        response = await gateway.send("POST", path, body)
        assert response.status == 456 and set(body_of(response)) == envelope
        assert "budget" in body_of(response)["message"]
        assert gateway.ai.calls == []

    scenario(go())


def test_workers_ai_out_of_allocation_is_456_on_deepl_routes_and_a_no_retry_429_elsewhere():
    from gateway.errors import UpstreamError

    async def go():
        gateway = Gateway()
        gateway.ai.error = UpstreamError("3036: Capacity temporarily exceeded", 3036)
        deepl = await gateway.send("POST", "/v2/translate", {"text": ["Hallo"], "target_lang": "EN"})
        assert deepl.status == 456 and set(body_of(deepl)) == {"message"}
        openai = await gateway.send("POST", "/v1/chat/completions", chat())
        assert openai.status == 429 and openai.headers["X-Should-Retry"] == "false"
        assert body_of(openai)["error"]["type"] == "insufficient_quota"
        await gateway.settled()
        # Refused by Workers AI: the calls were made and cost nothing.
        assert gateway.total("ai_calls") == 2 and gateway.total("neurons") == 0

    scenario(go())


def test_multi_call_requests_reserve_in_one_write_and_stop_when_refused():
    async def go():
        lines = [f"Line number {i}." for i in range(20)]
        gateway = Gateway(key_budgets={KEY_ID: 1000.0})
        response = await gateway.send("POST", "/translate", {"text_list": lines, "source_lang": "EN", "target_lang": "DE"})
        assert response.status == 200 and len(gateway.ai.calls) == 20
        reserves = [s for s in gateway.platform.database.statements if s.startswith("INSERT INTO reservations")]
        assert len(reserves) == 1  # the 20 bounds in one write
        # A cap that the whole page does not fit: each line reserves its own until one is refused.
        # m2m100's bound for "Line number 10.": (15 + 2) in + (2 × 17 + 16) out = 67 tokens × 0.342e-6 = 2.083 neurons.
        tight = Gateway(key_budgets={KEY_ID: 10.0})
        refused = await tight.send("POST", "/translate", {"text_list": lines, "source_lang": "EN", "target_lang": "DE"})
        assert refused.status == 456 and 0 < len(tight.ai.calls) < 20
        await tight.settled()
        assert tight.total("neurons") <= 10.0 and tight.total("ai_calls") == len(tight.ai.calls)

    scenario(go())


# --- the database failing ----------------------------------------------------------------------------


def test_with_the_database_down_a_budgeted_key_is_refused_and_others_are_served_and_written_later():
    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 1000.0})
        db = gateway.platform.database
        db.fail = True
        refused = await gateway.send("POST", "/v1/chat/completions", chat())
        assert refused.status == 503 and body_of(refused)["error"]["code"] == "accounting_unavailable"
        assert gateway.ai.calls == []
        served = [await gateway.send("POST", "/v1/chat/completions", chat(), key=OTHER) for _ in range(3)]
        assert [r.status for r in served] == [200] * 3
        await gateway.settled()
        # The three settlements, and the release of the reservation that may have landed.
        assert ledger.FAILURES.report()["pending"] == 4 and ledger.FAILURES.reserve == 1
        health = body_of(await gateway.send("GET", "/health"))
        assert health["accounting_failures"]["pending"] == 4
        db.fail = False
        assert (await gateway.send("POST", "/v1/chat/completions", chat(), key=OTHER)).status == 200
        await gateway.settled()
        assert gateway.usage(OTHER_HASH)[CHAT]["requests"] == 4  # all four, each once
        assert ledger.FAILURES.report()["pending"] == 0
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 200  # and the budget works again

    scenario(go())


def test_a_limit_without_a_database_is_refused_not_ignored():
    async def go():
        gateway = Gateway(database=False, key_budgets={KEY_ID: 1000.0})
        response = await gateway.send("POST", "/v1/chat/completions", chat())
        error = body_of(response)["error"]
        assert response.status == 503 and (error["code"], error["type"]) == ("accounting_off", "server_error")
        assert gateway.ai.calls == []
        assert (await gateway.send("POST", "/v1/chat/completions", chat(), key=OTHER)).status == 200

    scenario(go())


# --- what a call costs when it is not an ordinary answer ---------------------------------------------


def test_a_timed_out_call_costs_its_bound_and_a_refused_one_nothing():
    from gateway.errors import UpstreamError

    async def never(model, inputs):
        await asyncio.sleep(10)

    async def go():
        gateway = Gateway(never, ai_timeout_seconds=0.01)
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 504
        await gateway.settled()
        assert gateway.total("neurons") == pytest.approx(CHAT_BOUND, rel=1e-5) and gateway.total("ai_calls") == 1
        refused = Gateway()
        refused.ai.error = UpstreamError("5006: Error: bad input", 5006)
        assert (await refused.send("POST", "/v1/chat/completions", chat())).status == 400
        unknown = Gateway()
        unknown.ai.error = UpstreamError("network connection lost")
        assert (await unknown.send("POST", "/v1/chat/completions", chat())).status == 502
        await refused.settled()
        await unknown.settled()
        assert refused.total("neurons") == 0 and refused.total("ai_calls") == 1
        assert unknown.total("neurons") == pytest.approx(CHAT_BOUND, rel=1e-5)

    scenario(go())


def test_an_answer_of_an_odd_shape_is_priced_from_its_inputs():
    async def go():
        gateway = Gateway(lambda model, inputs: {"choices": [5]})
        assert (await gateway.send("POST", "/v1/chat/completions", chat("y" * 400))).status == 502
        await gateway.settled()
        # 100 prompt tokens, no answer: 4.5e-6 USD
        assert gateway.total("neurons") == pytest.approx(0.409091, rel=1e-5)

    scenario(go())


def openai_chunks(model, text_pieces, usage):
    base = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": model}
    events = [{**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]} for piece in text_pieces]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **({"usage": usage} if usage else {})})
    return sse(events)


def test_a_passed_through_stream_is_priced_from_the_usage_on_its_last_chunk(passthrough_allowed):
    async def go():
        usage = {"prompt_tokens": 20, "completion_tokens": 3000, "total_tokens": 3020}
        gateway = Gateway(lambda m, i: FakeStream(openai_chunks(GPT_OSS, ["a"] * 5, usage)))
        response = await gateway.send("POST", "/v1/chat/completions", {"model": GPT_OSS, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        assert isinstance(response, PassthroughResponse) and response.headers["X-Stream-Relay"] == "passthrough"
        await gateway.settled()
        # 20 × 0.35e-6 + 3000 × 0.75e-6 = 2.257e-3 USD
        assert gateway.total("neurons") == pytest.approx(205.181818, rel=1e-5)

    scenario(go())


def test_a_passed_through_stream_without_usage_is_priced_from_its_text_not_its_bound(passthrough_allowed):
    async def go():
        gateway = Gateway(lambda m, i: FakeStream(openai_chunks(GPT_OSS, ["abcd"] * 5, None)))
        response = await gateway.send("POST", "/v1/chat/completions", GPT_OSS_STREAM)
        assert isinstance(response, PassthroughResponse)
        await gateway.settled()
        spent = gateway.total("neurons")
        # Read from the copy in slices (STREAM_SLICE_BYTES): 20 characters of answer cost far less
        # than the answer's bound (gpt-oss's default max_tokens, ~300 neurons and more).
        assert 0 < spent < 5

    scenario(go())


async def spent_on(chunks: list[bytes], body: dict) -> float:
    """The neurons one chat request is charged when its model streams `chunks`."""
    gateway = Gateway(lambda m, i: FakeStream(chunks))
    response = await gateway.send("POST", "/v1/chat/completions", body)
    assert response.status == 200
    await gateway.settled()
    return gateway.total("neurons")


LEGACY_TEXT = [b'data: {"response":"abcd"}\n\n'] * 40
GPT_OSS_STREAM = {"model": GPT_OSS, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
LEGACY_USAGE = b'data: {"response":"","usage":{"prompt_tokens":20,"completion_tokens":3000}}\n\n'


def test_a_passed_through_stream_without_usage_is_priced_from_its_text():
    # 1 prompt token, 400 characters → 100 tokens
    assert scenario(spent_on(openai_chunks(GPT_OSS, ["abcd"] * 100, None), GPT_OSS_STREAM)) == pytest.approx(n((0.35 + 100 * 0.75) / 1e6), rel=1e-6)


def test_a_relayed_stream_is_priced_from_its_usage_else_its_text():
    with_usage = scenario(spent_on(LEGACY_TEXT + [LEGACY_USAGE, b"data: [DONE]\n\n"], chat(stream=True)))
    assert with_usage == pytest.approx(n((20 * 0.045 + 3000 * 0.384) / 1e6), rel=1e-6)
    # "hi" → 1 prompt token; 160 characters → 40 tokens
    assert scenario(spent_on(LEGACY_TEXT + [b"data: [DONE]\n\n"], chat(stream=True))) == pytest.approx(n((0.045 + 40 * 0.384) / 1e6), rel=1e-6)


def test_a_stream_cut_short_is_priced_from_what_was_relayed():
    assert scenario(spent_on(LEGACY_TEXT, chat(stream=True))) == pytest.approx(n((0.045 + 40 * 0.384) / 1e6), rel=1e-6)  # no [DONE]


def test_completions_and_responses_streams_are_priced_too():
    async def go():
        gateway = Gateway(lambda m, i: FakeStream(LEGACY_TEXT[:4] + [LEGACY_USAGE, b"data: [DONE]\n\n"]))
        await gateway.send("POST", "/v1/completions", {"model": CHAT, "prompt": "hi", "stream": True})
        await gateway.send("POST", "/v1/responses", {"model": CHAT, "input": "hi", "stream": True})
        await gateway.settled()
        assert gateway.total("neurons") == pytest.approx(2 * n((20 * 0.045 + 3000 * 0.384) / 1e6), rel=1e-6)
        assert gateway.total("requests") == 2

    scenario(go())


# --- DeepL's character limit -------------------------------------------------------------------------


def test_the_character_limit_is_held_per_month_and_answered_with_456():
    async def go():
        gateway = Gateway(translate_password=DEEPL_SECRET, deepl_character_limit=12)
        deepl = {"authorization": f"DeepL-Auth-Key {DEEPL_SECRET}"}
        ok = await gateway.send("POST", "/v2/translate", {"text": ["Hallo", "Welt!"], "source_lang": "DE", "target_lang": "EN"},
                                key=None, headers=deepl)
        assert ok.status == 200
        await gateway.settled()
        usage = body_of(await gateway.send("GET", "/v2/usage", key=None, headers=deepl))
        assert usage == {"character_count": 10, "character_limit": 12}
        over = await gateway.send("POST", "/v2/translate", {"text": ["abc"], "target_lang": "EN"}, key=None, headers=deepl)
        assert over.status == 456 and set(body_of(over)) == {"message"} and len(gateway.ai.calls) == 2
        fits = await gateway.send("POST", "/translate", {"text": "ab", "source_lang": "DE", "target_lang": "EN"}, key=None, headers={"authorization": f"Bearer {DEEPL_SECRET}"})
        assert fits.status == 200
        await gateway.settled()
        assert gateway.total("characters", DEEPL_HASH) == 12

    scenario(go())


def test_without_a_limit_usage_reports_deepls_unlimited_figure():
    async def go():
        gateway = Gateway()
        await gateway.send("POST", "/v2/translate", {"text": ["Hallo"], "target_lang": "EN"})
        await gateway.settled()
        assert body_of(await gateway.send("GET", "/v2/usage")) == {"character_count": 5, "character_limit": 1_000_000_000_000}
        assert gateway.platform.database.rows("SELECT * FROM reservations") == []

    scenario(go())


def test_a_failed_translation_counts_no_characters_and_releases_them():
    from gateway.errors import UpstreamError

    async def go():
        gateway = Gateway(deepl_character_limit=100)
        gateway.ai.error = UpstreamError("5006: bad", 5006)
        assert (await gateway.send("POST", "/v2/translate", {"text": ["Hallo"], "target_lang": "EN"})).status == 400
        await gateway.settled()
        assert gateway.total("characters") == 0
        assert gateway.platform.database.rows("SELECT * FROM reservations") == []

    scenario(go())


# --- the translation cache ---------------------------------------------------------------------------


class DictCache:
    def __init__(self):
        self.entries: dict[str, tuple[str, int]] = {}

    async def get(self, key):
        return self.entries.get(key, (None, 0))[0]

    async def put(self, key, value, ttl_seconds):
        self.entries[key] = (value, ttl_seconds)


def test_cached_lines_are_per_key_and_per_model_that_ran():
    async def go():
        gateway = Gateway()
        gateway.platform.cache = DictCache()
        page = {"text_list": ["Home", "About us", "Home"], "source_lang": "EN", "target_lang": "DE"}
        first = await gateway.send("POST", "/translate", page)
        await gateway.settled()
        assert len(gateway.ai.calls) == 2
        second = await gateway.send("POST", "/translate", page)
        await gateway.settled()
        assert second.body == first.body and len(gateway.ai.calls) == 2
        row = gateway.usage()[M2M]
        assert (row["requests"], row["ai_calls"], row["cache_hits"]) == (2, 2, 2)
        assert row["neurons_saved"] == pytest.approx(row["neurons"])
        # Another key translates the same page afresh: entries are not shared.
        await gateway.send("POST", "/translate", page, key=OTHER)
        assert len(gateway.ai.calls) == 4
        # English → Hindi: the default request runs indictrans2, one naming m2m100 runs m2m100, and
        # neither reads the other's entry.
        default = await gateway.send("POST", "/translate", {"text": "Home", "source_lang": "EN", "target_lang": "HI"})
        named = await gateway.send("POST", "/translate", {"text": "Home", "source_lang": "EN", "target_lang": "HI", "model": M2M})
        assert body_of(default)["data"] == "<hin_Deva>Home" and body_of(named)["data"] == "<hi>Home"
        assert [model for model, _ in gateway.ai.calls[4:]] == [INDICTRANS2, M2M]

    scenario(go())


# --- the cap per request and the client leaving -------------------------------------------------------


def test_every_call_counts_against_the_requests_call_cap():
    async def go():
        gateway = Gateway(max_ai_calls_per_request=2)
        response = await gateway.send("POST", "/v1/moderations", {"input": ["one", "two", "three"]})
        assert response.status == 400 and body_of(response)["error"]["code"] == "too_many_ai_calls"
        assert len(gateway.ai.calls) <= 2
        await gateway.settled()
        assert gateway.total("ai_calls") == len(gateway.ai.calls)

    scenario(go())


def test_a_client_that_has_gone_gets_no_call():
    async def go():
        gateway = Gateway()
        request = make_request("POST", "/v1/chat/completions", body=chat(),
                               headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
        request.client_gone = lambda: True
        response = await handle(request, gateway.platform)
        assert response.status == 499 and gateway.ai.calls == []

    scenario(go())


# --- what is held, and when it is let go ----------------------------------------------------------------


def test_what_a_call_holds_while_it_runs():
    seen = []

    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 1000.0}, deepl_character_limit=1000)

        def look(model, inputs):
            seen.append(gateway.platform.database.rows("SELECT neurons, characters FROM reservations ORDER BY neurons"))
            return answer(model, inputs)

        gateway.ai.result = look
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 200
        await gateway.settled()
        assert (await gateway.send("POST", "/v2/translate", {"text": ["Hallo"], "source_lang": "DE", "target_lang": "EN"})).status == 200
        await gateway.settled()
        assert gateway.platform.database.rows("SELECT * FROM reservations") == []
        # The chat call holds its bound; the translation its 5 characters and, beside them, its call's
        # bound: (5 + 2) tokens in, 2 × 7 + 16 out, at $0.342.
        assert seen[0] == [{"neurons": pytest.approx(CHAT_BOUND, rel=1e-6), "characters": 0}]
        assert seen[1] == [{"neurons": 0.0, "characters": 5}, {"neurons": pytest.approx(n(37 * 0.342 / 1e6), rel=1e-9), "characters": 0}]
        # Registered with the runtime before its first statement (the reservation) ran.
        assert gateway.deferred_before_statements == [0, 2]

    scenario(go())


def test_one_budgeted_call_reserves_once_and_an_unbudgeted_request_never():
    async def go():
        budgeted = Gateway(key_budgets={KEY_ID: 1000.0})
        await budgeted.send("POST", "/v1/embeddings", {"model": "@cf/baai/bge-m3", "input": ["a"]})
        assert len([s for s in budgeted.platform.database.statements if s.startswith("INSERT INTO reservations")]) == 1
        await budgeted.send("POST", "/v1/images/generations", {"model": "@cf/black-forest-labs/flux-1-schnell", "prompt": "p", "n": 2,
                                                               "response_format": "b64_json"})
        assert len([s for s in budgeted.platform.database.statements if s.startswith("INSERT INTO reservations")]) == 2
        free = Gateway()
        await free.send("POST", "/translate", {"text_list": ["One.", "Two."], "source_lang": "EN", "target_lang": "DE"})
        await free.settled()
        assert not [s for s in free.platform.database.statements if "reservations" in s and s.startswith("INSERT")]

    scenario(go())


def test_a_prepaid_pool_covers_only_what_it_was_paid_for():
    from gateway.request_caps import RequestCaps
    from gateway.metering import Meter

    async def go():
        db = SqliteDatabase()
        meter = Meter(key=KEY, hashed=KEY_HASH, day="2026-03-05", started=0.0, calls=RequestCaps(), database=db,
                      limits=ledger.Limits(neurons=1000.0))
        inputs = {"prompt": "p"}
        await meter.prepay([("@cf/black-forest-labs/flux-1-schnell", inputs)] * 2)
        for _ in range(3):
            await meter.open("@cf/black-forest-labs/flux-1-schnell", inputs)
        held = db.rows("SELECT neurons FROM reservations ORDER BY id")
        assert held == [{"neurons": pytest.approx(2 * IMAGE_COST)}, {"neurons": pytest.approx(IMAGE_COST)}]

    scenario(go())


def test_characters_held_for_a_request_refused_later_are_let_go():
    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 0.001}, deepl_character_limit=1000)
        response = await gateway.send("POST", "/v2/translate", {"text": ["Hallo Welt"], "source_lang": "DE", "target_lang": "EN"})
        assert response.status == 456 and gateway.ai.calls == []
        await gateway.settled()
        assert gateway.platform.database.rows("SELECT * FROM reservations") == []
        assert gateway.usage() == {}

    scenario(go())


def test_a_reservation_whose_answer_was_lost_is_let_go():
    class LandsThenDown(SqliteDatabase):
        def __init__(self):
            super().__init__()
            self.reserves = 0

        async def changes(self, sql, params):
            if sql.startswith("INSERT INTO reservations"):
                self.reserves += 1
                if self.reserves == 1:
                    await super().changes(sql, params)  # it landed...
                raise DatabaseError("D1_ERROR: Network connection lost.")  # ...and every answer is lost
            return await super().changes(sql, params)

    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 1000.0})
        gateway.platform.database = LandsThenDown()
        response = await gateway.send("POST", "/v1/chat/completions", chat())
        error = body_of(response)["error"]
        assert response.status == 503 and error["code"] == "accounting_unavailable" and error["type"] == "server_error"
        assert response.headers["Retry-After"] == "10"
        assert len(gateway.platform.database.rows("SELECT * FROM reservations")) == 1
        await gateway.settled()
        assert gateway.platform.database.rows("SELECT * FROM reservations") == []

    scenario(go())


def test_the_refusal_says_what_was_spent_held_and_needed():
    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 10.0})
        gateway.platform.clock = lambda: 86400 * 10 - 60
        await ledger.settle(gateway.platform.database, ledger.settlement("earlier", KEY_HASH, "1970-01-10", [(CHAT, 1, 1, 2.5, 0, 0.0, 0)]))
        await ledger.reserve(gateway.platform.database, "inflight:1", KEY_HASH, "1970-01-10", neurons=1.25, characters=0, limits=ledger.Limits())
        response = await gateway.send("POST", "/v1/chat/completions", chat())
        message = body_of(response)["error"]["message"]
        assert "budget of 10 neurons" in message and "spent 2.5 today" in message and "hold 1.2" in message
        assert f"up to {CHAT_BOUND:.1f}" in message and "(6.2 left)" in message
        assert response.headers["Retry-After"] == "60"
        # Spent past the cap (a call that wrote more than it was sent): nothing left, not less than nothing.
        over = Gateway(key_budgets={KEY_ID: 1.0})
        over.platform.clock = lambda: 86400 * 10 - 60
        await ledger.settle(over.platform.database, ledger.settlement("e", KEY_HASH, "1970-01-10", [(CHAT, 1, 1, 5.0, 0, 0.0, 0)]))
        assert "(0.0 left)" in body_of(await over.send("POST", "/v1/chat/completions", chat()))["error"]["message"]

    scenario(go())


# --- without the runtime's help ---------------------------------------------------------------------------


def test_without_wait_until_the_settlement_is_written_before_the_answer():
    async def go():
        gateway = Gateway()
        gateway.platform.defer = gateway.platform.keep_alive = None
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 200
        assert gateway.usage()[CHAT]["ai_calls"] == 1  # nothing awaited after the answer

    scenario(go())


def test_without_a_database_nothing_is_settled():
    async def go():
        gateway = Gateway(database=False)
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 200
        assert gateway.holds == [] and gateway.deferred_before_calls == []
        usage = await gateway.send("GET", "/v2/usage")
        assert body_of(usage) == {"character_count": 0, "character_limit": 1_000_000_000_000}

    scenario(go())


def test_deepl_usage_with_the_database_failing_is_deepls_504():
    async def go():
        gateway = Gateway()
        gateway.platform.database.fail = True
        response = await gateway.send("GET", "/v2/usage")
        # DeepL's description lists no 503; its 504 is "Resource currently unavailable. Try again later."
        assert response.status == 504 and set(body_of(response)) == {"message"}

    scenario(go())


def test_a_stream_nobody_reports_is_charged_its_bound_at_the_deadline(monkeypatch, passthrough_allowed):
    from gateway import metering

    monkeypatch.setattr(metering, "SETTLE_DEADLINE_SECONDS", 0.01)

    async def go():
        gateway = Gateway(lambda m, i: FakeStream([b'data: {"response":"abcd"}\n\n']))
        request = make_request("POST", "/v1/chat/completions", body=chat(stream=True),
                               headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
        response = await handle(request, gateway.platform)  # the relay is never fed: nobody reports the stream's end
        assert isinstance(response, RelayResponse)
        await gateway.settled()
        assert gateway.total("neurons") == pytest.approx(CHAT_BOUND, rel=1e-6)
        # A copy that cannot be read is charged its bound too.

        class Broken(FakeStream):
            def tee(self):
                async def copy():
                    raise RuntimeError("the stream broke")

                return FakeStream(self.chunks), copy()

        broken = Gateway(lambda m, i: Broken([b"x"]))
        await broken.send("POST", "/v1/chat/completions", GPT_OSS_STREAM)
        await broken.settled()
        # gpt-oss-120b, "hi": 26 prompt tokens, 256 out: 26 × 0.35e-6 + 256 × 0.75e-6
        assert broken.total("neurons") == pytest.approx(n((26 * 0.35 + 256 * 0.75) / 1e6), rel=1e-6)

    scenario(go())


def test_a_stream_for_a_request_that_asked_for_none_is_charged_its_bound():
    async def go():
        gateway = Gateway(lambda m, i: FakeStream([b'data: {"response":"x"}\n\n']))
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 502
        await gateway.settled()
        assert gateway.total("neurons") == pytest.approx(CHAT_BOUND, rel=1e-6)

    scenario(go())


def test_a_timeout_code_from_workers_ai_costs_the_bound():
    from gateway.errors import UpstreamError

    async def go():
        gateway = Gateway()
        gateway.ai.error = UpstreamError("3007: timed out", 3007)
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 504
        await gateway.settled()
        assert gateway.total("neurons") == pytest.approx(CHAT_BOUND, rel=1e-6)

    scenario(go())


def test_the_live_model_list_goes_through_the_metered_binding():
    class Listing(FakeAi):
        async def models(self, params=None):
            return [{"name": "@cf/meta/llama-3.1-8b-instruct-fast", "task": {"name": "Text Generation"}, "properties": []}]

    async def go():
        from gateway import live_catalog

        live_catalog.reset()
        gateway = Gateway()
        gateway.ai = Listing(answer)
        gateway.platform.ai = gateway.ai
        response = await gateway.send("GET", "/v1/models")
        live_catalog.reset()
        assert response.headers.get("X-Catalog-Source") != "fallback"
        assert [m["id"] for m in body_of(response)["data"]] and gateway.ai.calls == []

    scenario(go())


# --- reading a stream's end ------------------------------------------------------------------------------


def test_the_usage_of_a_streams_last_chunk_is_found_in_its_tail():
    from gateway.metering import completion_chars, stream_usage

    tail = b'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\ndata: not json "usage"\n\ndata: {"usage":{"prompt_tokens":9}}\n\ndata: [DONE]\n\n'
    assert stream_usage(tail) == {"prompt_tokens": 9}
    assert stream_usage(b'data:{"usage":{"prompt_tokens":4}}\n\n') == {"prompt_tokens": 4}  # no space after the colon
    assert stream_usage(b"\xa9" + tail) == {"prompt_tokens": 9}  # cut in the middle of a character
    assert stream_usage(b'data: {"usage": 5}\n\ndata: {"x": "usage"}\n\n') is None
    events = [
        b'data: {"response":"abc"}\n\n',
        b'data: {"choices":[{"delta":{"content":"de","reasoning_content":"fgh","tool_calls":[{"function":{"arguments":"{}"}}, 5]}}]}\n\n',
        b'data: {"choices":[{"message":{"reasoning":"ij"}}, "x"]}\n\n',
        b"data: [DONE]\n\n", b"data: [1]\n\n", b'data: {"choices":[{"delta":{"content":7}}]}\n\n',
        b'data: {"response":"xy"}',  # the last event, without its blank line
    ]
    assert completion_chars(events) == 3 + 2 + 3 + 2 + 2 + 2


def test_a_tail_cut_inside_a_character_still_finds_the_usage():
    from gateway import metering

    usage = {"prompt_tokens": 20, "completion_tokens": 3000}
    stream = openai_chunks(GPT_OSS, ["é" * (metering.STREAM_TAIL_BYTES // 2)], usage)
    assert scenario(spent_on(stream, GPT_OSS_STREAM)) == pytest.approx(n((20 * 0.35 + 3000 * 0.75) / 1e6), rel=1e-6)


def test_a_call_settled_twice_counts_once():
    from gateway.request_caps import RequestCaps
    from gateway.metering import Meter

    async def go():
        meter = Meter(key=KEY, hashed=KEY_HASH, day="2026-03-05", started=0.0, calls=RequestCaps(), database=SqliteDatabase())
        call = await meter.open(CHAT, chat())
        meter.settle(call, 2.0)
        meter.settle(call, 3.0)
        meter.unknown(call)
        assert meter.models[CHAT].neurons == 2.0

    scenario(go())


def test_a_budgeted_page_registers_its_settlement_before_it_reserves():
    async def go():
        gateway = Gateway(key_budgets={KEY_ID: 1000.0})
        response = await gateway.send("POST", "/translate", {"text_list": ["One.", "Two."], "source_lang": "EN", "target_lang": "DE"})
        assert response.status == 200
        assert gateway.deferred_before_statements == [0]

    scenario(go())


def test_image_and_speech_streams_are_settled_as_soon_as_they_return():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

    def streaming(model, inputs):
        return FakeStream([png] if "stable-diffusion" in model else [MP3])

    async def go():
        gateway = Gateway(streaming)
        image = await gateway.send("POST", "/v1/images/generations", {"model": "@cf/stabilityai/stable-diffusion-xl-base-1.0",
                                                                      "prompt": "p", "response_format": "b64_json"})
        assert image.status == 200
        speech = await gateway.send("POST", "/v1/audio/speech", {"model": "@cf/deepgram/aura-1", "input": "hello"})
        assert isinstance(speech, PassthroughResponse)
        await asyncio.wait_for(gateway.settled(), 5)  # nothing waits for an end nobody reports
        usage = gateway.usage()
        # SDXL: 20 steps (its default), 1024² = 4 tiles, priced as flux-1-schnell; aura: a second, as a whisper minute
        assert usage["@cf/stabilityai/stable-diffusion-xl-base-1.0"]["neurons"] == pytest.approx(n(20 * 0.0001056 + 4 * 0.0000528), rel=1e-6)
        assert usage["@cf/deepgram/aura-1"]["neurons"] == pytest.approx(MINUTE / 60, rel=1e-6)

    scenario(go())


def test_calls_made_one_after_another_are_all_priced_as_they_answered():
    async def go():
        gateway = Gateway()
        # 150 inputs: two batches (100 and 50), called one after the other; each "word" is one token.
        response = await gateway.send("POST", "/v1/embeddings", {"model": "@cf/baai/bge-m3", "input": ["word"] * 150})
        assert response.status == 200 and len(gateway.ai.calls) == 2
        await gateway.settled()
        assert gateway.total("ai_calls") == 2
        assert gateway.total("neurons") == pytest.approx(n(150 * 0.204 / 1e6), rel=1e-6)

    scenario(go())


def test_the_deadline_is_let_go_once_the_streams_have_ended(monkeypatch, capsys):
    from gateway import metering

    monkeypatch.setattr(metering, "SETTLE_DEADLINE_SECONDS", 0.05)

    async def go():
        spent = await spent_on(LEGACY_TEXT + [LEGACY_USAGE, b"data: [DONE]\n\n"], chat(stream=True))
        await asyncio.sleep(0.1)  # past the deadline: a timer left set would now fire
        return spent

    assert scenario(go()) == pytest.approx(n((20 * 0.045 + 3000 * 0.384) / 1e6), rel=1e-6)
    assert "never reported an end" not in capsys.readouterr().out


def test_without_a_database_no_settlement_is_started():
    async def go():
        gateway = Gateway(database=False)
        assert (await gateway.send("POST", "/v1/chat/completions", chat())).status == 200
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    scenario(go())


def test_without_accounting_a_passed_through_stream_is_not_copied(passthrough_allowed):
    class NoTee(FakeStream):
        def tee(self):
            raise AssertionError("copied for nobody")

    async def go():
        gateway = Gateway(lambda m, i: NoTee(openai_chunks(GPT_OSS, ["a"], None)), database=False)
        response = await gateway.send("POST", "/v1/chat/completions", GPT_OSS_STREAM)
        assert isinstance(response, PassthroughResponse)

    scenario(go())
