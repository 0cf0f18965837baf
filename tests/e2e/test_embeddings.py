"""Embeddings end to end with the openai client."""

from __future__ import annotations

import base64
import math
import struct

import httpx
import openai
import pytest


def test_single_input(client):
    result = client.embeddings.create(model="@cf/baai/bge-base-en-v1.5", input="hello world")
    assert result.model == "@cf/baai/bge-base-en-v1.5"
    assert len(result.data) == 1 and result.data[0].index == 0
    assert len(result.data[0].embedding) == 768
    assert result.usage.prompt_tokens > 0


def test_batch_keeps_order_and_is_deterministic(client):
    first = client.embeddings.create(model="@cf/baai/bge-small-en-v1.5", input=["one", "two", "three"])
    again = client.embeddings.create(model="@cf/baai/bge-small-en-v1.5", input=["three"])
    assert [d.index for d in first.data] == [0, 1, 2]
    assert all(len(d.embedding) == 384 for d in first.data)
    assert first.data[2].embedding == again.data[0].embedding
    assert first.data[0].embedding != first.data[1].embedding


def test_base64_encoding_matches_float(client, http, auth_headers):
    texts = ["same text", "another text"]  # each vector packed on its own: none may borrow another's bytes
    floats = http.post("/v1/embeddings", headers=auth_headers, json={"model": "@cf/baai/bge-m3", "input": texts}).json()
    encoded = http.post(
        "/v1/embeddings", headers=auth_headers, json={"model": "@cf/baai/bge-m3", "input": texts, "encoding_format": "base64"}
    ).json()
    assert len(encoded["data"]) == 2 and floats["data"][0]["embedding"] != floats["data"][1]["embedding"]
    for packed, plain in zip(encoded["data"], floats["data"]):
        raw = base64.b64decode(packed["embedding"])
        decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
        assert decoded == pytest.approx(plain["embedding"], rel=1e-6)
    # The openai SDK asks for base64 by default and decodes it itself.
    sdk = client.embeddings.create(model="@cf/baai/bge-m3", input="same text")
    assert sdk.data[0].embedding == pytest.approx(floats["data"][0]["embedding"], rel=1e-6)


def test_openai_alias_maps_to_bge(client):
    result = client.embeddings.create(model="text-embedding-3-small", input="alias")
    assert result.model == "@cf/baai/bge-base-en-v1.5"


def test_dimensions_are_refused_where_the_model_cannot(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="@cf/baai/bge-base-en-v1.5", input="x", dimensions=256)
    assert caught.value.body["param"] == "dimensions"
    ok = client.embeddings.create(model="@cf/baai/bge-base-en-v1.5", input="x", dimensions=768)
    assert len(ok.data[0].embedding) == 768


@pytest.mark.parametrize("body", [{"input": []}, {"input": 5}, {"input": [[1, -2, 3]]}, {"input": [[1, 10**9]]},
                                  {"input": [[1, 2], "mixed"]}, {"input": ["ok", ""]}, {}])
def test_bad_inputs_are_400(http, auth_headers, body):
    response = http.post("/v1/embeddings", headers=auth_headers, json={"model": "@cf/baai/bge-m3", **body})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"


def test_chat_model_on_embeddings_is_refused(http, auth_headers):
    response = http.post("/v1/embeddings", headers=auth_headers, json={"model": "@cf/meta/llama-3.1-8b-instruct-fast", "input": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_task_mismatch"


def test_dimensions_cut_matches_in_float_and_base64(client, http, auth_headers):
    body = {"model": "@cf/google/embeddinggemma-300m", "input": "cut me"}
    full = http.post("/v1/embeddings", headers=auth_headers, json=body).json()["data"][0]["embedding"]
    cut = http.post("/v1/embeddings", headers=auth_headers, json={**body, "dimensions": 256}).json()["data"][0]["embedding"]
    norm = math.sqrt(sum(v * v for v in full[:256]))
    assert cut == pytest.approx([v / norm for v in full[:256]], rel=1e-9)
    packed = http.post("/v1/embeddings", headers=auth_headers, json={**body, "dimensions": 256, "encoding_format": "base64"}).json()
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert struct.unpack("<256f", raw) == pytest.approx(cut, rel=1e-6)


def test_float_answer_holds_the_models_numbers_as_sent(scripted_gateway, httpserver):
    # The vectors stay in the runtime and are serialised there: the JSON numbers arrive unchanged.
    data = [[0.1, -2.5e-8, 3, 1e21], [0.30000000000000004, 0, -1, 123.456]]
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"shape": [2, 4], "data": data})
    response = httpx.post(f"{scripted_gateway.url}/v1/embeddings", headers={"Authorization": f"Bearer {scripted_gateway.api_key}"},
                          json={"model": "@cf/baai/bge-m3", "input": ["a", "b"]})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert [item["embedding"] for item in response.json()["data"]] == data
    assert response.text.startswith('{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-2.5e-8,3,1e+21]}')


@pytest.mark.parametrize("data", [
    [[0.5, 0.25], []],            # an empty vector
    [[0.5, 0.25], [0.125]],       # vectors of different lengths
    [[0.5, "0.25"], [0.1, 0.2]],  # a value that is not a number
    [[[0.5], [0.25]], [[0.1], [0.2]]],  # nested one level too deep
    [0.5, 0.25],                  # numbers, not vectors
])
def test_malformed_vectors_from_the_model_are_a_502(scripted_gateway, httpserver, data):
    httpserver.expect_oneshot_request("/ai/run").respond_with_json({"shape": [2, 2], "data": data})
    response = httpx.post(f"{scripted_gateway.url}/v1/embeddings", headers={"Authorization": f"Bearer {scripted_gateway.api_key}"},
                          json={"model": "@cf/baai/bge-m3", "input": ["a", "b"], "encoding_format": "base64"})
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_error"
