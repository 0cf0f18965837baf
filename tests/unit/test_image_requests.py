"""Image requests, keys and conditional serving, under CPython."""

from __future__ import annotations

import base64
import re

import pytest

from gateway import images
from gateway.catalog import BY_ID
from gateway.endpoints.files import not_modified
from gateway.errors import ApiError
from gateway.http import Headers
from gateway.platform import StoredObject

SDXL = BY_ID["@cf/stabilityai/stable-diffusion-xl-base-1.0"]
FLUX = BY_ID["@cf/black-forest-labs/flux-1-schnell"]


def test_keys_are_dated_random_and_match_the_served_pattern():
    keys = {images.new_key("png", now=0) for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert re.match(r"^images/1970/01/01/[0-9a-f]{32}\.png$", key)
        assert images.KEY_PATTERN.match(key)
    assert not images.KEY_PATTERN.match("images/1970/01/01/../x.png")


def test_chat_prompt_is_the_last_user_message():
    job = images.from_chat({"messages": [{"role": "user", "content": "old"}, {"role": "assistant", "content": "x"},
                                         {"role": "user", "content": [{"type": "text", "text": "new"}]}]}, SDXL)
    assert job.prompt == "new"
    assert job.inputs == {"prompt": "new", "num_steps": 20}


def test_flux_defaults_and_unsized():
    job, n, fmt = images.from_images_api({"prompt": "p", "size": "512x512"}, FLUX)
    assert job.inputs == {"prompt": "p", "steps": 4} and n == 1 and fmt == "url"


@pytest.mark.parametrize("url, data", [
    ("data:image/png;base64," + base64.b64encode(b"abc").decode(), b"abc"),
    ("data:,hello%20there", b"hello there"),
    ("https://example.com/a.png", None),
])
def test_data_urls(url, data):
    assert images.parse_data_url(url) == data


@pytest.mark.parametrize("url", ["data:image/png;base64,", "data:nonsense", "data:image/png;base64," + "A" * (14 * 1024 * 1024)])
def test_bad_data_urls(url):
    with pytest.raises(ApiError):
        images.parse_data_url(url)


@pytest.mark.parametrize("data, ext", [(b"\x89PNG\r\n\x1a\nrest", "png"), (b"\xff\xd8\xff\xe0", "jpg"), (b"RIFF0000WEBPVP8", "webp"), (b"GIF89a", None)])
def test_sniff(data, ext):
    assert images.sniff(data) == ext


STORED = StoredObject("k", 3, '"abc"', 1_700_000_000.5, "image/png")


@pytest.mark.parametrize("headers, expected", [
    ({"If-None-Match": '"abc"'}, True),
    ({"If-None-Match": 'W/"abc"'}, True),
    ({"If-None-Match": '"x", "abc"'}, True),
    ({"If-None-Match": "*"}, True),
    ({"If-None-Match": '"x"', "If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"}, False),
    ({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"}, True),
    ({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:19 GMT"}, False),
    ({"If-Modified-Since": "garbage"}, False),
    ({}, False),
])
def test_conditional_requests(headers, expected):
    assert not_modified(Headers(headers), STORED) is expected


def test_size_choices_start_with_the_default_and_a_fixed_size_model_offers_one():
    assert images.size_choices(FLUX) == ["1024x1024"]
    sdxl = images.size_choices(SDXL)
    assert sdxl[0] == images.default_size(SDXL) == "1024x1024" and len(sdxl) == len(set(sdxl)) > 3
    lucid, dreamshaper = BY_ID["@cf/leonardo/lucid-origin"], BY_ID["@cf/lykon/dreamshaper-8-lcm"]
    assert images.size_choices(lucid)[0] == "1120x1120" and images.size_choices(dreamshaper)[0] == "512x512"
    # Every offered size passes the gateway's own `size` check.
    for model in (SDXL, lucid, dreamshaper):
        for size in images.size_choices(model):
            inputs = images.from_images_api({"prompt": "x", "size": size}, model)[0].inputs
            assert f"{inputs['width']}x{inputs['height']}" == size
