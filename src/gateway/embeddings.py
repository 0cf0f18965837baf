"""OpenAI embeddings ⇄ Workers AI text embeddings (`{text}` → `{shape, data}`)."""

from __future__ import annotations

import base64
import math
import json
import struct

from . import tokens
from .catalog import MATRYOSHKA_DIMENSIONS, Model
from .chat import estimate_tokens
from .contracts import contract_for
from .errors import QueuedError, UpstreamError, bad_request
from .platform import JsonText

MAX_INPUTS = 2048  # OpenAI's own limit per request


def parse_input(body: dict) -> list[str]:
    value = body.get("input")
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        texts = value
    elif tokens.is_token_ids(value):
        # One text as tiktoken ids; LangChain's OpenAIEmbeddings and LiteLLM-style clients send these.
        texts = [tokens.decode_tokens(value, "input")]
    elif isinstance(value, list) and value and all(tokens.is_token_ids(item) for item in value):
        texts = [tokens.decode_tokens(item, "input") for item in value]
    else:
        raise bad_request("`input` must be a non-empty string or array of strings.", param="input")
    if len(texts) > MAX_INPUTS:
        raise bad_request(f"`input` may hold at most {MAX_INPUTS} texts.", param="input")
    if any(not text for text in texts):
        raise bad_request("`input` must not contain empty strings.", param="input")
    return texts


def check_options(body: dict, model: Model) -> str:
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad_request("`encoding_format` must be float or base64.", param="encoding_format")
    dimensions_for(body, model)
    return encoding


def _sizes(sizes: tuple[int, ...]) -> str:
    if len(sizes) > 8 and sizes == tuple(range(sizes[0], sizes[-1] + 1)):
        return f"any size from {sizes[0]} to {sizes[-1]}"
    return ", ".join(str(size) for size in sorted(sizes, reverse=True))


def dimensions_for(body: dict, model: Model) -> int | None:
    """The size to cut vectors to (`dimensions`), or None for the model's own; 400 naming the sizes it can give."""
    dimensions = body.get("dimensions")
    native = model.limits.get("dimensions")
    if dimensions is None:
        return None
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise bad_request("`dimensions` must be a positive integer.", param="dimensions")
    sizes = MATRYOSHKA_DIMENSIONS.get(model.id)
    if sizes and dimensions in sizes:
        return None if dimensions == native else dimensions
    if dimensions == native:
        return None
    if sizes:
        raise bad_request(
            f"'{model.id}' can return {_sizes(sizes)} dimensions (Matryoshka-trained, cut and re-normalised); "
            f"not {dimensions}.", param="dimensions", code="unsupported_dimensions",
        )
    matryoshka = ", ".join(f"{name} ({_sizes(s)})" for name, s in MATRYOSHKA_DIMENSIONS.items())
    raise bad_request(
        f"'{model.id}' always returns {native or 'its own number of'} dimensions; it cannot return {dimensions}. "
        f"Models that can: {matryoshka}.", param="dimensions", code="unsupported_dimensions",
    )


def truncate(vector, size: int) -> list[float]:
    """A Matryoshka vector cut to its first `size` values and scaled back to unit length."""
    if isinstance(vector, JsonText):
        vector = json.loads(vector)
    head = vector[:size]
    norm = math.sqrt(sum(v * v for v in head))
    return [v / norm for v in head] if norm else head


def batch_size(model: Model) -> int:
    """Texts per call: the contract's `maxItems` for `text` (32 for qwen3-embedding), else the catalog's."""
    contract = contract_for(model.id)
    limit = contract.max_items("text") if contract else None
    return min(limit or 100, model.limits.get("max_batch", 100))


def batches(texts: list[str], model: Model) -> list[list[str]]:
    size = batch_size(model)
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def vectors_from(result) -> list[list[float]]:
    """The vectors of any documented output variant: `{data}` or bge-m3's `{response: [[...]]}`."""
    data = result.get("data") if isinstance(result, dict) else None
    if data is None and isinstance(result, dict) and isinstance(result.get("response"), list):
        if all(isinstance(v, list) for v in result["response"]):
            data = result["response"]
    if data is None and isinstance(result, dict) and isinstance(result.get("request_id"), str):
        raise QueuedError(f"the model queued the request (async request_id {result['request_id']})")
    if not isinstance(data, list):
        raise UpstreamError("embeddings result has no `data` list")
    for vector in data:
        # The first value of each stands for the rest: checking every float would cost CPU per request.
        # Vectors the runtime kept as JSON text (JsonText) are checked by their first character.
        if isinstance(vector, JsonText):
            if not vector.startswith("[") or vector.startswith("[]") or vector[1:2] in ("[", "{", '"'):
                raise UpstreamError("embeddings result holds something that is not a vector")
        elif type(vector) is not list or not vector or type(vector[0]) not in (float, int):
            raise UpstreamError("embeddings result holds something that is not a vector")
    return data


def encode_vector(vector, encoding: str):
    if isinstance(vector, JsonText):
        vector = json.loads(vector)
    if encoding == "base64":
        # OpenAI's base64 form: little-endian float32, as its SDKs decode it.
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def response(vectors: list[list[float]], texts: list[str], model: Model, encoding: str) -> dict:
    tokens = sum(estimate_tokens(text) for text in texts)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_vector(vector, encoding)}
            for i, vector in enumerate(vectors)
        ],
        "model": model.id,
        # Workers AI reports no token count for embeddings: this is an estimate, and says so.
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "estimated": True},
    }


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def response_json(vectors: list, texts: list[str], model: Model, encoding: str) -> str:
    """`response(...)` as JSON text, byte for byte what json_response would write, with vectors
    the runtime gave as `JsonText` inserted as they are (float ones never become Python floats)."""
    tokens = sum(estimate_tokens(text) for text in texts)
    items = ",".join(
        '{"object":"embedding","index":' + str(i) + ',"embedding":'
        + (vector if isinstance(vector, JsonText) and encoding == "float" else _COMPACT.encode(encode_vector(vector, encoding))) + "}"
        for i, vector in enumerate(vectors)
    )
    usage = {"prompt_tokens": tokens, "total_tokens": tokens, "estimated": True}
    return '{"object":"list","data":[' + items + '],"model":' + _COMPACT.encode(model.id) + ',"usage":' + _COMPACT.encode(usage) + "}"
