"""OpenAI's moderation API answered by Llama Guard 3 (`@cf/meta/llama-guard-3-8b`).

Llama Guard classifies a text as "safe", or "unsafe" with the hazard categories it
violates (S1..S14, MLCommons' taxonomy). OpenAI's shape has 13 categories, each with a
flag and a score. The categories are mapped below (several Llama Guard categories have no
OpenAI counterpart: they still flag the input and are listed in `llama_guard_categories`);
Llama Guard gives no scores, so each score is 1.0 for a flagged category and 0.0 otherwise,
and every result says `category_scores_from_model: false`.
"""

from __future__ import annotations

import re

from .errors import UpstreamError, bad_request

OPENAI_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic",
)

# Llama Guard 3's hazard categories → their names and the OpenAI categories they flag.
LLAMA_GUARD_CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "S1": ("Violent Crimes", ("violence", "illicit/violent")),
    "S2": ("Non-Violent Crimes", ("illicit",)),
    "S3": ("Sex-Related Crimes", ("sexual", "illicit")),
    "S4": ("Child Sexual Exploitation", ("sexual/minors",)),
    "S5": ("Defamation", ("harassment",)),
    "S6": ("Specialized Advice", ()),
    "S7": ("Privacy", ()),
    "S8": ("Intellectual Property", ()),
    "S9": ("Indiscriminate Weapons", ("violence", "illicit/violent")),
    "S10": ("Hate", ("hate",)),
    "S11": ("Suicide & Self-Harm", ("self-harm",)),
    "S12": ("Sexual Content", ("sexual",)),
    "S13": ("Elections", ()),
    "S14": ("Code Interpreter Abuse", ("illicit",)),
}

MAX_INPUTS = 32
MAX_INPUT_CHARS = 131_072  # the model's maxLength for a message's content
_CODE = re.compile(r"\bS(\d{1,2})\b")


def parse_inputs(body: dict) -> list[str]:
    """The texts to classify: `input` as a string, a list of strings, or a list of text parts."""
    value = body.get("input")
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list) and value:
        texts = []
        for item in value:
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
                texts.append(item["text"])
            elif isinstance(item, dict) and item.get("type") == "image_url":
                raise bad_request("The moderation model (Llama Guard 3) reads text only; image inputs are not supported.",
                                  param="input", code="unsupported_input")
            else:
                raise bad_request("`input` items must be strings or {\"type\": \"text\", \"text\": ...} parts.", param="input")
    else:
        raise bad_request("`input` is required: a string, or a list of strings or text parts.", param="input")
    if len(texts) > MAX_INPUTS:
        raise bad_request(f"At most {MAX_INPUTS} inputs per request; got {len(texts)}.", param="input")
    for text in texts:
        if len(text) > MAX_INPUT_CHARS:
            raise bad_request(f"An input is longer than {MAX_INPUT_CHARS} characters.", param="input")
    return texts


def model_inputs(text: str) -> dict:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 32}


def verdict(result) -> list[str] | None:
    """None for safe, else the hazard codes (possibly empty); UpstreamError for an answer of another shape.

    Llama Guard answers `{response: "safe"}` / `{response: "unsafe\\nS1,S10"}`, or with JSON mode
    `{response: {safe, categories}}`."""
    response = result.get("response") if isinstance(result, dict) else None
    if isinstance(response, dict) and isinstance(response.get("safe"), bool):
        if response["safe"]:
            return None
        return [c for c in (str(c).strip().upper() for c in response.get("categories") or []) if c in LLAMA_GUARD_CATEGORIES]
    if isinstance(response, str):
        text = response.strip().lower()
        if text.startswith("safe"):
            return None
        if text.startswith("unsafe"):
            return [f"S{n}" for n in _CODE.findall(response.upper()) if f"S{n}" in LLAMA_GUARD_CATEGORIES]
    raise UpstreamError("the moderation model answered neither safe nor unsafe")


def result_object(codes: list[str] | None) -> dict:
    flagged_categories = {cat for code in codes or [] for cat in LLAMA_GUARD_CATEGORIES[code][1]}
    return {
        "flagged": codes is not None,
        "categories": {cat: cat in flagged_categories for cat in OPENAI_CATEGORIES},
        "category_scores": {cat: 1.0 if cat in flagged_categories else 0.0 for cat in OPENAI_CATEGORIES},
        "category_applied_input_types": {cat: ["text"] if cat in flagged_categories else [] for cat in OPENAI_CATEGORIES},
        # Llama Guard gives a verdict, not scores: the scores above are 1.0/0.0 from the verdict.
        "category_scores_from_model": False,
        "llama_guard_categories": [{"code": code, "name": LLAMA_GUARD_CATEGORIES[code][0]} for code in codes or []],
    }
