"""What one request may bring in: body sizes per route, how much structure a JSON body may hold,
and which strings may reach a response header. Checked at the edge, before any work is done.

The Python heap of an isolate grows to its peak and never shrinks (128 MB per isolate, shared by
concurrent requests), so every bound here is about what a request could make Python allocate.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ApiError, bad_request

MiB = 1024 * 1024

# Request bodies, per route: sized to what the route needs, refused from Content-Length before a
# byte is read, and while streaming (at the limit, not after) when there is no Content-Length.
DEFAULT_BODY_BYTES = 64 * 1024
BODY_LIMITS: dict[str, int] = {
    # Room for an input image (10 MB) as a base64 data: URL, and no more.
    "/v1/chat/completions": 16 * MiB,
    "/v1/images/generations": 16 * MiB,
    # 2 048 inputs of text: OpenAI's own per-request token limit is ~300 000 tokens.
    "/v1/embeddings": 2 * MiB,
    # 25 MB of audio plus the multipart framing.
    "/v1/audio/transcriptions": 25 * MiB + 64 * 1024,
    "/v1/audio/translations": 25 * MiB + 64 * 1024,
    # 4 096 characters of input text.
    "/v1/audio/speech": 64 * 1024,
    # 50 000 characters, each at most 12 bytes as a JSON escape or percent-encoded UTF-8.
    "/translate": 1 * MiB,
    "/v2/translate": 1 * MiB,
    "/ai/run/{model:path}": 1 * MiB,
}

# Values in one JSON body (strings, numbers, objects, arrays). An empty object costs Python ~72
# bytes and a body byte or three, so a 16 MB body of `{},{},...` would build ~400 MB.
MAX_JSON_VALUES = 100_000

# Nesting of one JSON body. Deeper JSON made Python 3.14's parser overflow the WebAssembly stack,
# which killed the whole workerd process (Pyodide 0.26 raised RecursionError: a 500 before).
MAX_JSON_DEPTH = 100
_NOT_STRUCTURAL = bytes(set(range(256)) - set(b'[]{}"\\'))
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")

# Strings that end up in response headers (a model name in X-Requested-Model).
MAX_HEADER_VALUE_CHARS = 256
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")


def body_limit(pattern: str) -> int:
    return BODY_LIMITS.get(pattern, DEFAULT_BODY_BYTES)


def body_too_large(size: int | None, limit: int) -> ApiError:
    told = f"The request body is {size} bytes" if size is not None else "The request body is larger than the limit"
    return ApiError(413, f"{told}; the limit here is {limit} bytes ({_size(limit)}).", code="request_too_large")


def _size(limit: int) -> str:
    return f"{limit / MiB:g} MB" if limit >= MiB else f"{limit // 1024} KB"


def count_json_values(raw: bytes | str) -> int:
    """An upper bound on the values a JSON text holds: every value but the first of each container
    follows a comma, and every container opens with a bracket. Three C-speed scans, no parsing."""
    if isinstance(raw, str):
        return raw.count(",") + raw.count("{") + raw.count("[") + 1
    return raw.count(b",") + raw.count(b"{") + raw.count(b"[") + 1


def json_too_complex(max_values: int) -> ApiError:
    return bad_request(f"The JSON body holds more than {max_values} values.", code="json_too_complex")


def too_deep(raw: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests deeper than `max_depth` (or its brackets do not balance), found
    with regexes (C speed): only brackets are kept, strings dropped, then innermost pairs removed
    once per level. Skipped when the text has too few brackets to nest that deep."""
    if raw.count("[") + raw.count("{") <= max_depth:
        return False
    # bytes.translate deletes everything but brackets, quotes and backslashes at memchr speed.
    skeleton = _STRING.sub(b"", raw.encode("utf-8", "surrogatepass").translate(None, _NOT_STRUCTURAL))
    for _ in range(max_depth):
        skeleton, removed = _EMPTY_PAIR.subn(b"", skeleton)
        if not skeleton or not removed:
            break
    return bool(skeleton)


def parse_json(raw: str, max_values: int = MAX_JSON_VALUES) -> Any:
    """json.loads, refusing (400) bodies that would build huge structures or nest without end."""
    if count_json_values(raw) > max_values:
        raise json_too_complex(max_values)
    if too_deep(raw):
        raise bad_request(f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep (or its brackets do not balance).",
                          code="json_too_deep")
    try:
        return json.loads(raw)
    except RecursionError:
        raise bad_request("The JSON body is nested too deeply.", code="json_too_deep") from None
    except ValueError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.", code="invalid_json") from None


def is_header_safe(value: str, max_chars: int = MAX_HEADER_VALUE_CHARS) -> bool:
    return len(value) <= max_chars and _HEADER_SAFE.fullmatch(value) is not None


def are_headers_safe(values, max_chars: int) -> bool:
    """is_header_safe for every value, with one regex pass over them all."""
    values = list(values)
    return all(len(value) <= max_chars for value in values) and _HEADER_SAFE.fullmatch("".join(values)) is not None


def check_header_safe(value: str, param: str) -> str:
    """A client string that will be echoed in a header: printable ASCII, bounded length, else 400."""
    if not is_header_safe(value):
        raise bad_request(
            f"`{param}` must be at most {MAX_HEADER_VALUE_CHARS} printable ASCII characters.",
            param=param, code=f"invalid_{param}",
        )
    return value
