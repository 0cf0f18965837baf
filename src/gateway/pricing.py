"""Cloudflare's published per-model prices, as data, and the estimators that read them.

Workers AI bills in neurons ($0.011 per 1,000) but publishes each model's price in its own
units (tokens, audio minutes, image tiles and steps). The figures below are copied from
Cloudflare's pricing page (`src/content/docs/workers-ai/platform/pricing.mdx` in the
cloudflare/cloudflare-docs repo, "LLM model pricing" and "Other model pricing") and, for
models that page does not list, from the model's own page on developers.cloudflare.com
("Unit Pricing"). A model with no published price in those sources is estimated with the
price of a listed model of the same kind, and says so in `source`.

Two questions are answered for one Workers AI call:
- `bound`: before the call, the most it can cost (what a budgeted key reserves). Token counts are
  bounded by UTF-8 bytes (a byte-level tokenizer never makes more tokens than bytes), the answer by
  its `max_tokens` (or the model's published default), an image in a prompt by the most tokens a
  vision model spends on one, audio by the longest it can play at a low speech bitrate.
- `estimate` / `stream_estimate`: after it, what it cost: the model's reported `usage` where it
  sends one, otherwise the text length (about 4 characters a token), images as image tokens and
  never as text.

Estimates, not invoices; Cloudflare's dashboard is the authority.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable

from .catalog import (BY_ID, CHAT, DECISION, EMBEDDINGS, IMAGE_TO_IMAGE, MODERATION, SPEECH_TO_TEXT, STREAMING_SPEECH_TO_TEXT,
                      TEXT_TO_IMAGE, TEXT_TO_SPEECH, TRANSLATION)

USD_PER_1000_NEURONS = 0.011
FREE_NEURONS_PER_DAY = 10_000
PRICING_PAGE = "https://developers.cloudflare.com/workers-ai/platform/pricing/"


@dataclass(frozen=True)
class Price:
    """USD per unit, as Cloudflare publishes it. Units: `input` and `output` per million tokens,
    `tile` per 512x512 tile, `step` per diffusion step, `audio_minute`."""

    input: float = 0.0
    output: float = 0.0
    tile: float = 0.0
    step: float = 0.0
    audio_minute: float = 0.0
    source: str = "pricing page"


def _p(**units) -> Price:
    return Price(**units)


PRICES: dict[str, Price] = {
    # pricing.mdx, "LLM model pricing" (USD per M input / output tokens).
    "@cf/meta/llama-3.2-1b-instruct": _p(input=0.027, output=0.201),
    "@cf/meta/llama-3.2-3b-instruct": _p(input=0.051, output=0.335),
    # The page lists it under its earlier id, @cf/meta/llama-3.1-8b-instruct-fp8-fast.
    "@cf/meta/llama-3.1-8b-instruct-fast": _p(input=0.045, output=0.384, source="pricing page (as llama-3.1-8b-instruct-fp8-fast)"),
    "@cf/meta/llama-3.1-8b-instruct-fp8": _p(input=0.152, output=0.287),
    "@cf/meta/llama-3.2-11b-vision-instruct": _p(input=0.049, output=0.676),
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": _p(input=0.293, output=2.253),
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": _p(input=0.497, output=4.881),
    # Model pages ("Unit Pricing").
    "@cf/openai/gpt-oss-20b": _p(input=0.20, output=0.30, source="model page"),
    "@cf/openai/gpt-oss-120b": _p(input=0.35, output=0.75, source="model page"),
    "@cf/ibm-granite/granite-4.0-h-micro": _p(input=0.017, output=0.11, source="model page"),
    # pricing.mdx, "Other model pricing".
    "@cf/baai/bge-small-en-v1.5": _p(input=0.020),
    "@cf/baai/bge-base-en-v1.5": _p(input=0.067),
    "@cf/baai/bge-large-en-v1.5": _p(input=0.204),
    "@cf/meta/m2m100-1.2b": _p(input=0.342, output=0.342),
    "@cf/black-forest-labs/flux-1-schnell": _p(tile=0.0000528, step=0.0001056),
    "@cf/openai/whisper": _p(audio_minute=0.0005),
    "@cf/openai/whisper-large-v3-turbo": _p(audio_minute=0.00051, source="model page"),
    # Decisions: input tokens only (model pages 0ae61c0b7257, db7f9affd470).
    "@cf/cloudflare/clef": _p(input=0.24, source="model page"),
    "@cf/cloudflare/clef-flash": _p(input=0.09, source="model page"),
    "@cf/cloudflare/clef-omni": _p(input=0.15, source="model page"),
}

# For a model without a published price in the sources above: a listed model of the same kind
# (the dearer one where there is a choice, so budgets err on the safe side).
FALLBACK: dict[str, str] = {
    CHAT: "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    MODERATION: "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    EMBEDDINGS: "@cf/baai/bge-large-en-v1.5",
    TEXT_TO_IMAGE: "@cf/black-forest-labs/flux-1-schnell",
    IMAGE_TO_IMAGE: "@cf/black-forest-labs/flux-1-schnell",
    SPEECH_TO_TEXT: "@cf/openai/whisper-large-v3-turbo",
    # No text-to-speech price is on the pricing page: a speech minute priced like whisper's.
    TEXT_TO_SPEECH: "@cf/openai/whisper-large-v3-turbo",
    TRANSLATION: "@cf/meta/m2m100-1.2b",
    DECISION: "@cf/cloudflare/clef",
    STREAMING_SPEECH_TO_TEXT: "@cf/openai/whisper-large-v3-turbo",
}

CHARS_PER_TOKEN = 4
# Speech runs at about 150 words (~900 characters) a minute.
SPEECH_CHARS_PER_MINUTE = 900
# What a model writes at most when a request sets no max_tokens, where its page publishes a default
# (`max_tokens.default` in the model's input schema, cloudflare-docs workers-ai-models/<model>.json,
# at the commit named). The OpenAI-compatible newer models (glm, kimi, deepseek-v4, qwen3.8, nemotron,
# gemma-4) publish none.
DEFAULT_OUTPUT_TOKENS: dict[str, int] = {
    "@cf/meta/llama-3.1-8b-instruct-fast": 256,  # 1db3529d0198
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": 256,  # 158889159923
    "@cf/meta/llama-3.1-8b-instruct-fp8": 256,  # 0f6b7e628f05
    "@cf/meta/llama-4-scout-17b-16e-instruct": 256,  # 067fce3be998
    "@cf/meta/llama-3.2-11b-vision-instruct": 256,  # 0f82325bad9e
    "@cf/meta/llama-3.2-3b-instruct": 256,  # 33c660076c38
    "@cf/meta/llama-3.2-1b-instruct": 256,  # 37e2968208fd
    "@cf/openai/gpt-oss-120b": 256,  # 0ae61c0b7257
    "@cf/openai/gpt-oss-20b": 256,  # 2474c4c75653
    "@cf/aisingapore/gemma-sea-lion-v4-27b-it": 2000,  # 8cd2f796464f
    "@cf/qwen/qwen3-30b-a3b-fp8": 2000,  # 2474c4c75653
    "@cf/qwen/qwq-32b": 256,  # 8cd2f796464f
    "@cf/qwen/qwen2.5-coder-32b-instruct": 256,  # 20a026aeb4ab
    "@cf/mistralai/mistral-small-3.1-24b-instruct": 256,  # 1263bf7ba083
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": 256,  # 08f6e6119ec6
    "@cf/ibm-granite/granite-4.0-h-micro": 2000,  # 8889942df176
    "@cf/google/gemma-2b-it-lora": 256,  # 0f6b7e628f05
    "@cf/google/gemma-7b-it-lora": 256,  # 398302a4c9f9
    "@cf/mistral/mistral-7b-instruct-v0.2-lora": 256,  # 14f349e28b55
    "@cf/meta-llama/llama-2-7b-chat-hf-lora": 256,  # 077e0a3f8bbf
    "@cf/meta/llama-guard-3-8b": 256,  # 699648755985
}
# A model without a published default: a budgeted call is capped at (and reserves) this many.
UNSET_OUTPUT_TOKENS = 4096
# The most prompt tokens one image costs a vision model: Llama 3.2 Vision splits an image into up to
# 4 tiles of 1 601 tokens; Llama 4 and Mistral Small 3.1 spend fewer. Used as the bound, and as the
# estimate when the model reports no usage.
IMAGE_PROMPT_TOKENS = 4 * 1601
# The chat template's own tokens around each message (role headers, separators) and the prompt.
TEMPLATE_TOKENS_PER_MESSAGE = 8
TEMPLATE_TOKENS = 16
# A translation's output bound: twice its input's, plus a few.
TRANSLATION_OUTPUT_FACTOR = 2
TRANSLATION_OUTPUT_EXTRA = 16
# Audio bytes per second: the bound assumes the lowest speech bitrate in use (16 kbit/s), the
# estimate (a model that reports no duration) a typical one (128 kbit/s).
AUDIO_BOUND_BYTES_PER_SECOND = 2_000
AUDIO_TYPICAL_BYTES_PER_SECOND = 16_000
# Without a size: the largest upload the audio routes take.
AUDIO_MAX_BYTES = 25 * 1024 * 1024


def price_for(model_id: str) -> Price:
    if model_id in PRICES:
        return PRICES[model_id]
    fallback = FALLBACK[task_of(model_id)]
    base = PRICES[fallback]
    return Price(base.input, base.output, base.tile, base.step, base.audio_minute,
                 source=f"not published; priced as {fallback}")


def task_of(model_id: str) -> str:
    model = BY_ID.get(model_id)
    return model.task if model else CHAT


def neurons(usd: float) -> float:
    return usd / USD_PER_1000_NEURONS * 1000


def tokens(text) -> int:
    """An estimate of the tokens in a text (about 4 characters a token)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if isinstance(text, str) else 0


