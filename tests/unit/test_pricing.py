"""Pricing, held against Cloudflare's published prices. Every expected figure is written out from the
price list by hand (USD per unit, and $0.011 per 1 000 neurons), never taken from the code under test,
and compared to a part in a billion."""

from __future__ import annotations

import pytest

from gateway import pricing
from gateway.catalog import IMAGE_TO_IMAGE, MODELS, TEXT_TO_IMAGE
from gateway.platform import MultipartForm

CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"  # $0.045 / $0.384 per M tokens
LLAMA_70B = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # $0.293 / $2.253
VISION = "@cf/meta/llama-3.2-11b-vision-instruct"  # $0.049 / $0.676
GLM = "@cf/zai-org/glm-4.7-flash"  # no published price (priced as the 70b), no published default max_tokens
GUARD = "@cf/meta/llama-guard-3-8b"
M2M = "@cf/meta/m2m100-1.2b"  # $0.342 in and out
FLUX = "@cf/black-forest-labs/flux-1-schnell"  # $0.0001056 a step, $0.0000528 a 512x512 tile
KLEIN = "@cf/black-forest-labs/flux-2-klein-4b"  # priced as flux-1-schnell; 4 steps, no steps input
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"  # priced as flux-1-schnell; `num_steps`, 20 by default
WHISPER = "@cf/openai/whisper-large-v3-turbo"  # $0.00051 an audio minute
MELO = "@cf/myshell-ai/melotts"  # priced as a whisper-large-v3-turbo minute
BGE_M3 = "@cf/baai/bge-m3"  # priced as bge-large: $0.204


def n(usd: float) -> float:
    """Neurons for a price in USD, as the pricing page defines them: $0.011 per 1 000."""
    return usd / 0.011 * 1000


def same(value: float) -> object:
    return pytest.approx(value, rel=1e-9)


def user(text) -> dict:
    return {"messages": [{"role": "user", "content": text}]}


MINUTE = n(0.00051)  # a whisper-large-v3-turbo audio minute


def test_the_published_figures():
    assert pricing.neurons(1.0) == same(90909.0909090909)
    assert pricing.FREE_NEURONS_PER_DAY == 10_000
    assert pricing.PRICING_PAGE == "https://developers.cloudflare.com/workers-ai/platform/pricing/"


def test_every_catalog_model_has_a_price_and_says_where_it_comes_from():
    for model in MODELS:
        price = pricing.price_for(model.id)
        assert price.source
        assert any((price.input, price.output, price.tile, price.step, price.audio_minute)), model.id
        if model.task in (TEXT_TO_IMAGE, IMAGE_TO_IMAGE):
            assert model.limits["default_steps"] >= 1, model.id
    assert pricing.price_for(GLM).source == f"not published; priced as {LLAMA_70B}"
    assert pricing.price_for(CHAT).source == "pricing page (as llama-3.1-8b-instruct-fp8-fast)"
    assert pricing.price_for(LLAMA_70B).source == "pricing page"
    assert pricing.price_for("@cf/someone/unknown-model").input == 0.293  # an unknown id is priced as chat
    assert pricing.price_for(SDXL).step == 0.0001056 and pricing.price_for(MELO).audio_minute == 0.00051


# --- after the call ------------------------------------------------------------------------------


def test_chat_with_reported_usage():
    result = {"response": "ok", "usage": {"prompt_tokens": 1000, "completion_tokens": 2000}}
    assert pricing.estimate(CHAT, user("hi"), result) == same(n((1000 * 0.045 + 2000 * 0.384) / 1e6))
    shaped = {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 1000, "completion_tokens": 2000}}
    assert pricing.estimate(CHAT, user("hi"), shaped) == same(n((1000 * 0.045 + 2000 * 0.384) / 1e6))
    # Only the prompt reported: the completion counts nothing.
    assert pricing.estimate(CHAT, user("hi"), {"usage": {"prompt_tokens": 1000}}) == same(n(1000 * 0.045 / 1e6))
    # Nonsense is not a count: a boolean, a negative number.
    assert pricing.reported_tokens({"prompt_tokens": True, "completion_tokens": 5}) is None
    assert pricing.reported_tokens({"prompt_tokens": -3, "completion_tokens": -1}) == (0, 0)
    assert pricing.reported_tokens({"prompt_tokens": 7.9, "completion_tokens": "5"}) == (7, 0)
    assert pricing.reported_tokens(None) is None and pricing.reported_tokens({"total_tokens": 5}) is None


