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


ACCOUNT = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("code, upstream, expected", [
    (5006, f"AiError: 5006: Error: required properties at '/' are 'prompt' (account {ACCOUNT})",
     "The model m refused the input (Workers AI error 5006): required properties at '/' are 'prompt' (account [redacted])"),
    (5006, "InferenceUpstreamError: 5006: Error: Type mismatch of '/messages/0/content', 'array' not in 'string'",
     "The model m refused the input (Workers AI error 5006): Type mismatch of '/messages/0/content', 'array' not in 'string'"),
    (3010, "3010: Invalid or incomplete input for the model: ask admin@corp.example or see https://dash.cloudflare.com/x?y=1",
     "The model m refused the input (Workers AI error 3010): Invalid or incomplete input for the model: ask [redacted] or see [redacted]"),
    (5006, "5006: Error: ", "The model m refused the input (Workers AI error 5006)."),
    (5006, "5006: from 10.2.3.4 request 123e4567-e89b-12d3-a456-426614174000 token deadbeefdeadbeef1",
     "The model m refused the input (Workers AI error 5006): from [redacted] request [redacted] token [redacted]"),
    (3036, f"3036: You have used up your daily free allocation for {ACCOUNT}",
     "The Workers AI daily free allocation of this account is used up (Workers AI error 3036); it resets at 00:00 UTC, or upgrade to Workers Paid."),
    (3040, f"3040: Capacity temporarily exceeded on account {ACCOUNT}",
     "Workers AI is out of capacity for m right now (Workers AI error 3040). Retry shortly or pick another model."),
    (3007, f"3007: Request timeout for {ACCOUNT}", "Workers AI timed out running m (Workers AI error 3007)."),
    (3006, f"3006: Request is too large for owner@example.org", "The input is too large for m (Workers AI error 3006)."),
    (3016, f"3016: Too many requests from {ACCOUNT}", "Workers AI is rate limiting this account for m (Workers AI error 3016); retry shortly."),
    (5007, f"5007: No such model m for account {ACCOUNT}", "Workers AI does not know the model 'm' (Workers AI error 5007)."),
    (3999, f"3999: something new went wrong at account {ACCOUNT}", "Workers AI failed to run m (Workers AI error 3999); try again."),
    (None, f"network connection lost to {ACCOUNT}", "Workers AI failed to run m; try again."),
])
def test_upstream_errors_are_told_in_our_words(code, upstream, expected):
    assert from_upstream(UpstreamError(upstream, code), "m", 0).message == expected


def test_an_upstream_explanation_is_cut_short():
    message = from_upstream(UpstreamError("5006: Error: " + "x " * 400, 5006), "m", 0).message
    assert message.endswith("…") and len(message) < 400


def test_daily_allocation_headers_and_quota():
    error = from_upstream(UpstreamError("3036: used up", 3036), "m", 86400 * 5 + 3600)
    assert (error.status, error.code, error.quota) == (429, "daily_allocation_exhausted", True)
    assert error.headers == {"Retry-After": "82800", "X-Should-Retry": "false"}
    capacity = from_upstream(UpstreamError("3040: busy", 3040), "m", 0)
    assert (capacity.headers, capacity.quota) == ({"Retry-After": "5"}, False)
    assert from_upstream(UpstreamError("5006: bad", 5006), "m", 0).headers == {}


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
