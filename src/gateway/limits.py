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
    # Room for an input image (10 MB) as a base64 data: URL, and no more; the completions and
    # responses APIs carry the same conversations (and images), so they get the same room.
    "/v1/chat/completions": 16 * MiB,
    "/v1/completions": 16 * MiB,
    "/v1/responses": 16 * MiB,
    "/v1/messages": 16 * MiB,
    "/v1/messages/count_tokens": 16 * MiB,
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
    # A glossary's entries (1 MB of TSV at most: glossaries.py) as JSON escapes or a form.
    "/v2/glossaries": 3 * MiB + 64 * 1024,
    "/v3/glossaries": 3 * MiB + 64 * 1024,
    "/v3/glossaries/{glossary_id}": 3 * MiB + 64 * 1024,
    "/v3/glossaries/{glossary_id}/dictionaries": 3 * MiB + 64 * 1024,
    # Translation's one text, or a Clef decision with its images (4 at most, kept in the runtime).
    "/ai/run/{model:path}": 16 * MiB,
}

# What one JSON body may make json.loads build, in units of ~40 bytes of Python heap or less: every
# value (each comma, colon and opening bracket outside strings, plus the first value) and every
# string (keys too). Measured with tracemalloc under CPython 3.12 per unit: ints 36 B, floats 32,
# empty lists 32 and dicts 36 (a container is its value plus its bracket: two units), short
# strings ~31 (string + value), one-key dicts 48, members of a large object 40 (56 at the peak of
# its growth). 310 000 units is room for the documented 300 000 token ids of one embeddings request
# (with 2 048 inputs as nested lists: ~302 000) and bounds the heap such a body builds to ~12-17
# MB; a 16 MB body of `{},{},...` (10 million units) is refused before it is parsed.
MAX_JSON_VALUES = 310_000

# Nesting of one JSON body. Deeper JSON made Python 3.14's parser overflow the WebAssembly stack,
# which killed the whole workerd process (Pyodide 0.26 raised RecursionError: a 500 before).
MAX_JSON_DEPTH = 100
_NOT_UNIT = bytes(set(range(256)) - set(b'",:{['))
_NOT_BRACKET = bytes(set(range(256)) - set(b'"[]{}'))
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
# Strings are split out of a skeleton this many bytes at a time, so that no more than ~32 000
# pieces are held at once (a body of many short strings would otherwise make one per string).
_SKELETON_SLICE = 64 * 1024
# A large text is encoded and reduced to its skeleton this many characters at a time.
_TEXT_SLICE = 1024 * 1024

# A JSON text decoded by the runtime (strict UTF-8) holds a surrogate only as a \uD800-\uDFFF escape;
# json.loads turns an unpaired one into a str that fails later, wherever it is encoded (a 500).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# Both branches start with `\u`, a literal the regex engine scans for quickly; a low surrogate is
# lone unless the twelve characters that end with it are a high one and itself.
_LONE_SURROGATE = re.compile(r"\\u[dD](?:[89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                             r"|[c-fC-F][0-9a-fA-F]{2}(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}))")

# Strings that end up in response headers (a model name in X-Requested-Model).
MAX_HEADER_VALUE_CHARS = 256
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")


# The JSON text of one body that may become Python objects (its long base64 data: URLs left out:
# those stay in the runtime), in UTF-16 code units as the runtime counts them. A Python str takes
# 1 to 4 bytes a character and never gives the heap back; 2 Mi units is over 500 000 tokens of
# text (the longest context of any Workers AI model is 256k) and the 300 000 token ids of an
# embeddings request.
MAX_JSON_TEXT_CHARS = 2 * 1024 * 1024


def text_too_long(size: int, limit: int) -> ApiError:
    return ApiError(413, f"The request's JSON holds {size} characters besides its images; the limit is {limit}.",
                    code="request_too_large")


def body_limit(pattern: str) -> int:
    return BODY_LIMITS.get(pattern, DEFAULT_BODY_BYTES)


def body_too_large(size: int | None, limit: int) -> ApiError:
    told = f"The request body is {size} bytes" if size is not None else "The request body is larger than the limit"
    return ApiError(413, f"{told}; the limit here is {limit} bytes ({_size(limit)}).", code="request_too_large")


def _size(limit: int) -> str:
    return f"{limit / MiB:g} MB" if limit >= MiB else f"{limit // 1024} KB"


