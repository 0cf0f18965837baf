"""DeepL glossaries through the real worker in workerd, driven by DeepL's own clients: Python `deepl`
(`Translator`'s v2 calls, `DeepLClient`'s v3 ones) and Node `deepl-node`
(clients/deepl_node_glossary.mjs). Every answer they get passes through a recording proxy and is held
against DeepL's OpenAPI description (tests/data/specs/deepl/): its status must be one the operation
lists, and its body what the description gives for that status and content type. Also: one key
never sees another's glossaries, the caps, and the usage database down (503)."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import deepl
import httpx
import pytest
import schemathesis
from deepl.api_data import MultilingualGlossaryDictionaryEntries
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from werkzeug.wrappers import Response

from gateway import glossaries, limits
from support import api_specs
from support.local_gateway import LocalGateway

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = Path(__file__).with_name("clients") / "deepl_node_glossary.mjs"
KEY, OTHER, CAPPED, FUZZ = "sk-glossary-one", "sk-glossary-two", "sk-glossary-capped", "sk-glossary-fuzz"
NONEXISTENT = "96ab91fd-e715-41a1-adeb-5d701f84a483"


@pytest.fixture(scope="module")
def faults():
    """The file the local D1 fault wrapper reads: "down" fails every statement, absent lets them through."""
    flag = Path(tempfile.mkdtemp(prefix="d1-faults-")) / "mode"
    yield flag
    flag.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def store(faults):
    local = LocalGateway(api_keys=f"{KEY},{OTHER},{CAPPED},{FUZZ}", extra_env={"LOCAL_D1_FAULTS": str(faults)})
    yield local
    local.stop()


# --- the recording proxy and the description ----------------------------------------------------------


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes


@pytest.fixture
def proxy(store, httpserver):
    """A server that hands every request on to the gateway as it came and records the answers."""
    log: list[Exchange] = []

    def forward(request):
        query = request.query_string.decode()
        headers = {name: value for name, value in request.headers.items()
                   if name.lower() in ("authorization", "content-type", "accept", "user-agent")}
        answer = httpx.request(request.method, f"{store.url}{request.path}" + (f"?{query}" if query else ""),
                               headers=headers, content=request.get_data(), timeout=30)
        content_type = answer.headers.get("content-type", "")
        log.append(Exchange(request.method, request.path, answer.status_code, content_type, answer.content))
        return Response(answer.content, status=answer.status_code,
                        headers={"Content-Type": content_type} if content_type else {})

    httpserver.expect_request(re.compile(r"^/v[23]/")).respond_with_handler(forward)
    return httpserver.url_for("/").rstrip("/"), log


@pytest.fixture(scope="module")
def spec():
    return api_specs.deepl()


def _template(spec, path: str) -> str:
    for candidate in spec.document["paths"]:
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", candidate), path):
            return candidate
    raise AssertionError(f"{path} is no path of DeepL's description")


def conforms(spec, exchange: Exchange) -> None:
    """The answer is one DeepL's description lists for the operation, shaped as it says."""
    template = _template(spec, exchange.path)
    method = exchange.method.lower()
    assert str(exchange.status) in spec.statuses(template, method), (exchange, sorted(spec.statuses(template, method)))
    response = spec.operation(template, method)["responses"][str(exchange.status)]
    if "$ref" in response:
        response = spec._resolve(response["$ref"])
    media = exchange.content_type.split(";")[0].strip()
    if exchange.status == 204:
        assert exchange.body == b"", exchange
        return
    if "content" not in response:
        # The description gives this status no body (its 415 and 503): the answer is DeepL's envelope.
        assert media == "application/json" and "message" in json.loads(exchange.body), exchange
        return
    assert media in response["content"], (exchange, sorted(response["content"]))
    if "schema" in response["content"][media]:
        problems = spec.check_response(template, method, exchange.status, media, json.loads(exchange.body))
        assert problems == [], (exchange, problems)
    else:
        exchange.body.decode("utf-8")  # the TSV entries