def test_chat_without_usage_counts_text_four_characters_a_token():
    # prompt 400 characters → 100 tokens, answer 40 → 10
    assert pricing.estimate(CHAT, user("y" * 400), {"response": "x" * 40}) == same(n((100 * 0.045 + 10 * 0.384) / 1e6))
    # 401 characters are 101 tokens (rounded up)
    assert pricing.estimate(CHAT, user("y" * 401), {"response": "x" * 40}) == same(n((101 * 0.045 + 10 * 0.384) / 1e6))
    shaped = {"choices": [{"message": {"content": "x" * 40, "reasoning_content": "r" * 40}}]}
    assert pricing.estimate(CHAT, user("y" * 400), shaped) == same(n((100 * 0.045 + 20 * 0.384) / 1e6))
    shaped = {"choices": [{"message": {"content": None, "reasoning": "r" * 40}}]}
    assert pricing.estimate(CHAT, user("y" * 400), shaped) == same(n((100 * 0.045 + 10 * 0.384) / 1e6))
    completion = {"choices": [{"text": "x" * 80}]}  # qwen3's text_completion shape
    assert pricing.estimate(CHAT, user("y" * 400), completion) == same(n((100 * 0.045 + 20 * 0.384) / 1e6))
    json_mode = {"response": {"answer": "x" * 26}}  # {"answer": "xx…"}: 12 + 26 + 2 = 40 characters of JSON
    assert pricing.estimate(CHAT, user("y" * 400), json_mode) == same(n((100 * 0.045 + 10 * 0.384) / 1e6))
    # No usage and no text: the prompt alone.
    assert pricing.estimate(CHAT, user("y" * 400), {}) == same(n(100 * 0.045 / 1e6))
    assert pricing.estimate(CHAT, user("y" * 400), None) == same(n(100 * 0.045 / 1e6))
    assert pricing.estimate(CHAT, {"prompt": "y" * 400, "system": "z" * 40}, None) == same(n(110 * 0.045 / 1e6))


def test_an_image_in_a_prompt_is_image_tokens_never_its_text():
    for kind in ("image_url", "image", "input_image"):
        image = {"type": kind, kind: {"url": "data:image/png;base64," + "A" * 1_000_000}}
        inputs = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a" * 8}, image]}]}
        # 2 text tokens + 6 404 image tokens, 1 answer token
        assert pricing.estimate(VISION, inputs, {"response": "b" * 4}) == same(n((6406 * 0.049 + 0.676) / 1e6)), kind
    top = {**user("a" * 8), "image": [0] * 10}  # Llama 3.2 Vision's one top-level image
    assert pricing.estimate(VISION, top, {"response": "b" * 4}) == same(n((6406 * 0.049 + 0.676) / 1e6))


def test_a_stream_is_priced_from_its_usage_else_from_its_text():
    usage = {"prompt_tokens": 20, "completion_tokens": 3000}
    assert pricing.stream_estimate(LLAMA_70B, user("hi"), usage, lambda: 1 / 0) == same(n((20 * 0.293 + 3000 * 2.253) / 1e6))
    # No usage: "hi" is 1 prompt token, 3000 characters 750 tokens, 3001 are 751.
    assert pricing.stream_estimate(LLAMA_70B, user("hi"), None, lambda: 3000) == same(n((0.293 + 750 * 2.253) / 1e6))
    assert pricing.stream_estimate(LLAMA_70B, user("hi"), {"total_tokens": 5}, lambda: 3001) == same(n((0.293 + 751 * 2.253) / 1e6))


def test_moderation_is_priced_as_text_generation():
    result = {"response": "safe", "usage": {"prompt_tokens": 100, "completion_tokens": 1}}
    assert pricing.estimate(GUARD, user("x"), result) == same(n((100 * 0.293 + 2.253) / 1e6))
    assert pricing.is_text_generation(GUARD) and pricing.is_text_generation(CHAT) and not pricing.is_text_generation(M2M)


