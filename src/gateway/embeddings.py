"""OpenAI embeddings ⇄ Workers AI text embeddings (`{text}` → `{shape, data}`)."""

from __future__ import annotations

import base64
import struct

from .catalog import Model
from .chat import estimate_tokens
from .contracts import contract_for
from .errors import QueuedError, UpstreamError, bad_request

MAX_INPUTS = 2048  # OpenAI's own limit per request


def parse_input(body: dict) -> list[str]:
    value = body.get("input")
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        texts = value
    elif isinstance(value, list) and value and all(isinstance(item, (int, list)) for item in value):
        raise bad_request("Token arrays are not supported: send `input` as text.", param="input")
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
    dimensions = body.get("dimensions")
    native = model.limits.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise bad_request("`dimensions` must be a positive integer.", param="dimensions")
        if dimensions != native:
            raise bad_request(
                f"'{model.id}' always returns {native or 'its own number of'} dimensions; it cannot return {dimensions}.",
                param="dimensions",
                code="unsupported_dimensions",
            )
    return encoding


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
    return data


def encode_vector(vector: list[float], encoding: str):
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