def all_conform(spec, log: list[Exchange]) -> None:
    assert log
    for exchange in log:
        conforms(spec, exchange)


# --- the Python library ---------------------------------------------------------------------------------


def test_python_v2_round_trip(proxy, spec):
    url, log = proxy
    translator = deepl.Translator(KEY, server_url=url)
    entries = {"Hello": "Hallo", "Good morning": "Guten Morgen", "A%=&": "B&=%", "\u0394\u3041": "\u6df1",
               "\U0001faa8": "\U0001fab5"}
    created = translator.create_glossary("python dict", "EN", "DE", entries)
    assert (created.name, created.ready, created.source_lang, created.target_lang, created.entry_count) == (
        "python dict", True, "EN", "DE", 5)
    assert abs((datetime.now(timezone.utc) - created.creation_time).total_seconds()) < 60
    csv = translator.create_glossary_from_csv(
        "python csv", "DE", "EN-GB", csv_data='Hallo,Hello\n"Guten Tag, Welt","Good day, ""world"""\n\nApfel,apple,de,en\n')
    assert (csv.source_lang, csv.target_lang, csv.entry_count) == ("DE", "EN", 3)
    listed = {g.glossary_id: g for g in translator.list_glossaries()}
    assert {created.glossary_id, csv.glossary_id} <= set(listed)
    got = translator.get_glossary(created.glossary_id)
    assert (got.glossary_id, got.name, got.creation_time, got.entry_count) == (
        created.glossary_id, created.name, created.creation_time, 5)
    assert translator.get_glossary_entries(created) == entries
    assert translator.get_glossary_entries(csv.glossary_id) == {"Hallo": "Hello", "Guten Tag, Welt": 'Good day, "world"',
                                                                 "Apfel": "apple"}
    pairs = translator.get_glossary_languages()
    assert len(pairs) == 33 * 32 and any((p.source_lang, p.target_lang) == ("en", "de") for p in pairs)
    # The failures as the library's typed exceptions.
    with pytest.raises(deepl.GlossaryNotFoundException):
        translator.get_glossary(NONEXISTENT)
    with pytest.raises(deepl.GlossaryNotFoundException):  # not a UUID: no glossary has it
        translator.get_glossary("invalid_glossary_id")
    with pytest.raises(deepl.DeepLException, match="Invalid glossary entries provided, detail: Key with the index 1"):
        translator.create_glossary_from_csv("dup", "EN", "DE", csv_data="Hello,Hallo\nHello,Servus\n")
    with pytest.raises(deepl.DeepLException, match="Value for 'target_lang' not supported"):
        translator.create_glossary("bad", "EN", "XX", {"a": "b"})
    translator.delete_glossary(created)
    translator.delete_glossary(csv.glossary_id)
    with pytest.raises(deepl.GlossaryNotFoundException):
        translator.get_glossary_entries(created.glossary_id)
    with pytest.raises(deepl.GlossaryNotFoundException):
        translator.delete_glossary(created.glossary_id)
    all_conform(spec, log)
    assert {(e.method, _template(spec, e.path), e.status) for e in log} >= {
        ("POST", "/v2/glossaries", 201), ("GET", "/v2/glossaries", 200), ("GET", "/v2/glossaries/{glossary_id}", 200),
        ("GET", "/v2/glossaries/{glossary_id}/entries", 200), ("GET", "/v2/glossary-language-pairs", 200),
        ("DELETE", "/v2/glossaries/{glossary_id}", 204), ("GET", "/v2/glossaries/{glossary_id}", 404),
        ("POST", "/v2/glossaries", 400)}


