"""Today's models wired into their endpoints, and the OpenAI names users paste."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest


def test_openai_names_resolve_by_kind_and_family(client):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-2024-08-06", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-model"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert (raw.headers["x-requested-model"], raw.headers["x-model-resolution"]) == ("gpt-4o-2024-08-06", "family")
    for name, model in (("gpt-5", "@cf/openai/gpt-oss-120b"), ("o4-mini", "@cf/openai/gpt-oss-20b"),
                        ("gpt-4-turbo", "@cf/meta/llama-3.3-70b-instruct-fp8-fast")):
        raw = client.chat.completions.with_raw_response.create(model=name, messages=[{"role": "user", "content": "hi"}])
        assert (raw.headers["x-model"], raw.headers["x-model-resolution"]) == (model, "alias")
    with pytest.raises(openai.BadRequestError) as wrong_kind:
        client.chat.completions.create(model="gpt-4o-transcribe", messages=[{"role": "user", "content": "hi"}])
    assert wrong_kind.value.code == "model_task_mismatch"


def test_gpt_4o_transcribe_is_nova_3(client):
    raw = client.audio.transcriptions.with_raw_response.create(model="gpt-4o-transcribe", file=("clip.wav", b"RIFF" + b"\x00" * 60, "audio/wav"))
    assert raw.headers["x-model"] == "@cf/deepgram/nova-3"
    assert raw.parse().text == "Emulated transcript of 64 bytes of audio."
    verbose = client.audio.transcriptions.create(model="@cf/deepgram/nova-3", file=("clip.wav", b"\x00" * 8, "audio/wav"),
                                                 response_format="verbose_json", timestamp_granularities=["word"])
    assert verbose.words[0].word == "Emulated" and verbose.language == "english"
    mini = client.audio.transcriptions.with_raw_response.create(model="gpt-4o-mini-transcribe", file=("clip.wav", b"\x00" * 8, "audio/wav"))
    assert mini.headers["x-model"] == "@cf/openai/whisper-large-v3-turbo"
    with pytest.raises(openai.BadRequestError) as cannot:
        client.audio.translations.create(model="gpt-4o-transcribe", file=("clip.wav", b"\x00" * 8, "audio/wav"))
    assert cannot.value.code == "model_cannot_translate"


def test_nova_3_gets_the_audio_as_body_and_content_type(scripted_gateway, httpserver):
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json(
        {"results": {"channels": [{"alternatives": [{"transcript": "hello world", "confidence": 0.9,
                                                      "words": [{"word": "hello", "start": 0, "end": 0.4}]}]}]}})
    response = httpx.post(f"{scripted_gateway.url}/v1/audio/transcriptions", headers={"Authorization": f"Bearer {scripted_gateway.api_key}"},
                          data={"model": "gpt-4o-transcribe", "language": "en"}, files={"file": ("a.mp3", b"\xff\xfb" + b"\x00" * 98, "audio/mpeg")})
    assert response.status_code == 200 and response.json() == {"text": "hello world"}
    sent = json.loads(httpserver.log[-1][0].data)
    assert sent["model"] == "@cf/deepgram/nova-3"
    assert sent["inputs"]["audio"] == {"contentType": "audio/mpeg", "size": 100}
    assert sent["inputs"]["language"] == "en"


def test_aura_2_speaks(client, http, auth_headers):
    raw = client.audio.speech.with_raw_response.create(model="gpt-4o-mini-tts", voice="alloy", input="Hello there")
    assert raw.headers["x-model"] == "@cf/deepgram/aura-2-en"
    assert raw.headers["content-type"] == "audio/mpeg" and raw.content.startswith(b"\xff\xfb")
    spanish = http.post("/v1/audio/speech", headers=auth_headers,
                        json={"model": "@cf/deepgram/aura-2-es", "input": "Hola", "voice": "celeste", "response_format": "wav"})
    assert spanish.status_code == 200 and spanish.headers["content-type"] == "audio/wav"


def test_plamo_embeddings(client):
    result = client.embeddings.create(model="@cf/pfnet/plamo-embedding-1b", input=["こんにちは", "世界"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 2048


def test_flux_2_images_through_multipart(client, http, auth_headers):
    for model in ("@cf/black-forest-labs/flux-2-dev", "@cf/black-forest-labs/flux-2-klein-4b", "@cf/black-forest-labs/flux-2-klein-9b"):
        result = client.images.generate(model=model, prompt="a red fox", size="1024x768", response_format="b64_json")
        assert base64.b64decode(result.data[0].b64_json).startswith(b"\xff\xd8\xff")
    too_big = http.post("/v1/images/generations", headers=auth_headers,
                        json={"model": "@cf/black-forest-labs/flux-2-dev", "prompt": "x", "size": "2048x2048"})
    assert too_big.status_code == 400 and too_big.json()["error"]["param"] == "size"


def test_flux_2_form_fields_reach_the_model(scripted_gateway, httpserver):
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 16).decode()
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json({"image": jpeg})
    response = httpx.post(f"{scripted_gateway.url}/v1/images/generations", headers={"Authorization": f"Bearer {scripted_gateway.api_key}"},
                          json={"model": "@cf/black-forest-labs/flux-2-klein-9b", "prompt": "a fox", "size": "512x768", "seed": 7,
                                "steps": 4, "negative_prompt": "blur", "response_format": "b64_json"}, timeout=30)
    assert response.status_code == 200
    sent = json.loads(httpserver.log[-1][0].data)["inputs"]
    content_type = sent["multipart"]["contentType"]
    assert content_type.startswith("multipart/form-data") and "boundary=" in content_type
    assert sent["multipart"]["fields"] == {"prompt": "a fox", "width": 512, "height": 768, "seed": 7}
    # klein's steps are fixed and it has no negative prompt: said, not silently dropped.
    assert "negative_prompt" in response.headers["x-dropped-params"]


def test_indic_targets_from_english_go_to_indictrans2(http, auth_headers):
    hindi = http.post("/translate", headers=auth_headers, json={"text": "Good morning", "source_lang": "EN", "target_lang": "HI"})
    assert hindi.status_code == 200
    assert hindi.headers["x-model"] == "@cf/ai4bharat/indictrans2-en-indic-1B"
    assert hindi.headers["x-model-resolution"] == "language"
    assert hindi.json()["data"] == "[en->hin_Deva] Good morning"
    # A language only indictrans2 serves (Sanskrit), by name, with the source detected as English.
    sanskrit = http.post("/translate", headers=auth_headers, json={"text": "The weather is nice today", "target_lang": "sanskrit"})
    assert sanskrit.status_code == 200 and sanskrit.json()["data"] == "[en->san_Deva] The weather is nice today"
    # Not from English: m2m100, which has Hindi.
    german = http.post("/translate", headers=auth_headers, json={"text": "Guten Morgen", "source_lang": "DE", "target_lang": "HI"})
    assert german.headers["x-model"] == "@cf/meta/m2m100-1.2b" and german.json()["data"] == "[de->hi] Guten Morgen"
    # Sanskrit from German: no model serves it.
    none = http.post("/translate", headers=auth_headers, json={"text": "Guten Morgen", "source_lang": "DE", "target_lang": "SA"})
    assert none.status_code == 400 and none.json()["code"] == 400
    # A model named explicitly is respected: m2m100 for English → Hindi.
    named = http.post("/translate", headers=auth_headers,
                      json={"text": "Good morning", "source_lang": "EN", "target_lang": "HI", "model": "@cf/meta/m2m100-1.2b"})
    assert named.headers["x-model"] == "@cf/meta/m2m100-1.2b"


def test_paid_plan_models_are_served_and_flagged(http, auth_headers):
    response = http.post("/v1/chat/completions", headers=auth_headers,
                         json={"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200 and response.headers["x-model"] == "@cf/moonshotai/kimi-k2.6"
    retired = http.post("/v1/chat/completions", headers=auth_headers,
                        json={"model": "@cf/moonshotai/kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]})
    assert (retired.headers["x-model"], retired.headers["x-model-resolution"]) == ("@cf/moonshotai/kimi-k2.6", "retired")
    lora = http.post("/v1/chat/completions", headers=auth_headers,
                     json={"model": "@cf/google/gemma-2b-it-lora", "messages": [{"role": "user", "content": "hi"}]})
    assert lora.status_code == 200 and lora.headers["x-model"] == "@cf/google/gemma-2b-it-lora"
    assert "x-model-resolution" not in lora.headers


NEW_CHAT_MODELS = ["@cf/zai-org/glm-5.2", "@cf/zai-org/glm-5.3", "@cf/zai-org/glm-5.3-flash", "@cf/moonshotai/kimi-k2.7-code",
                   "@cf/deepseek-ai/deepseek-v4-flash-0731", "@cf/deepseek-ai/deepseek-v4-pro-0813", "@cf/qwen/qwen3.8-27b",
                   "@cf/nvidia/nemotron-3-120b-a12b", "@cf/aisingapore/gemma-sea-lion-v4-27b-it", "@cf/meta/llama-3.1-8b-instruct-fp8",
                   "@cf/mistral/mistral-7b-instruct-v0.2-lora", "@cf/meta-llama/llama-2-7b-chat-hf-lora", "@cf/google/gemma-7b-it-lora"]


@pytest.mark.parametrize("model", NEW_CHAT_MODELS)
def test_new_chat_models_answer_within_their_contracts(client, model):
    # The strict emulator checks every call against the model's contract (5006 otherwise).
    result = client.chat.completions.create(model=model, messages=[{"role": "system", "content": "be brief"},
                                                                   {"role": "user", "content": "hi"}],
                                            max_tokens=32, temperature=0.5, top_p=0.9, seed=3)
    assert result.model == model and "hi" in result.choices[0].message.content
    chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_flux_2_takes_a_chat_image_as_its_reference_image(scripted_gateway, httpserver):
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 16).decode()
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json({"image": jpeg})
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    content = [{"type": "text", "text": "the same fox, in winter"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}]
    response = httpx.post(f"{scripted_gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {scripted_gateway.api_key}"},
                          json={"model": "@cf/black-forest-labs/flux-2-dev", "messages": [{"role": "user", "content": content}]}, timeout=30)
    assert response.status_code == 200, response.text
    fields = json.loads(httpserver.log[-1][0].data)["inputs"]["multipart"]["fields"]
    assert fields["prompt"] == "the same fox, in winter" and fields["steps"] == 20
    assert fields["input_image_0"]["size"] == len(png)