def test_images_are_steps_and_tiles():
    step, tile = 0.0001056, 0.0000528
    assert pricing.estimate(FLUX, {"prompt": "p"}, None) == same(n(4 * step + 4 * tile))  # 4 steps (default), 1024²
    assert pricing.estimate(FLUX, {"prompt": "p", "steps": 8, "width": 512, "height": 512}, None) == same(n(8 * step + tile))
    assert pricing.estimate(FLUX, {"prompt": "p", "steps": 8, "width": 513, "height": 512}, None) == same(n(8 * step + 2 * tile))
    assert pricing.estimate(FLUX, {"prompt": "p", "steps": 8, "width": 512, "height": 513}, None) == same(n(8 * step + 2 * tile))
    # SDXL: its steps are `num_steps`, 20 unless told.
    assert pricing.estimate(SDXL, {"prompt": "p"}, None) == same(n(20 * step + 4 * tile))
    assert pricing.estimate(SDXL, {"prompt": "p", "num_steps": 10}, None) == same(n(10 * step + 4 * tile))
    # FLUX.2 takes its size as form fields: 4 steps, 1920 × 1080 = 4 × 3 tiles
    form = {"multipart": MultipartForm({"prompt": "p", "width": "1920", "height": "1080"})}
    assert pricing.estimate(KLEIN, form, None) == same(n(4 * step + 12 * tile))
    assert pricing.bound(FLUX, {"prompt": "p"}) == same(n(4 * step + 4 * tile))


def test_audio_minutes_from_the_answer_else_from_the_upload():
    assert pricing.estimate(WHISPER, {}, {"transcription_info": {"duration": 120}}) == same(2 * MINUTE)
    assert pricing.estimate(WHISPER, {}, {"words": [{"end": 3.0}, {"end": 30.0}]}) == same(MINUTE / 2)
    assert pricing.estimate(WHISPER, {}, {"metadata": {"duration": 90}}) == same(1.5 * MINUTE)
    assert pricing.estimate(WHISPER, {}, {"transcription_info": {"duration": -5}}) == 0
    # Not a length: a boolean; the next source is asked.
    assert pricing.estimate(WHISPER, {}, {"transcription_info": {"duration": True}, "words": [{"end": 6.0}]}) == same(MINUTE / 10)
    # No length in the answer: 960 000 bytes at 16 000 bytes a second (128 kbit/s) is a minute.
    assert pricing.estimate(WHISPER, {}, {"text": "x"}, audio_bytes=960_000) == same(MINUTE)
    assert pricing.estimate(WHISPER, {}, {"text": "x", "words": []}, audio_bytes=480_000) == same(MINUTE / 2)
    assert pricing.estimate(WHISPER, {}, {"text": "x"}) == same(MINUTE)  # nothing known: a minute
    # The bound: 1 200 000 bytes at 2 000 bytes a second (16 kbit/s) is ten minutes; without a size, 25 MiB.
    assert pricing.bound(WHISPER, {}, audio_bytes=1_200_000) == same(10 * MINUTE)
    assert pricing.bound(WHISPER, {}) == same(25 * 1024 * 1024 / 2000 / 60 * MINUTE)


def test_speech_is_priced_by_its_length():
    assert pricing.estimate(MELO, {"prompt": "x" * 1800}, None) == same(2 * MINUTE)  # 900 characters a minute
    assert pricing.estimate(MELO, {"text": "x" * 450}, None) == same(MINUTE / 2)
    assert pricing.estimate(MELO, {"prompt": "hi"}, None) == same(MINUTE / 60)  # at least a second
    assert pricing.estimate(MELO, {"prompt": "x" * 16}, None) == same(16 / 900 * MINUTE)
    assert pricing.bound(MELO, {"prompt": "x" * 1800}) == same(2 * MINUTE)


