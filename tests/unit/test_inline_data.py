"""Issue 28: what the core does with bytes the runtime keeps — a body's long data: URLs and token-id
arrays (placeholders in the JSON text, values after parsing), the bytes one request may hold, and
the bound of a generated image — without a runtime (plain fakes)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from gateway import images, request_caps
from gateway.request_caps import RequestCaps
from gateway.endpoints.images import output_bound
from gateway.errors import ApiError
from gateway.http import Headers, Request, inline_placeholder
from gateway.platform import BytesBlob, is_blob


class Kept:
    """A data: URL the runtime kept out of the body (runtime.inline.JsInlineData's core-facing part)."""

    def __init__(self, size: int, well_formed: bool = True):
        self.size, self.well_formed, self.content_type = size, well_formed, "image/png"

    async def byte_values(self):
        return [0] * self.size


class InlineBody:
    def __init__(self, text: str, found: list):
        self.text, self.found = text, found

    async def read_json_inline(self, max_bytes, max_json_values, admit=None):
        return self.text, self.found

    async def read_bytes(self, max_bytes):
        raise AssertionError("a body with kept values is not read again as bytes")


def _request(text: str, found: list) -> Request:
    return Request("POST", "https://gw.example/v1/chat/completions", Headers({"content-type": "application/json"}),
                   InlineBody(text, found))


def test_placeholders_become_the_kept_values_wherever_they_are():
    first, second, ids = Kept(10), Kept(20), object()
    text = ('{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"%s"}}]}],'
            '"image":"%s","input":"%s","note":"%s"}') % (inline_placeholder(0), inline_placeholder(1), inline_placeholder(2),
                                                        "\\u0000inline:7")
    body = asyncio.run(_request(text, [first, second, ids]).json(inline_data=True))
    assert body["messages"][0]["content"][0]["image_url"]["url"] is first
    assert body["image"] is second and body["input"] is ids
    # A placeholder naming nothing stays the client's own (odd) string.
    assert body["note"] == "\x00inline:7"


def test_without_inline_data_the_runtime_is_not_asked_to_keep_anything():
    class PlainBody(InlineBody):
        async def read_json_inline(self, max_bytes, max_json_values, admit=None):
            raise AssertionError("only routes that take images ask for kept values")

        async def read_bytes(self, max_bytes):
            return b'{"a":"data:x"}'

    request = Request("POST", "https://gw.example/v1/embeddings", Headers({}), PlainBody("", []))
    assert asyncio.run(request.json()) == {"a": "data:x"}


def test_is_blob_tells_kept_values_from_json_values():
    assert is_blob(Kept(1)) and is_blob(BytesBlob(b"x"))
    assert not any(is_blob(value) for value in ("data:image/png;base64,AA==", b"x", {"url": "x"}, ["x"], None, 3))


def test_kept_images_are_bounded_like_data_urls():
    images.check_blob(Kept(10 * 1024 * 1024))  # exactly 10 MB passes
    for blob, message in ((Kept(10 * 1024 * 1024 + 1), "larger than 10 MB"), (Kept(0), "empty"),
                          (Kept(5, well_formed=False), "not valid base64")):
        with pytest.raises(ApiError) as caught:
            images.check_blob(blob)
        assert caught.value.status == 400 and message in caught.value.message


def test_bytes_blob_speaks_for_the_runtime_in_unit_tests():
    blob = BytesBlob(b"\x89PNG\r\n\x1a\nrest", "image/png")
    assert blob.head(8) == b"\x89PNG\r\n\x1a\n" and blob.size == 12
    assert blob.data_url("image/png") == "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nrest").decode()
    assert asyncio.run(blob.byte_values())[:4] == [0x89, 0x50, 0x4E, 0x47]


def test_a_request_may_hold_48_megabytes():
    spending = RequestCaps()
    spending.hold(40 * 1024 * 1024, "images")
    spending.hold(8 * 1024 * 1024, "more")  # exactly at the limit
    with pytest.raises(ApiError) as caught:
        spending.hold(1, "one byte more")
    assert caught.value.status == 413 and caught.value.code == "request_too_large"
    assert "48.0 MB" in caught.value.message and "at most 48 MB" in caught.value.message
    assert request_caps.MAX_HELD_BYTES == 48 * 1024 * 1024


@pytest.mark.parametrize("inputs, bound", [
    ({}, 1024 * 1024 * 3 + 1024 * 1024),
    ({"width": 2048, "height": 2048}, 2048 * 2048 * 3 + 1024 * 1024),
    ({"width": 512, "height": 256}, 512 * 256 * 3 + 1024 * 1024),
    ({"width": 4096, "height": 4096}, 16 * 1024 * 1024),
    ({"width": "2048", "height": 2048}, 16 * 1024 * 1024),
])
def test_a_generated_image_is_bounded_by_its_pixels(inputs, bound):
    assert output_bound(inputs) == bound