def tokens_bound(text) -> int:
    """The most tokens a text can be: its UTF-8 bytes (lone surrogates counted as 3)."""
    if not isinstance(text, str):
        return 0
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


# --- text generation ------------------------------------------------------------------------------

_IMAGE_PARTS = frozenset(("image_url", "image", "input_image"))


@dataclass
class Prompt:
    """What a text-generation call reads: its texts (measured, never stringified from parts), its
    images and its messages."""

    chars: int = 0
    bytes: int = 0
    images: int = 0
    messages: int = 0

    def add(self, text) -> None:
        if isinstance(text, str):
            self.chars += len(text)
            self.bytes += tokens_bound(text)

    def estimate(self) -> int:
        return math.ceil(self.chars / CHARS_PER_TOKEN) + self.images * IMAGE_PROMPT_TOKENS

    def bound(self) -> int:
        return (self.bytes + self.images * IMAGE_PROMPT_TOKENS + self.messages * TEMPLATE_TOKENS_PER_MESSAGE
                + TEMPLATE_TOKENS)


def prompt_of(inputs: dict) -> Prompt:
    prompt = Prompt()
    messages = inputs.get("messages")
    if isinstance(messages, list):
        for message in messages:
            prompt.messages += 1
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                prompt.add(content)
            elif isinstance(content, list):
                for part in content:
                    if not isinstance(part, dict):
                        continue
                    if part.get("type") in _IMAGE_PARTS:
                        prompt.images += 1
                    else:
                        prompt.add(part.get("text"))
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    function = call.get("function") if isinstance(call, dict) else None
                    if isinstance(function, dict):
                        prompt.add(function.get("name"))
                        arguments = function.get("arguments")
                        prompt.add(arguments if isinstance(arguments, str) else _json_text(arguments))
    for name in ("prompt", "system"):
        prompt.add(inputs.get(name))
    if inputs.get("image") is not None:  # Llama 3.2 Vision's one top-level image
        prompt.images += 1
    for name in ("tools", "functions"):
        if inputs.get(name):
            prompt.add(_json_text(inputs[name]))
    return prompt