def test_embeddings_and_translation():
    # 100 characters → 25 tokens, 2 → 1
    assert pricing.estimate(BGE_M3, {"text": ["abcd" * 25, "xy"]}, None) == same(n(26 * 0.204 / 1e6))
    assert pricing.estimate(BGE_M3, {"text": "abcd" * 25}, None) == same(n(25 * 0.204 / 1e6))
    assert pricing.estimate(BGE_M3, {}, None) == 0 and pricing.bound(BGE_M3, {"text": [5]}) == 0
    # Bound: UTF-8 bytes plus two per text: 102 + 4 = 106 tokens
    assert pricing.bound(BGE_M3, {"text": ["abcd" * 25, "xy"]}) == same(n(106 * 0.204 / 1e6))
    # m2m100: 12 characters in → 3 tokens, 11 out → 3
    assert pricing.estimate(M2M, {"text": "Hello world!"}, {"translated_text": "Hallo Welt!"}) == same(n(6 * 0.342 / 1e6))
    # translated_text wins over a list beside it.
    assert pricing.estimate(M2M, {"text": "Hello world!"}, {"translated_text": "Hallo Welt!", "translations": ["x" * 400]}) \
        == same(n(6 * 0.342 / 1e6))
    # indictrans2 (priced as m2m100) answers a list: 3 tokens in, 13 characters → 4 out
    assert pricing.estimate("@cf/ai4bharat/indictrans2-en-indic-1B", {"text": ["Hello world!"]},
                            {"translations": ["नमस्ते दुनिया"]}) == same(n(7 * 0.342 / 1e6))
    assert pricing.translation_neurons(M2M, "Hello world!", "Hallo Welt!") == same(n(6 * 0.342 / 1e6))
    # Bound: 12 + 2 = 14 tokens in, 2 × 14 + 16 = 44 out
    assert pricing.bound(M2M, {"text": "Hello world!"}) == same(n(58 * 0.342 / 1e6))


# --- before the call -------------------------------------------------------------------------------


def test_the_bound_counts_utf8_bytes_template_tokens_and_the_output_cap():
    # "héllo" is 6 bytes; one message: 6 + 8 + 16 = 30 prompt tokens; 256 out (the published default)
    assert pricing.bound(CHAT, user("héllo")) == same(n((30 * 0.045 + 256 * 0.384) / 1e6))
    assert pricing.bound(CHAT, {**user("héllo"), "max_tokens": 1000}) == same(n((30 * 0.045 + 1000 * 0.384) / 1e6))
    assert pricing.bound(CHAT, {**user("héllo"), "max_completion_tokens": 1000}) == same(n((30 * 0.045 + 1000 * 0.384) / 1e6))
    assert pricing.prompt_of(user("\ud800")).bound() == 3 + 8 + 16  # a lone surrogate: 3 bytes
    assert pricing.prompt_of(user("日本")).bound() == 6 + 8 + 16
    assert pricing.prompt_of({"prompt": "abc", "system": "de"}).bound() == 5 + 16
    inputs = {"messages": [{"role": "system", "content": "ab"},
                           {"role": "user", "content": [{"type": "text", "text": "cd"}, {"type": "image_url", "image_url": {"url": "u"}}]}]}
    assert pricing.prompt_of(inputs).bound() == 4 + 16 + 16 + 6404
    assert pricing.prompt_of({"messages": ["not a message", {"content": [7, {"type": "text"}]}]}).bound() == 16 + 16


def test_the_bound_counts_tools_and_tool_calls():
    tools = [{"type": "function", "function": {"name": "f", "description": "é", "parameters": {"type": "object"}}}]
    text = '[{"type": "function", "function": {"name": "f", "description": "\\u00e9", "parameters": {"type": "object"}}}]'
    assert pricing.prompt_of({**user(""), "tools": tools}).bound() == len(text) + 8 + 16
    assert pricing.prompt_of({**user(""), "functions": tools}).bound() == len(text) + 8 + 16
    calls = {"messages": [{"role": "assistant", "content": None,
                           "tool_calls": [{"id": "c", "type": "function", "function": {"name": "get", "arguments": '{"a":1}'}}]}]}
    assert pricing.prompt_of(calls).bound() == 3 + 7 + 8 + 16
    objects = {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "get", "arguments": {"a": 1}}}, "x"]}]}
    assert pricing.prompt_of(objects).bound() == 3 + len('{"a": 1}') + 8 + 16


def test_without_a_published_default_the_output_bound_is_4096():
    # 26 prompt tokens ("hi": 2 + 8 + 16), 4096 out, at the 70b's prices
    assert pricing.bound(GLM, user("hi")) == same(n((26 * 0.293 + 4096 * 2.253) / 1e6))
    assert pricing.output_cap(GLM, user("hi")) == 4096 and not pricing.has_output_cap(GLM, user("hi"))
    assert pricing.output_cap(CHAT, user("hi")) == 256 and pricing.has_output_cap(CHAT, user("hi"))
    assert pricing.output_cap("@cf/qwen/qwen3-30b-a3b-fp8", user("hi")) == 2000
    assert pricing.has_output_cap(GLM, {"max_tokens": 10}) and pricing.output_cap(GLM, {"max_tokens": 10}) == 10
    assert pricing.has_output_cap(GLM, {"max_completion_tokens": 5}) and pricing.output_cap(GLM, {"max_completion_tokens": 5}) == 5
    assert pricing.output_cap(GLM, {"max_tokens": 1}) == 1
    # A nonsense max_tokens is no cap.
    for nonsense in (True, 0, -5, 2.5, "100"):
        assert pricing.output_cap(GLM, {"max_tokens": nonsense}) == 4096, nonsense
        assert not pricing.has_output_cap(GLM, {"max_tokens": nonsense}), nonsense


