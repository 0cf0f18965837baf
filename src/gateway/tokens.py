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

from .errors import bad_request

# cl100k_base's special tokens (tiktoken's numbering).
SPECIAL = {100257: "<|endoftext|>", 100258: "<|fim_prefix|>", 100259: "<|fim_middle|>", 100260: "<|fim_suffix|>",
           100276: "<|endofprompt|>"}
MAX_IDS = 300_000  # more than 2048 inputs × 8191 tokens would never fit a request body anyway

_table: tuple[bytes, array] | None = None


def _load() -> tuple[bytes, array]:
    global _table
    if _table is None:
        import base64
        import zlib

        from . import cl100k_base

        data = zlib.decompress(base64.b64decode(cl100k_base.PACKED))
        count = cl100k_base.COUNT
        offsets = array("I", accumulate(data[:count], initial=count))
        _table = (data, offsets)
    return _table


def is_token_ids(value) -> bool:
    """A list of ints, or an array('q') (a long one, packed by the runtime as the body was read)."""
    if isinstance(value, array):
        return value.typecode == "q" and len(value) > 0
    return isinstance(value, list) and bool(value) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


def decode_tokens(ids: list[int], param: str) -> str:
    """The text cl100k_base token ids stand for; 400 naming `param` for an id outside the vocabulary."""
    if len(ids) > MAX_IDS:
        raise bad_request(f"`{param}` holds {len(ids)} token ids; at most {MAX_IDS}.", param=param)
    data, offsets = _load()
    count = len(offsets) - 1
    out = bytearray()
    for token in ids:
        if 0 <= token < count:
            out += data[offsets[token] : offsets[token + 1]]
        elif token in SPECIAL:
            out += SPECIAL[token].encode()
        else:
            raise bad_request(
                f"`{param}` holds token id {token}, which is not in cl100k_base (the encoding this gateway decodes); "
                "send the text instead.", param=param, code="invalid_token_ids",
            )
    return out.decode("utf-8", errors="replace")
