"""Cloudflare's published per-model prices, as data, and the one estimator that reads them.

Workers AI bills in neurons ($0.011 per 1,000) but publishes each model's price in its own
units (tokens, audio minutes, image tiles and steps). The figures below are copied from
Cloudflare's pricing page (`src/content/docs/workers-ai/platform/pricing.mdx` in the
cloudflare/cloudflare-docs repo, "LLM model pricing" and "Other model pricing") and, for
models that page does not list, from the model's own page on developers.cloudflare.com
("Unit Pricing"). A model with no published price in those sources is estimated with the
price of a listed model of the same kind, and says so in `source`.

Estimates, not invoices: token counts come from the model's `usage` when it reports one,
otherwise from the text length (about 4 characters a token); Cloudflare's dashboard is
the authority.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .catalog import BY_ID, CHAT, EMBEDDINGS, IMAGE_TO_IMAGE, SPEECH_TO_TEXT, TEXT_TO_IMAGE, TEXT_TO_SPEECH, TRANSLATION

USD_PER_1000_NEURONS = 0.011
FREE_NEURONS_PER_DAY = 10_000
PRICING_PAGE = "https://developers.cloudflare.com/workers-ai/platform/pricing/"


@dataclass(frozen=True)
class Price:
    """USD per unit, as Cloudflare publishes it. Units: `input` and `output` per million tokens,
    `tile` per 512x512 tile, `step` per diffusion step, `audio_minute`, `characters` per 1,000."""

    input: float = 0.0
    output: float = 0.0
    tile: float = 0.0
    step: float = 0.0
    audio_minute: float = 0.0
    characters: float = 0.0
    source: str = "pricing page"


def _p(**units) -> Price:
    return Price(**units)


PRICES: dict[str, Price] = {
    # pricing.mdx, "LLM model pricing" (USD per M input / output tokens).
    "@cf/meta/llama-3.2-1b-instruct": _p(input=0.027, output=0.201),
    "@cf/meta/llama-3.2-3b-instruct": _p(input=0.051, output=0.335),
    # The page lists it under its earlier id, @cf/meta/llama-3.1-8b-instruct-fp8-fast.
    "@cf/meta/llama-3.1-8b-instruct-fast": _p(input=0.045, output=0.384, source="pricing page (as llama-3.1-8b-instruct-fp8-fast)"),
    "@cf/meta/llama-3.2-11b-vision-instruct": _p(input=0.049, output=0.676),
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": _p(input=0.293, output=2.253),
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": _p(input=0.497, output=4.881),
    # Model pages ("Unit Pricing").
    "@cf/openai/gpt-oss-20b": _p(input=0.20, output=0.30, source="model page"),
    "@cf/openai/gpt-oss-120b": _p(input=0.35, output=0.75, source="model page"),
    # pricing.mdx, "Other model pricing".
    "@cf/baai/bge-small-en-v1.5": _p(input=0.020),
    "@cf/baai/bge-base-en-v1.5": _p(input=0.067),
    "@cf/baai/bge-large-en-v1.5": _p(input=0.204),
    "@cf/meta/m2m100-1.2b": _p(input=0.342, output=0.342),
    "@cf/black-forest-labs/flux-1-schnell": _p(tile=0.0000528, step=0.0001056),
    "@cf/openai/whisper": _p(audio_minute=0.0005),
    "@cf/openai/whisper-large-v3-turbo": _p(audio_minute=0.00051, source="model page"),
}

# For a model without a published price in the sources above: a listed model of the same kind
# (the dearer one where there is a choice, so budgets err on the safe side).
FALLBACK: dict[str, str] = {
    CHAT: "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    EMBEDDINGS: "@cf/baai/bge-large-en-v1.5",
    TEXT_TO_IMAGE: "@cf/black-forest-labs/flux-1-schnell",
    IMAGE_TO_IMAGE: "@cf/black-forest-labs/flux-1-schnell",
    SPEECH_TO_TEXT: "@cf/openai/whisper-large-v3-turbo",
    # No text-to-speech price is on the pricing page: a speech minute priced like whisper's.
    TEXT_TO_SPEECH: "@cf/openai/whisper-large-v3-turbo",
    TRANSLATION: "@cf/meta/m2m100-1.2b",
}

CHARS_PER_TOKEN = 4
# Speech runs at about 150 words (~900 characters) a minute.
SPEECH_CHARS_PER_MINUTE = 900
DEFAULT_CHAT_OUTPUT_TOKENS = 256  # Workers AI's default max_tokens


def price_for(model_id: str) -> Price:
    if model_id in PRICES:
        return PRICES[model_id]
    model = BY_ID.get(model_id)
    fallback = FALLBACK.get(model.task if model else CHAT, FALLBACK[CHAT])
    base = PRICES[fallback]
    return Price(base.input, base.output, base.tile, base.step, base.audio_minute, base.characters,
                 source=f"not published; priced as {fallback}")


def neurons(usd: float) -> float:
    return usd / USD_PER_1000_NEURONS * 1000


def tokens(text) -> int:
    """An estimate of the tokens in a text (or anything JSON-like)."""
    if text is None:
        return 0
    if not isinstance(text, str):
        text = str(text)
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _message_text(inputs: dict) -> str:
    if isinstance(inputs.get("messages"), list):
        parts = []
        for message in inputs["messages"]:
            content = message.get("content") if isinstance(message, dict) else None
            parts.append(content if isinstance(content, str) else str(content or ""))
        return "\n".join(parts)
    for name in ("prompt", "input", "text"):
        if isinstance(inputs.get(name), str):
            return inputs[name]
    return ""


def _chat_units(inputs: dict, result) -> tuple[int, int]:
    usage = result.get("usage") if isinstance(result, dict) else None
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), (int, float)):
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    prompt = tokens(_message_text(inputs))
    if isinstance(result, dict):
        answer = result.get("response")
        if answer is None and isinstance(result.get("choices"), list) and result["choices"]:
            answer = (result["choices"][0].get("message") or {}).get("content")
        return prompt, tokens(answer)
    # A stream: its length is not known when the call returns, so the cap is counted.
    cap = inputs.get("max_tokens") or inputs.get("max_completion_tokens")
    return prompt, int(cap) if isinstance(cap, (int, float)) else DEFAULT_CHAT_OUTPUT_TOKENS


def _image_units(inputs: dict, model) -> tuple[int, int]:
    limits = model.limits if model else {}
    steps = inputs.get(limits.get("steps_param", "num_steps")) or limits.get("default_steps") or 4
    width, height = inputs.get("width") or 1024, inputs.get("height") or 1024
    tiles = math.ceil(width / 512) * math.ceil(height / 512)
    return int(steps), int(tiles)


def _audio_minutes(result) -> float:
    info = result.get("transcription_info") if isinstance(result, dict) else None
    if isinstance(info, dict) and isinstance(info.get("duration"), (int, float)):
        return info["duration"] / 60
    words = result.get("words") if isinstance(result, dict) else None
    if isinstance(words, list) and words and isinstance(words[-1], dict) and isinstance(words[-1].get("end"), (int, float)):
        return words[-1]["end"] / 60
    return 1.0  # unknown length: one billed minute


def estimate(model_id: str, inputs: dict, result) -> float:
    """Neurons one Workers AI call is estimated to cost."""
    model = BY_ID.get(model_id)
    task = model.task if model else CHAT
    price = price_for(model_id)
    usd = 0.0
    if task == CHAT:
        prompt, completion = _chat_units(inputs, result)
        usd = prompt * price.input / 1e6 + completion * price.output / 1e6
    elif task == EMBEDDINGS:
        texts = inputs.get("text")
        usd = sum(tokens(t) for t in (texts if isinstance(texts, list) else [texts])) * price.input / 1e6
    elif task == TRANSLATION:
        out = result.get("translated_text") if isinstance(result, dict) else ""
        usd = translation_usd(price, inputs.get("text") or "", out)
    elif task in (TEXT_TO_IMAGE, IMAGE_TO_IMAGE):
        steps, tiles = _image_units(inputs, model)
        usd = steps * price.step + tiles * price.tile
    elif task == SPEECH_TO_TEXT:
        usd = _audio_minutes(result) * price.audio_minute
    elif task == TEXT_TO_SPEECH:
        text = inputs.get("prompt") or inputs.get("text") or ""
        usd = max(len(text) / SPEECH_CHARS_PER_MINUTE, 1 / 60) * price.audio_minute + len(text) / 1000 * price.characters
    return neurons(usd)


def translation_usd(price: Price, source: str, translated: str) -> float:
    return tokens(source) * price.input / 1e6 + tokens(translated) * price.output / 1e6


def translation_neurons(model_id: str, source: str, translated: str) -> float:
    return neurons(translation_usd(price_for(model_id), source, translated))
