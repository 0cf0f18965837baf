"""Token ids → text, for clients that send `input` (or `prompt`) as tiktoken ids.

LangChain's `OpenAIEmbeddings` (by default) and other tiktoken users split and encode
texts client-side with cl100k_base, the encoding of OpenAI's embedding models, and send
the ids. Workers AI models take text, so the ids are decoded back with the cl100k_base
vocabulary shipped in `cl100k_base.py` (no download at run time). The table is loaded
and unpacked on the first request that needs it and never before: that request takes
~80 ms longer (measured locally on the legacy runtime, wall clock; mostly compiling the
600 KB module and inflating it), later ones nothing measurable; ~1.5 MB of memory stays.
Importing it at module level instead would put it in production's start-up snapshot, at
the price of every isolate's cold start and memory, for a path few clients take. Ids from another encoding (o200k_base, a model's own tokenizer) would
decode to the wrong text; nothing in the ids says which encoding made them.
"""

from __future__ import annotations

from array import array
from itertools import accumulate

from .errors import ApiError, bad_request
from .platform import TokenIds

# cl100k_base's special tokens (tiktoken's numbering).
SPECIAL = {100257: "<|endoftext|>", 100258: "<|fim_prefix|>", 100259: "<|fim_middle|>", 100260: "<|fim_suffix|>",
           100276: "<|endofprompt|>"}
MAX_IDS = 300_000  # in all of a request's inputs: OpenAI's own limit
MAX_ID_BYTES = 128  # cl100k_base's longest token (128 spaces)
MAX_SEQUENCES = 2048  # id lists in one value: OpenAI's inputs per embeddings request
# Their text in all, as UTF-8. The same order as the text a JSON body may carry (limits.MAX_JSON_TEXT_CHARS):
# 300 000 ids of prose or code decode to ~1.2 MB, 300 000 ids of cl100k's 128-space token to 38 MB.
MAX_TEXT_BYTES = 2 * 1024 * 1024
_STEP = 4096  # ids decoded between two size checks: at most 512 KiB past the limit before it is seen

# After every token in the table: U+E000 as UTF-8, which no cl100k token holds.
SEPARATOR = b"\xee\x80\x80"

_table: tuple[bytes, array] | None = None


def table() -> tuple[bytes, array]:
    """All tokens' bytes, each followed by SEPARATOR, and where each starts: token `id` is
    `data[offsets[id] : offsets[id + 1] - len(SEPARATOR)]`."""
    global _table
    if _table is None:
        import base64
        import zlib

        from . import cl100k_base

        data = zlib.decompress(base64.b64decode(cl100k_base.PACKED))
        count = cl100k_base.COUNT
        offsets = array("I", accumulate((size + len(SEPARATOR) for size in data[:count]), initial=count))
        _table = (data, offsets)
    return _table


def not_text() -> tuple[int, ...]:
    """Ids whose bytes are not UTF-8 text on their own (a part of a character), or hold U+FFFD."""
    from . import cl100k_base

    return cl100k_base.NOT_TEXT


def is_token_ids(value) -> bool:
    """A non-empty list of ints."""
    return isinstance(value, list) and bool(value) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


def unknown_token(token, param: str) -> ApiError:
    return bad_request(
        f"`{param}` holds token id {token}, which is not in cl100k_base (the encoding this gateway decodes); "
        "send the text instead.", param=param, code="invalid_token_ids",
    )


def text_too_long(param: str) -> ApiError:
    return ApiError(413, f"The token ids of `{param}` decode to more than {MAX_TEXT_BYTES} bytes of text, the limit "
                         "for one request.", param=param, code="request_too_large")


async def decode_ids(value, param: str):
    """`value` with token ids put back into text: a list of ids becomes a str, a list of id lists a list
    of str (ids the runtime kept, `TokenIds`, alike); any other value is returned as it is. 400 naming
    `param` for an id outside cl100k_base or too many ids, 413 past MAX_TEXT_BYTES of text."""
    if isinstance(value, TokenIds):
        _check_counts(value.ids, value.sequences, param)
        texts = await value.texts(param, MAX_TEXT_BYTES)
        return texts if value.sequences is not None else texts[0]
    if is_token_ids(value):
        return _decode([value], param)[0]
    if isinstance(value, list) and value and all(is_token_ids(item) for item in value):
        return _decode(value, param)
    return value


def _check_counts(ids: int, sequences: int | None, param: str) -> None:
    if ids > MAX_IDS:
        raise bad_request(f"`{param}` holds {ids} token ids; at most {MAX_IDS}.", param=param)
    if sequences is not None and sequences > MAX_SEQUENCES:
        raise bad_request(f"`{param}` holds {sequences} lists of token ids; at most {MAX_SEQUENCES}.", param=param)


def _decode(sequences: list[list[int]], param: str) -> list[str]:
    _check_counts(sum(len(ids) for ids in sequences), len(sequences), param)
    data, offsets = table()
    count = len(offsets) - 1
    room = MAX_TEXT_BYTES
    skip = len(SEPARATOR)
    texts = []
    for ids in sequences:
        out = bytearray()
        for start in range(0, len(ids), _STEP):
            for token in ids[start : start + _STEP]:
                if 0 <= token < count:
                    out += data[offsets[token] : offsets[token + 1] - skip]
                elif token in SPECIAL:
                    out += SPECIAL[token].encode()
                else:
                    raise unknown_token(token, param)
            if len(out) > room:
                raise text_too_long(param)
        room -= len(out)
        texts.append(out.decode("utf-8", errors="replace"))
    return texts