def test_the_bound_is_never_below_the_estimate():
    inputs = {**user("Grüße, wie geht es dir? " * 40), "max_tokens": 300}
    answer = {"response": "x" * 1200}  # 300 tokens, the most max_tokens lets through
    assert pricing.bound(CHAT, inputs) >= pricing.estimate(CHAT, inputs, answer)
    for model, inputs, result in (
        (BGE_M3, {"text": ["ünïcödé " * 30]}, None),
        (M2M, {"text": "Hello world, how are you?"}, {"translated_text": "Hallo Welt, wie geht es dir?"}),
        (FLUX, {"prompt": "p", "steps": 8}, None),
        (WHISPER, {}, {"transcription_info": {"duration": 600}}),
    ):
        assert pricing.bound(model, inputs, audio_bytes=1_200_000) >= pricing.estimate(model, inputs, result), model


def test_token_counts():
    assert pricing.tokens("") == 0 and pricing.tokens(None) == 0 and pricing.tokens("abcd") == 1 and pricing.tokens("abcde") == 2
    assert pricing.tokens_bound("abc") == 3 and pricing.tokens_bound("é") == 2 and pricing.tokens_bound(None) == 0


# --- Clef's decisions: $0.24 (clef), $0.09 (clef-flash), $0.15 (clef-omni) per M input tokens, nothing per output token


CLEF = "@cf/cloudflare/clef"
CLEF_FLASH = "@cf/cloudflare/clef-flash"
CLEF_OMNI = "@cf/cloudflare/clef-omni"


@pytest.mark.parametrize("model_id, usd_per_m", [(CLEF, 0.24), (CLEF_FLASH, 0.09), (CLEF_OMNI, 0.15)])
def test_a_decision_is_priced_from_the_input_tokens_it_reports(model_id, usd_per_m):
    inputs = {"model": "clef", "state": "s", "questions": {"q": {"type": "noul", "instructions": "?"}}}
    result = {"model": "clef", "answers": {}, "usage": {"input_tokens": 1_000_000, "output_tokens": 999_999}}
    assert pricing.estimate(model_id, inputs, result) == pytest.approx(n(usd_per_m), rel=1e-9)


def test_a_decision_without_usage_is_priced_from_its_text_and_media():
    # {"model": "clef", "state": "abcd", "questions": {}} is 51 ASCII characters of JSON: at most 51
    # tokens, 16 for the template, and 6 404 (4 x 1 601) for each image or audio clip.
    inputs = {"model": "clef", "state": "abcd", "questions": {}}
    assert len('{"model": "clef", "state": "abcd", "questions": {}}') == 51
    assert pricing.estimate(CLEF, inputs, {}) == pytest.approx(n((51 + 16) * 0.24 / 1e6), rel=1e-9)
    with_media = {**inputs, "images": ["data:image/png;base64," + "A" * 40_000, "data:,"], "audio": ["data:audio/wav;base64,AA"],
                  "videos": ["data:video/mp4;base64,AA"]}
    assert pricing.bound(CLEF_OMNI, with_media) == pytest.approx(n((51 + 16 + 4 * 6404) * 0.15 / 1e6), rel=1e-9)
    assert pricing.bound(CLEF, inputs) == pricing.estimate(CLEF, inputs, {"usage": {"output_tokens": 5}})


def test_a_negative_reported_count_costs_nothing():
    inputs = {"model": "clef", "state": "s", "questions": {}}
    assert pricing.estimate(CLEF, inputs, {"usage": {"input_tokens": -5, "output_tokens": 0}}) == 0


def test_an_unknown_decision_model_is_priced_as_the_dearest_clef():
    assert pricing.FALLBACK[pricing.DECISION] == CLEF and pricing.PRICES[CLEF].input == 0.24