def _skeleton(raw: bytes | str, others: bytes) -> bytes:
    """The bytes of a JSON text that are not in `others`, once escaped backslashes and quotes are
    gone (after that every quote is a string's edge; a run of backslashes starts an escape, so
    pairing them off from the left is what a parser does). Made 1 MiB at a time, never cut in a
    run of backslashes, so that a large str is never copied whole."""
    pieces: list[bytes] = []
    start, size = 0, len(raw)
    while start < size:
        end = start + _TEXT_SLICE
        while end < size and raw[end - 1:end] in ("\\", b"\\"):
            end += 1
        data = raw[start:end]
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        if b"\\" in data:
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        pieces.append(data.translate(None, others))
        start = end
    return b"".join(pieces)


def _outside_strings(skeleton: bytes) -> bytes:
    """A skeleton (marks and quotes only) with its strings taken out, a slice at a time: the quotes
    so far tell whether a slice starts inside a string."""
    if b'"' not in skeleton:
        return skeleton
    pieces: list[bytes] = []
    inside = 0
    for start in range(0, len(skeleton), _SKELETON_SLICE):
        parts = skeleton[start:start + _SKELETON_SLICE].split(b'"')
        pieces.append(b"".join(parts[inside::2]))
        inside = (inside + len(parts) - 1) % 2
    return b"".join(pieces)


def count_json_values(raw: bytes | str, at_most: int = MAX_JSON_VALUES) -> int:
    """The units (see MAX_JSON_VALUES) a JSON text holds, as far as telling whether they are more
    than `at_most` needs: its values, found from the commas, colons and opening brackets outside
    strings, and its strings; commas and brackets inside strings (a CSV in a message) count for
    nothing. Whenever every comma, colon, bracket and quote, in strings or not, comes to no more than
    `at_most`, that upper bound is the answer (every ordinary body stops there); a body with more
    strings than `at_most` is answered with that lower bound. Byte operations and regexes, no
    parsing. The runtime adds up the counts of a large body's 1 MiB slices, each read as if it
    began outside a string: a string across a slice's edge may be miscounted there, never in
    parse_json's count of the whole text."""
    if isinstance(raw, str):
        # Five scans of the str, where encoding it first would copy a 16 MB body on the heap.
        bound = sum(map(raw.count, ",:{[")) + (raw.count('"') + 1) // 2 + 1
        if bound <= at_most:
            return bound
    skeleton = _skeleton(raw, _NOT_UNIT)
    quotes = skeleton.count(b'"')
    strings = (quotes + 1) // 2
    bound = len(skeleton) - quotes + strings + 1
    if bound <= at_most:
        return bound
    if strings >= at_most:
        return strings + 1  # over already: no need to split tens of thousands of strings out
    return len(_outside_strings(skeleton)) + strings + 1


def json_too_complex(max_values: int) -> ApiError:
    return bad_request(f"The JSON body holds more than {max_values} values.", code="json_too_complex")


def too_deep(raw: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests deeper than `max_depth` (or its brackets do not balance), found
    with regexes (C speed): only brackets are kept, strings dropped, then innermost pairs removed
    once per level. Skipped when the text has too few brackets to nest that deep."""
    if raw.count("[") + raw.count("{") <= max_depth:
        return False
    skeleton = _outside_strings(_skeleton(raw, _NOT_BRACKET))
    for _ in range(max_depth):
        skeleton, removed = _EMPTY_PAIR.subn(b"", skeleton)
        if not skeleton or not removed:
            break
    return bool(skeleton)


def has_lone_surrogate(raw: str) -> bool:
    r"""Whether a JSON text escapes a surrogate without its pair (`"\ud800"`). One scan for a
    \uD800-\uDFFF escape decides for almost every text; only when there is one (an emoji sent
    ASCII-escaped is a pair) is the text searched for a lone one, with its escaped backslashes
    replaced: `\\ud800` is a backslash and `ud800`, no escape, and `\ud800\\\udc00` is no pair."""
    if _SURROGATE_ESCAPE.search(raw) is None:
        return False
    return _LONE_SURROGATE.search(raw.replace("\\\\", "__")) is not None


def parse_json(raw: str, max_values: int = MAX_JSON_VALUES) -> Any:
    """json.loads, refusing (400) bodies that would build huge structures, nest without end or
    decode to text that is not Unicode (a lone surrogate, which fails wherever it is encoded)."""
    if count_json_values(raw, max_values) > max_values:
        raise json_too_complex(max_values)
    if too_deep(raw):
        raise bad_request(f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep (or its brackets do not balance).",
                          code="json_too_deep")
    if has_lone_surrogate(raw):
        raise bad_request("The JSON body is not valid Unicode: it escapes a lone surrogate (a \\uD800-\\uDFFF "
                          "escape without its pair).", code="invalid_unicode")
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