def _json_text(value) -> str:
    # ASCII-escaped: at least as long as the UTF-8 bytes of the text it stands for. Values JSON has
    # no form for (none come from a parsed body) count as "".
    return json.dumps(value, ensure_ascii=True, default=lambda _: "")


def _requested_cap(inputs: dict) -> int | None:
    for name in ("max_tokens", "max_completion_tokens"):
        value = inputs.get(name)
        if type(value) is int and value > 0:
            return value
    return None


def output_cap(model_id: str, inputs: dict) -> int:
    """The most tokens the call may write: its max_tokens, else the model's published default,
    else UNSET_OUTPUT_TOKENS."""
    return _requested_cap(inputs) or DEFAULT_OUTPUT_TOKENS.get(model_id, UNSET_OUTPUT_TOKENS)


def has_output_cap(model_id: str, inputs: dict) -> bool:
    """Whether the call is bound to write at most output_cap() tokens: it says so, or the model's
    published default does."""
    return _requested_cap(inputs) is not None or model_id in DEFAULT_OUTPUT_TOKENS


def reported_tokens(usage) -> tuple[int, int] | None:
    """(prompt, completion) tokens as the model reported them, or None when it reported no prompt count."""
    prompt = _number(usage.get("prompt_tokens")) if isinstance(usage, dict) else None
    if prompt is None:
        return None
    completion = _number(usage.get("completion_tokens")) or 0
    return max(0, int(prompt)), max(0, int(completion))


