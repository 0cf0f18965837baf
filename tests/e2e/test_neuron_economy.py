"""Neuron economy, end to end: the translation cache (Cache API), usage accounting (D1), budgets,
GET /v1/usage and the playground's usage chart, against the worker in workerd."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import datetime, timezone

import httpx
import pytest
from werkzeug.wrappers import Response

from support.local_gateway import LocalGateway

M2M = "@cf/meta/m2m100-1.2b"
CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"

ADMIN = "sk-admin-0123456789abcdef"
CONCURRENT = "sk-concurrent-key"
BUDGETED = "sk-budgeted-key"
OTHER = "sk-other-key"
# Key ids: the first 16 hex digits of sha256("workers-ai-gateway usage\0<key>"), worked out with
# hashlib outside the gateway. The cap names the key by its id, so the var holds no secret.
ID = {BUDGETED: "170f1f059a4d836d", OTHER: "664c5ac788ff0230", CONCURRENT: "fcc9a716cfc948bd"}
CAP = 10.0
# What one "count me" chat may cost at most: (8 bytes + 8 + 16) prompt tokens × $0.045/M + 256 (the
# model's published default max_tokens) × $0.384/M = 9.9744e-5 USD.
BOUND = 9.067636


def at(text: str) -> str:
    """Epoch seconds of an ISO UTC time, as the X-Test-Now header takes it."""
    return str(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


@pytest.fixture(scope="module")
def economy():
    local = LocalGateway(
        api_keys=f"{CONCURRENT},{BUDGETED},{OTHER},{ADMIN}",
        extra_env={"ADMIN_KEYS": ADMIN, "TEST_CLOCK": "true", "KEY_BUDGETS": f"{ID[BUDGETED]}={CAP}"},
    )
    yield local
    local.stop()


def bearer(key: str, **extra) -> dict:
    return {"Authorization": f"Bearer {key}", **extra}


def usage_of(gateway, key: str, *, days: int = 1, now: str | None = None, wait_for=None) -> dict:
    """GET /v1/usage; with `wait_for`, polls until the predicate holds (writes land after the answer)."""
    headers = bearer(key, **({"X-Test-Now": now} if now else {}))
    deadline = time.monotonic() + 10
    while True:
        body = httpx.get(f"{gateway.url}/v1/usage", params={"days": days}, headers=headers, timeout=30).json()
        if wait_for is None or wait_for(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def day_totals(body: dict, day: str) -> dict:
    (entry,) = body["keys"] or [{"days": {}}]
    return entry["days"].get(day, {})


# --- translation cache --------------------------------------------------------------------------


def test_a_repeated_translation_makes_no_ai_call(scripted_gateway, httpserver):
    def answer(request):
        inputs = json.loads(request.get_data())["inputs"]
        return Response(json.dumps({"translated_text": f"<{inputs['target_lang']}>{inputs['text']}"}), content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(answer)
    nav = f"Home {uuid.uuid4().hex[:6]}"
    page = [nav, "Pricing", f"A paragraph only this page has {uuid.uuid4().hex[:6]}."]
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}

    def translate(texts):
        response = httpx.post(f"{scripted_gateway.url}/translate", headers=headers, timeout=30,
                              json={"text_list": texts, "source_lang": "EN", "target_lang": "DE"})
        assert response.status_code == 200, response.text
        return [t["text"] for t in response.json()["translations"]]

    first = translate(page)
    calls_after_first = len(httpserver.log)
    assert calls_after_first == 3
    # The cache write lands after the answer (waitUntil): give it a moment.
    time.sleep(0.3)
    second = translate(page)
    assert second == first == [f"<de>{t}" for t in page]
    assert len(httpserver.log) == calls_after_first, "a cached line was translated again"

    # Another page sharing the navigation: only its own line is translated.
    other = [nav, f"Another page's text {uuid.uuid4().hex[:6]}."]
    assert translate(other) == [f"<de>{t}" for t in other]
    sent = [json.loads(request.get_data())["inputs"]["text"] for request, _ in httpserver.log[calls_after_first:]]
    assert sent == [other[1]]

    # A different target language is a different cache entry.
    response = httpx.post(f"{scripted_gateway.url}/translate", headers=headers, timeout=30,
                          json={"text": nav, "source_lang": "EN", "target_lang": "FR"})
    assert response.json()["data"] == f"<fr>{nav}"
    assert json.loads(httpserver.log[-1][0].get_data())["inputs"]["target_lang"] == "fr"


# --- accounting ---------------------------------------------------------------------------------


def test_health_says_accounting_is_on(economy):
    body = httpx.get(f"{economy.url}/health").json()
    assert body["accounting"] == "on"
    # The runtime handed over its context (legacy: on_fetch's ctx; production: self.ctx): writes go after the answer.
    assert body["wait_until"] is True
    assert body["translation_cache"] == {"enabled": True, "ttl_seconds": 30 * 86400}


def test_counts_are_exact_under_200_concurrent_requests(economy):
    day = "2026-03-02"
    now = at(f"{day}T12:00:00")

    async def burst():
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=economy.url, timeout=120, limits=limits) as client:
            async def one(i):
                return await client.post("/v1/chat/completions", headers=bearer(CONCURRENT, **{"X-Test-Now": now}),
                                         json={"model": CHAT, "messages": [{"role": "user", "content": f"hello {i}"}]})
            return await asyncio.gather(*(one(i) for i in range(200)))

    started = time.monotonic()
    responses = asyncio.run(burst())
    print(f"200 concurrent chat requests in {time.monotonic() - started:.2f}s")
    assert [r.status_code for r in responses] == [200] * 200
    body = usage_of(economy, CONCURRENT, now=now, wait_for=lambda b: day_totals(b, day).get("requests") == 200)
    totals = day_totals(body, day)
    assert totals["requests"] == 200 and totals["ai_calls"] == 200, totals
    assert set(totals["models"]) == {CHAT}
    # Each answer's usage is what the emulator reported, priced from the catalog data: the same for all 200.
    single = totals["neurons"] / 200
    assert single > 0
    time.sleep(0.5)  # nothing arrives late and nothing is counted twice
    assert day_totals(usage_of(economy, CONCURRENT, now=now), day)["requests"] == 200


def test_a_budget_refuses_at_its_cap_and_resets_at_midnight(economy):
    evening = at("2026-03-05T23:50:00")
    spent, served = 0.0, 0
    while True:
        response = httpx.post(f"{economy.url}/v1/chat/completions", headers=bearer(BUDGETED, **{"X-Test-Now": evening}),
                              json={"model": CHAT, "messages": [{"role": "user", "content": "count me"}]}, timeout=30)
        if response.status_code == 429:
            break
        assert response.status_code == 200, response.text
        # Served only while what was spent plus the most this call could cost fits the cap.
        assert spent + BOUND <= CAP + 1e-3, "a request was served whose bound did not fit"
        served += 1
        assert served < 50, "the budget never refused"
        # Wait until this request's cost is in the table before the next one reserves.
        body = usage_of(economy, BUDGETED, now=evening,
                        wait_for=lambda b: day_totals(b, "2026-03-05").get("requests") == served)
        spent = day_totals(body, "2026-03-05")["neurons"]
    # Refused once the next call's bound no longer fits; what was spent never passes the cap.
    assert spent + BOUND > CAP - 1e-3 and spent <= CAP and served >= 2
    error = response.json()["error"]
    assert error["code"] == "budget_exhausted" and "00:00 UTC" in error["message"]
    assert response.headers["retry-after"] == "600"  # 23:50 → midnight
    assert response.headers["x-should-retry"] == "false"

    # DeepLX clients get the refusal in DeepLX's envelope, with DeepL's quota status: a long line
    # (2 400 characters: at most ~7 200 m2m100 tokens, ~224 neurons) does not fit what is left.
    refused = httpx.post(f"{economy.url}/translate", headers=bearer(BUDGETED, **{"X-Test-Now": evening}),
                         json={"text": "Hallo " * 400, "source_lang": "DE", "target_lang": "EN"}, timeout=30)
    assert refused.status_code == 456 and refused.json()["code"] == 456 and "budget" in refused.json()["message"]

    # Another key is not affected.
    other = httpx.post(f"{economy.url}/v1/chat/completions", headers=bearer(OTHER, **{"X-Test-Now": evening}),
                       json={"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert other.status_code == 200

    # After midnight UTC the budget is whole again.
    morning = at("2026-03-06T00:00:05")
    again = httpx.post(f"{economy.url}/v1/chat/completions", headers=bearer(BUDGETED, **{"X-Test-Now": morning}),
                       json={"model": CHAT, "messages": [{"role": "user", "content": "new day"}]}, timeout=30)
    assert again.status_code == 200, again.text
    body = usage_of(economy, BUDGETED, days=2, now=morning, wait_for=lambda b: day_totals(b, "2026-03-06").get("requests") == 1)
    assert day_totals(body, "2026-03-06")["requests"] == 1
    assert day_totals(body, "2026-03-05")["requests"] == served
    assert body["keys"][0]["budget_neurons_per_day"] == CAP


def test_usage_shows_a_key_itself_and_admins_every_key(economy):
    day = "2026-03-08"
    now = at(f"{day}T08:00:00")
    for key in (OTHER, CONCURRENT):
        response = httpx.post(f"{economy.url}/v1/embeddings", headers=bearer(key, **{"X-Test-Now": now}),
                              json={"model": "@cf/baai/bge-m3", "input": ["one", "two"]}, timeout=30)
        assert response.status_code == 200
    own = usage_of(economy, OTHER, now=now, wait_for=lambda b: day_totals(b, day).get("requests") == 1)
    assert own["scope"] == "own" and len(own["keys"]) == 1
    assert own["key_id"] == ID[OTHER] and own["keys"][0]["key_id"] == own["key_id"]
    assert own["days"] == [day] and own["allocation_neurons_per_day"] == 10000

    everyone = usage_of(economy, ADMIN, now=now, wait_for=lambda b: sum(1 for k in b["keys"] if day in k["days"]) == 2)
    assert everyone["scope"] == "all"
    today = {k["key_id"]: k for k in everyone["keys"] if day in k["days"]}
    assert set(today) == {ID[OTHER], ID[CONCURRENT]}
    assert today[ID[OTHER]]["label"] == "API key 3"
    # The table holds hashes, never a key.
    assert OTHER not in json.dumps(everyone) and CONCURRENT not in json.dumps(everyone)
    assert everyone["total_neurons"][day] == pytest.approx(sum(k["days"][day]["neurons"] for k in today.values()), abs=0.01)


def test_usage_refuses_bad_input_and_unknown_keys(economy):
    assert httpx.get(f"{economy.url}/v1/usage").status_code == 401
    assert httpx.get(f"{economy.url}/v1/usage", headers=bearer("sk-nobody")).status_code == 401
    bad = httpx.get(f"{economy.url}/v1/usage", params={"days": "0"}, headers=bearer(OTHER))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "days"


def test_without_the_d1_binding_the_gateway_works_with_accounting_off():
    local = LocalGateway(api_keys="sk-nodb,sk-nodb-capped",
                         extra_env={"LOCAL_NO_D1": "1", "KEY_BUDGETS": "5f9164174c9123ec=1000"})
    try:
        health = httpx.get(f"{local.url}/health").json()
        assert health["accounting"].startswith("off")
        chat = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{local.url}/v1/chat/completions", headers=bearer("sk-nodb"), json=chat, timeout=30).status_code == 200
        # A cap with nowhere to hold it is refused, not ignored.
        capped = httpx.post(f"{local.url}/v1/chat/completions", headers=bearer("sk-nodb-capped"), json=chat, timeout=30)
        assert capped.status_code == 503 and capped.json()["error"]["code"] == "accounting_off"
        usage = httpx.get(f"{local.url}/v1/usage", headers=bearer("sk-nodb"))
        assert usage.status_code == 503 and usage.json()["error"]["code"] == "accounting_off"
    finally:
        local.stop()


# --- the playground chart -----------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def test_the_playground_draws_the_usage_chart(economy):
    from playwright.sync_api import expect, sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)", pytrace=False)
    # Spending today (the page asks without a test clock).
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    for key in (OTHER, CONCURRENT):
        response = httpx.post(f"{economy.url}/v1/chat/completions", headers=bearer(key),
                              json={"model": CHAT, "messages": [{"role": "user", "content": "chart me"}]}, timeout=30)
        assert response.status_code == 200
    usage_of(economy, ADMIN, wait_for=lambda b: sum(1 for k in b["keys"] if today in k["days"]) >= 2)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 960})
            problems = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
            page.goto(f"{economy.url}/")
            page.fill("#key", ADMIN)
            page.select_option("#usage-days", "7")
            page.click("#usage-send")
            expect(page.locator("#usage-svg")).to_be_visible(timeout=30_000)
            bars = page.locator(f'#usage-svg rect.usage-bar[data-day="{today}"]')
            expect(bars).to_have_count(2)
            assert {bars.nth(i).get_attribute("data-key") for i in range(2)} == {ID[OTHER], ID[CONCURRENT]}
            assert page.locator("#usage-limit").count() == 1
            expect(page.locator("#usage-summary")).to_contain_text("of 10,000 neurons")
            box = page.locator("#usage-svg").bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100
            page.screenshot(path=os.path.join(os.environ.get("SCREENSHOT_DIR", "/tmp"), "usage-chart.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()
