"""OpenAI embeddings ⇄ Workers AI text embeddings (`{text}` → `{shape, data}`)."""

from __future__ import annotations

import base64
import math
import struct

from .catalog import MATRYOSHKA_DIMENSIONS, Model
from .chat_completion import estimate_tokens
from .contracts import contract_for
from .errors import QueuedError, UpstreamError, bad_request
from .platform import RuntimeVectors

MAX_INPUTS = 2048  # OpenAI's own limit per request


def parse_input(body: dict) -> list[str]:
    """The texts of `input`; token ids (LangChain's OpenAIEmbeddings sends them) are decoded before, `tokens.decode_ids`."""
    value = body.get("input")
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        texts = value
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


def truncate(vector: list[float], size: int) -> list[float]:
    """A Matryoshka vector cut to its first `size` values and scaled back to unit length."""
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


class PlainVectors(RuntimeVectors):
    """Vectors that are already Python lists (a runtime that gave no `RuntimeVectors`, bge-m3's
    `response` variant, tests)."""

    def __init__(self, data: list):
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def problem(self) -> str | None:
        # The first value of each stands for the rest: checking every float would cost CPU per request.
        size = len(self._data[0]) if self._data and type(self._data[0]) is list else 0
        for vector in self._data:
            if type(vector) is not list or not vector or type(vector[0]) not in (float, int):
                return "embeddings result holds something that is not a vector"
            if len(vector) != size:
                return "embeddings result holds vectors of different lengths"
        return None

    def items(self) -> list:
        return self._data

    def values(self) -> list[list[float]]:
        return self._data

    def float32(self) -> list[bytes]:
        return [_float32(vector) for vector in self._data]


def _float32(vector: list[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def vectors_from(result) -> RuntimeVectors:
    """The vectors of any documented output variant: `{data}` or bge-m3's `{response: [[...]]}`."""
    data = result.get("data") if isinstance(result, dict) else None
    if data is None and isinstance(result, dict) and isinstance(result.get("response"), list):
        if all(isinstance(v, list) for v in result["response"]):
            data = result["response"]
    if data is None and isinstance(result, dict) and isinstance(result.get("request_id"), str):
        raise QueuedError(f"the model queued the request (async request_id {result['request_id']})")
    if isinstance(data, list):
        data = PlainVectors(data)
    elif not isinstance(data, RuntimeVectors):
        raise UpstreamError("embeddings result has no `data` list")
    problem = data.problem()
    if problem:
        raise UpstreamError(problem)
    return data


def embedding_items(vectors: RuntimeVectors, encoding: str, dimensions: int | None) -> list:
    """Each vector as the response's `embedding` holds it: as the runtime keeps it, cut to
    `dimensions`, or OpenAI's base64 of little-endian float32 (what its SDKs decode)."""
    if dimensions is not None:
        cut = [truncate(vector, dimensions) for vector in vectors.values()]
        return cut if encoding == "float" else [_base64(_float32(vector)) for vector in cut]
    if encoding == "base64":
        return [_base64(packed) for packed in vectors.float32()]
    return vectors.items()


def _base64(packed: bytes) -> str:
    return base64.b64encode(packed).decode("ascii")


def response(items: list, texts: list[str], model: Model) -> dict:
    """The OpenAI list, `items` as embedding_items gives them."""
    tokens = sum(estimate_tokens(text) for text in texts)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": item} for i, item in enumerate(items)],
        "model": model.id,
        # Workers AI reports no token count for embeddings: this is an estimate, and says so.
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "estimated": True},
    }