def _answer_text(result: dict):
    answer = result.get("response")
    if answer is None and isinstance(result.get("choices"), list) and result["choices"]:
        choice = result["choices"][0] if isinstance(result["choices"][0], dict) else {}
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        answer = message.get("content") if message else choice.get("text")
        reasoning = message.get("reasoning_content") or message.get("reasoning") if message else None
        if isinstance(reasoning, str):
            answer = (answer if isinstance(answer, str) else "") + reasoning
    if answer is not None and not isinstance(answer, str):
        answer = _json_text(answer)  # JSON mode's parsed object
    return answer


def _text_generation_usd(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    return prompt_tokens * price.input / 1e6 + completion_tokens * price.output / 1e6


# --- the three questions --------------------------------------------------------------------------


def bound(model_id: str, inputs: dict, *, audio_bytes: int | None = None) -> float:
    """Neurons one Workers AI call can cost at most, known before it is made."""
    task = task_of(model_id)
    price = price_for(model_id)
    if task in (CHAT, MODERATION):
        usd = _text_generation_usd(price, prompt_of(inputs).bound(), output_cap(model_id, inputs))
    elif task == EMBEDDINGS:
        texts = _texts(inputs.get("text"))
        usd = sum(tokens_bound(t) + 2 for t in texts) * price.input / 1e6
    elif task == TRANSLATION:
        source = sum(tokens_bound(t) + 2 for t in _texts(inputs.get("text")))
        usd = _text_generation_usd(price, source, TRANSLATION_OUTPUT_FACTOR * source + TRANSLATION_OUTPUT_EXTRA)
    elif task == DECISION:
        usd = decision_tokens(inputs) * price.input / 1e6
    elif task == SPEECH_TO_TEXT:
        size = AUDIO_MAX_BYTES if audio_bytes is None else audio_bytes
        usd = size / AUDIO_BOUND_BYTES_PER_SECOND / 60 * price.audio_minute
    else:  # images and speech: known from the inputs alone
        return estimate(model_id, inputs, None)
    return neurons(usd)


def estimate(model_id: str, inputs: dict, result, *, audio_bytes: int | None = None) -> float:
    """Neurons one finished Workers AI call cost, from its inputs and its (non-streamed) result."""
    task = task_of(model_id)
    price = price_for(model_id)
    result = result if isinstance(result, dict) else {}
    if task in (CHAT, MODERATION):
        reported = reported_tokens(result.get("usage"))
        if reported is None:
            reported = prompt_of(inputs).estimate(), tokens(_answer_text(result))
        usd = _text_generation_usd(price, *reported)
    elif task == EMBEDDINGS:
        usd = sum(tokens(t) for t in _texts(inputs.get("text"))) * price.input / 1e6
    elif task == TRANSLATION:
        out = result.get("translated_text")
        if out is None and isinstance(result.get("translations"), list):
            out = "".join(t for t in result["translations"] if isinstance(t, str))
        usd = translation_usd(price, "".join(_texts(inputs.get("text"))), out if isinstance(out, str) else "")
    elif task == DECISION:
        usage = result.get("usage")
        reported = _number(usage.get("input_tokens")) if isinstance(usage, dict) else None
        usd = (decision_tokens(inputs) if reported is None else max(0, int(reported))) * price.input / 1e6
    elif task in (TEXT_TO_IMAGE, IMAGE_TO_IMAGE):
        steps, tiles = _image_units(inputs, BY_ID.get(model_id))
        usd = steps * price.step + tiles * price.tile
    elif task == SPEECH_TO_TEXT:
        usd = _audio_minutes(result, audio_bytes) * price.audio_minute
    else:  # text to speech: as long as the text takes to say, at least a second
        text = inputs.get("prompt") or inputs.get("text") or ""
        usd = max(len(text), SPEECH_CHARS_PER_MINUTE / 60) / SPEECH_CHARS_PER_MINUTE * price.audio_minute
    return neurons(usd)


def stream_estimate(model_id: str, inputs: dict, usage, completion_chars: Callable[[], int]) -> float:
    """Neurons a streamed text-generation call cost: the usage the stream reported (the last chunk
    carries it), else its prompt and the characters it relayed (counted only then)."""
    reported = reported_tokens(usage)
    if reported is None:
        reported = prompt_of(inputs).estimate(), math.ceil(completion_chars() / CHARS_PER_TOKEN)
    return neurons(_text_generation_usd(price_for(model_id), *reported))


def is_text_generation(model_id: str) -> bool:
    return task_of(model_id) in (CHAT, MODERATION)


# --- the other kinds --------------------------------------------------------------------------------


# Clef's media inputs: each image, audio clip or video counted like a chat image, at the most a
# vision prompt's image takes (the pages publish no per-item token count).
_DECISION_MEDIA = ("images", "audio", "videos")


def decision_tokens(inputs: dict) -> int:
    """At most the input tokens of a Clef call: its JSON text (state, questions) without the media,
    which are counted per item instead of by their base64's length."""
    media = sum(len(v) for k in _DECISION_MEDIA if isinstance(v := inputs.get(k), list))
    text = _json_text({k: v for k, v in inputs.items() if k not in _DECISION_MEDIA})
    return tokens_bound(text) + media * IMAGE_PROMPT_TOKENS + TEMPLATE_TOKENS


def _texts(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for t in value if isinstance(t, str)]
    return []


def _image_units(inputs: dict, model) -> tuple[int, int]:
    limits = model.limits if model else {}
    form = getattr(inputs.get("multipart"), "fields", None)  # FLUX.2 takes its options as form fields
    if isinstance(form, dict):
        inputs = {name: int(value) if isinstance(value, str) and value.isdigit() else value for name, value in form.items()}
    steps = inputs.get(limits.get("steps_param", "num_steps")) or limits["default_steps"]
    width, height = inputs.get("width") or 1024, inputs.get("height") or 1024
    tiles = math.ceil(width / 512) * math.ceil(height / 512)
    return int(steps), int(tiles)


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _audio_minutes(result: dict, audio_bytes: int | None) -> float:
    info = result.get("transcription_info")
    seconds = _number(info.get("duration")) if isinstance(info, dict) else None
    if seconds is None:
        metadata = result.get("metadata")  # nova-3 (Deepgram's shape)
        seconds = _number(metadata.get("duration")) if isinstance(metadata, dict) else None
    if seconds is None:
        words = result.get("words")
        last = words[-1] if isinstance(words, list) and words else None
        seconds = _number(last.get("end")) if isinstance(last, dict) else None
    if seconds is None and audio_bytes is not None:
        seconds = audio_bytes / AUDIO_TYPICAL_BYTES_PER_SECOND
    if seconds is None:
        return 1.0  # unknown length: one billed minute
    return max(0.0, seconds) / 60


def translation_usd(price: Price, source: str, translated: str) -> float:
    return tokens(source) * price.input / 1e6 + tokens(translated) * price.output / 1e6


def translation_neurons(model_id: str, source: str, translated: str) -> float:
    return neurons(translation_usd(price_for(model_id), source, translated))