def test_python_v3_round_trip(proxy, spec):
    url, log = proxy
    client = deepl.DeepLClient(KEY, server_url=url)
    made = client.create_multilingual_glossary("python multi", [
        MultilingualGlossaryDictionaryEntries("EN", "DE", {"Hello": "Hallo"}),
        MultilingualGlossaryDictionaryEntries("DE", "EN", {"Hallo": "Hello", "Apfel": "apple"}),
    ])
    assert [(d.source_lang, d.target_lang, d.entry_count) for d in made.dictionaries] == [("EN", "DE", 1), ("DE", "EN", 2)]
    got = client.get_multilingual_glossary(made.glossary_id)
    assert (got.name, got.creation_time, len(got.dictionaries)) == ("python multi", made.creation_time, 2)
    assert made.glossary_id in {g.glossary_id for g in client.list_multilingual_glossaries()}
    # A glossary of two dictionaries is not one the v2 endpoints serve.
    assert made.glossary_id not in {g.glossary_id for g in client.list_glossaries()}
    with pytest.raises(deepl.DeepLException, match="not monolingual"):
        client.get_glossary(made.glossary_id)
    (dictionary,) = client.get_multilingual_glossary_entries(made, "DE", "EN").dictionaries
    assert deepl.util.convert_tsv_to_dict(dictionary.entries) == {"Hallo": "Hello", "Apfel": "apple"}
    updated = client.update_multilingual_glossary_dictionary(
        made, MultilingualGlossaryDictionaryEntries("EN", "DE", {"Hello": "Guten Tag", "Apple": "Apfel"}))
    assert {(d.source_lang, d.target_lang): d.entry_count for d in updated.dictionaries} == {("EN", "DE"): 2, ("DE", "EN"): 2}
    assert client.update_multilingual_glossary_name(made, "python multi renamed").name == "python multi renamed"
    replaced = client.replace_multilingual_glossary_dictionary(
        made, MultilingualGlossaryDictionaryEntries("EN", "DE", {"Pear": "Birne"}))
    assert (replaced.source_lang, replaced.target_lang, replaced.entry_count) == ("EN", "DE", 1)
    client.delete_multilingual_glossary_dictionary(made, source_lang="DE", target_lang="EN")
    with pytest.raises(deepl.GlossaryNotFoundException):
        client.get_multilingual_glossary_entries(made, "DE", "EN")
    # One dictionary left: the v2 endpoints serve it again.
    assert client.get_glossary_entries(made.glossary_id) == {"Pear": "Birne"}
    from_csv = client.create_multilingual_glossary_from_csv("python multi csv", "FR", "EN", "pomme,apple\npoire,pear\n")
    assert [(d.source_lang, d.target_lang, d.entry_count) for d in from_csv.dictionaries] == [("FR", "EN", 2)]
    client.delete_multilingual_glossary(made)
    client.delete_multilingual_glossary(from_csv.glossary_id)
    with pytest.raises(deepl.GlossaryNotFoundException):
        client.get_multilingual_glossary(made.glossary_id)
    with pytest.raises(deepl.GlossaryNotFoundException):
        client.delete_multilingual_glossary(NONEXISTENT)
    with pytest.raises(deepl.GlossaryNotFoundException):
        client.get_multilingual_glossary("invalid_glossary_id")
    with pytest.raises(deepl.DeepLException, match="Unsupported glossary source and target language pair"):
        client.create_multilingual_glossary("same", [MultilingualGlossaryDictionaryEntries("EN", "EN", {"a": "b"})])
    all_conform(spec, log)
    assert {(e.method, _template(spec, e.path), e.status) for e in log} >= {
        ("POST", "/v3/glossaries", 201), ("GET", "/v3/glossaries", 200), ("GET", "/v3/glossaries/{glossary_id}", 200),
        ("PATCH", "/v3/glossaries/{glossary_id}", 200), ("GET", "/v3/glossaries/{glossary_id}/entries", 200),
        ("GET", "/v3/glossaries/{glossary_id}/entries", 404), ("PUT", "/v3/glossaries/{glossary_id}/dictionaries", 200),
        ("DELETE", "/v3/glossaries/{glossary_id}/dictionaries", 204), ("DELETE", "/v3/glossaries/{glossary_id}", 204),
        ("GET", "/v3/glossaries/{glossary_id}", 404), ("POST", "/v3/glossaries", 400)}


# --- deepl-node -------------------------------------------------------------------------------------------


