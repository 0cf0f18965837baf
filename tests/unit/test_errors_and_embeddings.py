import base64
import struct

import pytest

from gateway.catalog import BY_ID
from gateway.embeddings import check_options, encode_vector
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
    raw = base64.b64decode(encode_vector([1.0, -2.5], "base64"))
    assert struct.unpack("<2f", raw) == (1.0, -2.5)


def test_dimensions_must_match_the_model():
    model = BY_ID["@cf/baai/bge-small-en-v1.5"]
    assert check_options({"dimensions": 384}, model) == "float"
    with pytest.raises(ApiError):
        check_options({"dimensions": 100}, model)
    with pytest.raises(ApiError):
        check_options({"encoding_format": "int8"}, model)
