"""GET/HEAD /file/<key>: stored images, public and cached for a year (their keys never change content)."""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime

from ..errors import ApiError, not_found
from ..http import PassthroughResponse, Response
from ..images import KEY_PATTERN
from ..platform import Context, StorageError, StoredObject

CACHE_FOREVER = "public, max-age=31536000, immutable"


def file_url(ctx: Context, key: str) -> str:
    base = ctx.settings.public_base_url or ctx.request.origin
    return f"{base}/file/{key}"


def _headers(stored: StoredObject) -> dict[str, str]:
    return {
        "Content-Type": stored.content_type,
        "ETag": stored.etag,
        "Last-Modified": formatdate(stored.uploaded, usegmt=True),
        "Cache-Control": CACHE_FOREVER,
        "X-Content-Type-Options": "nosniff",
    }


def _etag_matches(header: str, etag: str) -> bool:
    # If-None-Match compares weakly: W/"x" matches "x".
    def bare(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return any(tag.strip() == "*" or bare(tag) == bare(etag) for tag in header.split(","))


def not_modified(request_headers, stored: StoredObject) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = request_headers.get("if-none-match")
    if if_none_match:
        return _etag_matches(if_none_match, stored.etag)
    if_modified_since = request_headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
        return int(stored.uploaded) <= since
    return False


async def serve_file(ctx: Context, key: str):
    # Only keys the gateway itself makes: nothing else in the bucket, no `..`, no encoded slashes.
    if not KEY_PATTERN.match(key):
        raise not_found("No such file.", code="file_not_found")
    storage = ctx.platform.storage
    if storage is None:
        raise not_found("No such file.", code="file_not_found")
    request = ctx.request
    conditional = "if-none-match" in request.headers or "if-modified-since" in request.headers
    try:
        # A body is fetched only when it will be sent.
        stored = await (storage.head(key) if request.method == "HEAD" or conditional else storage.get(key))
        if stored is not None and conditional and not_modified(request.headers, stored):
            return Response(304, b"", _headers(stored))
        if stored is not None and request.method == "GET" and stored.body is None:
            stored = await storage.get(key)
    except StorageError as error:
        print(f"R2 read failed for {key}: {error}")
        raise ApiError(502, "The file store failed; try again.", type="server_error", code="storage_failed") from None
    if stored is None:
        raise not_found("No such file.", code="file_not_found")
    headers = {**_headers(stored), "Content-Length": str(stored.size)}
    if request.method == "HEAD":
        return Response(200, b"", headers)
    return PassthroughResponse(stored.body.handle, headers=headers)
