import base64
import struct

import pytest

from gateway.catalog import BY_ID
from gateway import embeddings
from gateway.embeddings import PlainVectors, check_options, embedding_items
from gateway.http import json_response
from gateway.errors import ApiError, UpstreamError, from_upstream, seconds_until_utc_midnight


@pytest.mark.parametrize(
    "code, status",
    [(3040, 429), (3036, 429), (5006, 400), (5007, 404), (3007, 504), (3043, 502), (None, 502), (3006, 413)],
)
def test_upstream_codes_map_to_statuses(code, status):
    assert from_upstream(UpstreamError("x", code), "m", 0).status == status


def test_5xx_messages_hide_upstream_detail():
    error = from_upstream(UpstreamError("3043: secret host 10.1.2.3", 3043), "m", 0)
    assert "10.1.2.3" not in error.message


def test_retry_after_for_daily_allocation_is_time_to_midnight():
    assert seconds_until_utc_midnight(86400 * 5 + 3600) == 82800


def test_base64_embedding_is_little_endian_float32():
    raw = base64.b64decode(embedding_items(PlainVectors([[1.0, -2.5]]), "base64", None)[0])
    assert struct.unpack("<2f", raw) == (1.0, -2.5)


def test_embedding_items_cut_and_encode():
    vectors = PlainVectors([[3.0, 4.0, 12.0], [0.0, 0.0, 1.0]])
    assert embedding_items(vectors, "float", None) == [[3.0, 4.0, 12.0], [0.0, 0.0, 1.0]]
    # A Matryoshka cut is scaled back to unit length; an all-zero head stays as it is.
    assert embedding_items(vectors, "float", 2) == [[0.6, 0.8], [0.0, 0.0]]
    cut = base64.b64decode(embedding_items(vectors, "base64", 2)[0])
    assert struct.unpack("<2f", cut) == pytest.approx((0.6, 0.8))


@pytest.mark.parametrize("data", [[[]], [["0.5"]], [[[0.5]]], ["[0.5]"], [None], [[0.5, 0.25], [0.5]]])
def test_vectors_that_are_not_vectors_are_an_upstream_error(data):
    with pytest.raises(UpstreamError):
        embeddings.vectors_from({"data": data})


def test_embeddings_response_is_what_json_response_writes():
    from gateway.http import JsonResponse

    model = BY_ID["@cf/baai/bge-m3"]
    vectors = embeddings.vectors_from({"shape": [2, 3], "data": [[0.5, -1.25, 3.0e-5], [1.0, 2.5, -0.125]]})
    body = embeddings.response(embedding_items(vectors, "float", None), ["hello", "world é"], model)
    assert body["data"][1] == {"object": "embedding", "index": 1, "embedding": [1.0, 2.5, -0.125]}
    assert body["usage"]["estimated"] is True and body["model"] == model.id
    assert JsonResponse(body).body == json_response(body).body


def test_dimensions_must_match_the_model():
    model = BY_ID["@cf/baai/bge-small-en-v1.5"]
    assert check_options({"dimensions": 384}, model) == "float"
    with pytest.raises(ApiError):
        check_options({"dimensions": 100}, model)
    with pytest.raises(ApiError):
        check_options({"encoding_format": "int8"}, model)