def test_deepl_node_round_trip(proxy, spec):
    url, log = proxy
    run = subprocess.run(["node", str(NODE_CLIENT), url, KEY, OTHER], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["created"]["ready"] is True and out["created"]["entryCount"] == 3
    assert (out["created"]["sourceLang"], out["created"]["targetLang"]) == ("en", "de")
    assert out["got"] == out["created"]
    assert (out["csv"]["sourceLang"], out["csv"]["targetLang"], out["csv"]["entryCount"]) == ("de", "en", 3)
    assert {out["created"]["glossaryId"], out["csv"]["glossaryId"]} <= set(out["listed"])
    assert out["entries"] == {"Hello": "Hallo", "Good morning": "Guten Morgen", "A%=&": "B&=%"}
    assert out["csvEntries"] == {"Hallo": "Hello", "Guten Tag, Welt": "Good day, world", "Apfel": "apple"}
    assert out["pairs"] == 33 * 32
    assert out["otherGet"]["error"] == out["otherDelete"]["error"] == "GlossaryNotFoundError"
    assert out["created"]["glossaryId"] not in out["otherList"]
    assert out["notFound"]["error"] == "GlossaryNotFoundError"
    assert out["duplicate"]["error"] == "DeepLError" and "Invalid glossary entries provided" in out["duplicate"]["message"]
    assert out["badLanguage"]["error"] == "DeepLError" and "target_lang" in out["badLanguage"]["message"]
    assert out["afterDelete"]["error"] == "GlossaryNotFoundError"
    assert out["multi"]["dictionaries"] == [{"source": "en", "target": "de", "entryCount": 1},
                                            {"source": "de", "target": "en", "entryCount": 2}]
    assert out["multiGot"] == out["multi"] and out["multi"]["glossaryId"] in out["multiListed"]
    assert out["multiEntries"] == {"source": "de", "target": "en", "entries": {"Hallo": "Hello", "Apfel": "apple"}}
    assert out["updated"]["dictionaries"][0] == {"source": "en", "target": "de", "entryCount": 2}
    assert out["renamed"]["name"] == "node multi renamed"
    assert out["replaced"] == {"source": "en", "target": "de", "entryCount": 1}
    assert out["replacedEntries"] == {"Pear": "Birne"}
    assert out["afterDictionaryDelete"]["dictionaries"] == [{"source": "en", "target": "de", "entryCount": 1}]
    assert out["missingDictionary"]["error"] == "GlossaryNotFoundError"
    assert out["multiCsv"]["dictionaries"] == [{"source": "fr", "target": "en", "entryCount": 2}]
    assert out["otherMulti"]["error"] == "GlossaryNotFoundError"
    assert out["multiAfterDelete"]["error"] == "GlossaryNotFoundError"
    assert out["wrongKey"]["error"] == "AuthorizationError"
    all_conform(spec, [e for e in log if e.status != 403])  # the 403 (a wrong key) comes from the shared auth
    assert {(e.method, _template(spec, e.path)) for e in log} >= {
        ("POST", "/v2/glossaries"), ("GET", "/v2/glossaries"), ("GET", "/v2/glossaries/{glossary_id}"),
        ("GET", "/v2/glossaries/{glossary_id}/entries"), ("DELETE", "/v2/glossaries/{glossary_id}"),
        ("GET", "/v2/glossary-language-pairs"), ("POST", "/v3/glossaries"), ("GET", "/v3/glossaries"),
        ("GET", "/v3/glossaries/{glossary_id}"), ("PATCH", "/v3/glossaries/{glossary_id}"),
        ("GET", "/v3/glossaries/{glossary_id}/entries"), ("PUT", "/v3/glossaries/{glossary_id}/dictionaries"),
        ("DELETE", "/v3/glossaries/{glossary_id}/dictionaries"), ("DELETE", "/v3/glossaries/{glossary_id}")}


# --- keys, caps, the database ------------------------------------------------------------------------------


def headers(key: str, **more) -> dict:
    return {"Authorization": f"DeepL-Auth-Key {key}", **more}


def test_one_key_cannot_see_change_or_delete_anothers_glossary(store, spec):
    mine = deepl.DeepLClient(KEY, server_url=store.url)
    theirs = deepl.DeepLClient(OTHER, server_url=store.url)
    made = mine.create_glossary("mine", "EN", "DE", {"secret": "geheim"})
    try:
        assert made.glossary_id not in {g.glossary_id for g in theirs.list_glossaries()}
        assert made.glossary_id not in {g.glossary_id for g in theirs.list_multilingual_glossaries()}
        for call in (lambda: theirs.get_glossary(made.glossary_id), lambda: theirs.get_glossary_entries(made.glossary_id),
                     lambda: theirs.delete_glossary(made.glossary_id),
                     lambda: theirs.get_multilingual_glossary(made.glossary_id),
                     lambda: theirs.update_multilingual_glossary_name(made.glossary_id, "taken"),
                     lambda: theirs.replace_multilingual_glossary_dictionary(
                         made.glossary_id, MultilingualGlossaryDictionaryEntries("DE", "EN", {"a": "b"})),
                     lambda: theirs.delete_multilingual_glossary(made.glossary_id)):
            with pytest.raises(deepl.GlossaryNotFoundException):
                call()
        assert mine.get_glossary_entries(made.glossary_id) == {"secret": "geheim"}
        assert mine.get_glossary(made.glossary_id).name == "mine"
    finally:
        mine.delete_glossary(made)


def test_a_wrong_or_missing_secret_is_deepls_403(store):
    with pytest.raises(deepl.AuthorizationException):
        deepl.Translator("not-a-key", server_url=store.url).list_glossaries()
    response = httpx.post(f"{store.url}/v3/glossaries", json={"name": "x", "dictionaries": []})
    assert response.status_code == 403 and set(response.json()) == {"message"}


def test_the_caps_are_clear_deepl_errors(store, spec):
    too_many = {str(i): "x" for i in range(glossaries.MAX_ENTRIES + 1)}  # short terms: the body stays under 64 KB
    with pytest.raises(deepl.DeepLException, match="Glossary too large, detail: A glossary holds at most 5000 entries"):
        deepl.Translator(KEY, server_url=store.url).create_glossary("too many", "EN", "DE", too_many)
    # 1 MB of entries: over the cap, in a body the route takes (else its body limit answers first, 413).
    wide = "\n".join(f"{i:05d}{'x' * 1000}\ty" for i in range(1000))
    response = httpx.post(f"{store.url}/v2/glossaries", headers=headers(KEY), timeout=60,
                          json={"name": "wide", "source_lang": "en", "target_lang": "de", "entries": wide})
    if limits.body_limit("/v2/glossaries") > 2 * len(wide):
        assert response.status_code == 400 and response.json()["message"] == "Glossary too large"
        assert "at most 1000000 bytes" in response.json()["detail"]
    else:
        assert response.status_code == 413 and set(response.json()) == {"message"}
    conforms(spec, Exchange("POST", "/v2/glossaries", response.status_code, response.headers["content-type"],
                            response.content))
    # The per-key cap: a key keeps 100 glossaries; the 101st is refused; another key is not held by it.
    ids = []
    for n in range(glossaries.MAX_GLOSSARIES):
        made = httpx.post(f"{store.url}/v2/glossaries", headers=headers(CAPPED), timeout=30,
                          json={"name": f"g{n}", "source_lang": "en", "target_lang": "de", "entries": "a\tb"})
        assert made.status_code == 201, made.text
        ids.append(made.json()["glossary_id"])
    refused = httpx.post(f"{store.url}/v3/glossaries", headers=headers(CAPPED), timeout=30, json={
        "name": "one more", "dictionaries": [{"source_lang": "en", "target_lang": "de", "entries": "a\tb",
                                              "entries_format": "tsv"}]})
    assert refused.status_code == 400 and refused.json()["message"] == "Too many glossaries"
    conforms(spec, Exchange("POST", "/v3/glossaries", 400, refused.headers["content-type"], refused.content))
    assert len(httpx.get(f"{store.url}/v2/glossaries", headers=headers(CAPPED)).json()["glossaries"]) == 100
    assert httpx.delete(f"{store.url}/v2/glossaries/{ids[0]}", headers=headers(CAPPED)).status_code == 204
    again = httpx.post(f"{store.url}/v2/glossaries", headers=headers(CAPPED), timeout=30,
                       json={"name": "again", "source_lang": "en", "target_lang": "de", "entries": "a\tb"})
    assert again.status_code == 201


def test_with_the_database_down_every_glossary_call_is_503_and_nothing_changes(store, faults, spec, monkeypatch):
    monkeypatch.setattr(deepl.http_client, "max_network_retries", 0)  # it retries a 503: one try is enough here
    client = deepl.DeepLClient(KEY, server_url=store.url)
    made = client.create_glossary("kept", "EN", "DE", {"Hello": "Hallo"})
    faults.write_text("down")
    try:
        calls = [("GET", "/v2/glossaries", None), ("POST", "/v2/glossaries", {
                     "name": "x", "source_lang": "en", "target_lang": "de", "entries": "a\tb"}),
                 ("GET", f"/v2/glossaries/{made.glossary_id}", None), ("GET", f"/v2/glossaries/{made.glossary_id}/entries", None),
                 ("DELETE", f"/v2/glossaries/{made.glossary_id}", None), ("GET", "/v3/glossaries", None),
                 ("PATCH", f"/v3/glossaries/{made.glossary_id}", {"name": "y"}),
                 ("DELETE", f"/v3/glossaries/{made.glossary_id}", None)]
        for method, path, body in calls:
            response = httpx.request(method, f"{store.url}{path}", headers=headers(KEY), json=body, timeout=30)
            assert response.status_code == 503, (method, path, response.text)
            assert response.headers.get("retry-after") == "10"
            conforms(spec, Exchange(method, path, 503, response.headers["content-type"], response.content))
        with pytest.raises(deepl.DeepLException, match="Service unavailable") as raised:
            client.list_glossaries()
        assert raised.value.http_status_code == 503
        # The language pairs need no database.
        assert httpx.get(f"{store.url}/v2/glossary-language-pairs", headers=headers(KEY)).status_code == 200
    finally:
        faults.unlink()
    assert client.get_glossary(made.glossary_id).name == "kept"  # nothing was deleted or renamed
    client.delete_glossary(made)


# --- requests generated from DeepL's description ------------------------------------------------------------

GLOSSARY_OPERATIONS = [
    "createGlossary", "listGlossaries", "getGlossary", "deleteGlossary", "getGlossaryEntries", "listGlossaryLanguages",
    "createMultilingualGlossary", "listMultilingualGlossaries", "getMultilingualGlossary", "patchMultilingualGlossary",
    "deleteMultilingualGlossary", "getMultilingualGlossaryEntries", "replaceDictionary", "deleteDictionary",
]
GENERATED = schemathesis.openapi.from_dict(api_specs.deepl().document).include(operation_id=GLOSSARY_OPERATIONS)
GENERATED.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@GENERATED.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_generated_requests_get_answers_the_description_lists(case, store, spec):
    """Valid and invalid requests (schemathesis) for every glossary operation, under a key of their own:
    no 5xx, a status the operation lists, the body it describes."""
    if case.method.upper() != case.operation.method.upper():
        return  # another method: no operation of the description
    if any(not str(value) or "/" in str(value) for value in (case.path_parameters or {}).values()):
        return  # an empty id or one with a slash names another path (the router's matter)
    response = case.call(base_url=store.url, headers=headers(FUZZ), timeout=60)
    assert response.status_code < 500, (case.operation.label, response.status_code, response.text[:300])
    content_type = response.headers.get("content-type") or [""]
    conforms(spec, Exchange(case.method.upper(), case.formatted_path, response.status_code,
                            content_type if isinstance(content_type, str) else content_type[0], response.content))
