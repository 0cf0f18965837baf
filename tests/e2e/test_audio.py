"""Audio through the worker: whisper transcriptions/translations in every response_format, the size limits, speech."""

from __future__ import annotations

import base64
import json
import os

import httpx
import pytest

TURBO = "@cf/openai/whisper-large-v3-turbo"  # audio as base64
WHISPER = "@cf/openai/whisper"  # audio as an array of byte values
MB = 1024 * 1024


def transcribe(http, auth_headers, data: bytes, model=TURBO, path="/v1/audio/transcriptions", filename="a.mp3",
               content_type="audio/mpeg", **fields):
    files = {"file": (filename, data, content_type)} if data is not None else None
    return http.post(path, headers=auth_headers, files=files, data={"model": model, **fields} if model else fields)


@pytest.mark.parametrize("model", [TURBO, WHISPER, "whisper-1"])
def test_json_and_text(http, auth_headers, model):
    response = transcribe(http, auth_headers, b"\x00" * 1000, model)
    assert response.status_code == 200, response.text
    assert response.json() == {"text": "Emulated transcript of 1000 bytes of audio."}
    text = transcribe(http, auth_headers, b"\x00" * 1000, model, response_format="text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "Emulated transcript of 1000 bytes of audio.\n"


@pytest.mark.parametrize("model", [TURBO, WHISPER])
def test_srt_and_vtt(http, auth_headers, model):
    srt = transcribe(http, auth_headers, b"\x01" * 10, model, response_format="srt")
    assert srt.headers["content-type"].startswith("application/x-subrip")
    # turbo gives one segment; whisper only words, cut into cues of up to ten words.
    assert srt.text == "1\n00:00:00,000 --> 00:00:03,400\nEmulated transcript of 10 bytes of audio.\n"
    vtt = transcribe(http, auth_headers, b"\x01" * 10, model, response_format="vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n00:00:00.000 --> ")


@pytest.mark.parametrize("model, language", [(TURBO, "english"), (WHISPER, "unknown")])
def test_verbose_json(http, auth_headers, model, language):
    response = transcribe(http, auth_headers, b"\x02" * 10, model, response_format="verbose_json")
    body = response.json()
    assert body["task"] == "transcribe" and body["language"] == language
    assert body["duration"] == pytest.approx(3.4)
    assert body["text"] == "Emulated transcript of 10 bytes of audio."
    assert body["segments"][0]["start"] == 0 and body["segments"][-1]["end"] == pytest.approx(3.4)
    assert [w["word"] for w in body["words"]][:2] == ["Emulated", "transcript"]


def test_translations_use_the_translate_task(http, auth_headers):
    response = transcribe(http, auth_headers, b"\x03" * 20, TURBO, path="/v1/audio/translations", response_format="verbose_json")
    body = response.json()
    assert body["task"] == "translate" and body["language"] == "english"
    assert body["text"] == "Emulated English translation of 20 bytes of audio."
    refused = transcribe(http, auth_headers, b"\x03" * 20, WHISPER, path="/v1/audio/translations")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "model_cannot_translate"


def test_the_25_mb_boundary(http, auth_headers):
    exactly = transcribe(http, auth_headers, b"\x00" * (25 * MB), TURBO)
    assert exactly.status_code == 200, exactly.text
    assert exactly.json()["text"] == f"Emulated transcript of {25 * MB} bytes of audio."
    over = transcribe(http, auth_headers, b"\x00" * (25 * MB + 1), TURBO)
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "file_too_large" and "26214400" in over.json()["error"]["message"]
    huge = transcribe(http, auth_headers, b"\x00" * (30 * MB), TURBO)
    assert huge.status_code == 413


def test_byte_array_models_have_a_lower_limit(http, auth_headers):
    assert transcribe(http, auth_headers, b"\x00" * (4 * MB), WHISPER).status_code == 200
    over = transcribe(http, auth_headers, b"\x00" * (4 * MB + 1), WHISPER)
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "file_too_large" and WHISPER in over.json()["error"]["message"]


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"data": None}, "file"),
        ({"data": b""}, "file"),
        ({"data": b"hello", "filename": "notes.txt", "content_type": "text/plain"}, "file"),
        ({"data": b"abc", "model": None}, "model"),
        ({"data": b"abc", "response_format": "docx"}, "response_format"),
        ({"data": b"abc", "model": "@cf/baai/bge-m3"}, "model"),
    ],
)
def test_bad_uploads_are_400s(http, auth_headers, kwargs, param):
    data = kwargs.pop("data")
    response = transcribe(http, auth_headers, data, **kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_octet_stream_with_an_audio_name_is_accepted(http, auth_headers):
    response = transcribe(http, auth_headers, b"\x00" * 8, filename="voice.m4a", content_type="application/octet-stream")
    assert response.status_code == 200


def test_json_and_truncated_multipart_are_400s(http, auth_headers):
    as_json = http.post("/v1/audio/transcriptions", headers=auth_headers, json={"model": TURBO})
    assert as_json.status_code == 400 and as_json.json()["error"]["code"] == "invalid_content_type"
    body = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\nContent-Type: audio/mpeg\r\n\r\nabc'
    truncated = http.post("/v1/audio/transcriptions", content=body,
                          headers={**auth_headers, "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert truncated.status_code == 400 and truncated.json()["error"]["code"] == "invalid_form"


def test_the_openai_client_transcribes_and_speaks(client):
    result = client.audio.transcriptions.create(model="whisper-1", file=("clip.wav", b"RIFF" + b"\x00" * 60, "audio/wav"))
    assert result.text == "Emulated transcript of 64 bytes of audio."
    verbose = client.audio.transcriptions.create(model="whisper-1", file=("clip.wav", b"\x00" * 8, "audio/wav"),
                                                 response_format="verbose_json", timestamp_granularities=["word"])
    assert verbose.words[0].word == "Emulated"
    srt = client.audio.transcriptions.create(model="whisper-1", file=("clip.wav", b"\x00" * 8, "audio/wav"), response_format="srt")
    assert srt.startswith("1\n")
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there")
    assert speech.content.startswith(b"\xff\xfb") and len(speech.content) > 1000  # MP3 frames (test_emulator_media.py)


def test_speech_formats(http, auth_headers):
    mp3 = http.post("/v1/audio/speech", headers=auth_headers, json={"model": "tts-1", "input": "hi", "voice": "nova"})
    assert mp3.headers["content-type"] == "audio/mpeg" and mp3.content.startswith(b"\xff\xfb")
    assert mp3.headers["x-model"] == "@cf/myshell-ai/melotts"
    wav = http.post("/v1/audio/speech", headers=auth_headers, json={"model": "tts-1", "input": "hi", "response_format": "wav"})
    assert wav.status_code == 400 and wav.json()["error"]["code"] == "unsupported_format"
    aura = http.post("/v1/audio/speech", headers=auth_headers,
                     json={"model": "@cf/deepgram/aura-1", "input": "hi", "response_format": "opus"})
    assert aura.status_code == 200 and aura.headers["content-type"] == "audio/ogg"
    assert aura.content.startswith(b"OggS")
    empty = http.post("/v1/audio/speech", headers=auth_headers, json={"model": "tts-1", "input": ""})
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "input"


# --- scripted: what the model receives, and formats built from what it returns ----------------------

def test_base64_built_in_js_is_exact(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_json({"text": "ok"})
    data = os.urandom(100_003)  # several encoding chunks and a ragged end
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}
    response = httpx.post(f"{scripted_gateway.url}/v1/audio/transcriptions", headers=headers,
                          files={"file": ("a.mp3", data, "audio/mpeg")}, data={"model": TURBO, "language": "German", "prompt": "names"})
    assert response.json() == {"text": "ok"}
    inputs = json.loads(httpserver.log[-1][0].get_data())["inputs"]
    assert inputs["audio"] == base64.b64encode(data).decode()
    assert inputs["task"] == "transcribe" and inputs["language"] == "de" and inputs["initial_prompt"] == "names"


def test_byte_values_reach_the_array_models(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_json({"text": "ok", "words": []})
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}
    httpx.post(f"{scripted_gateway.url}/v1/audio/transcriptions", headers=headers,
               files={"file": ("a.mp3", bytes(range(256)), "audio/mpeg")}, data={"model": WHISPER})
    assert json.loads(httpserver.log[-1][0].get_data())["inputs"] == {"audio": list(range(256))}


def test_subtitles_are_built_from_segments_when_the_model_gives_no_vtt(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_json({
        "text": "Hello there. General Kenobi.",
        "segments": [{"start": 0.0, "end": 1.25, "text": " Hello there."}, {"start": 61.5, "end": 3725.042, "text": " General Kenobi."}],
        "transcription_info": {"language": "en", "duration": 3726.0},
    })
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}

    def fmt(name):
        return httpx.post(f"{scripted_gateway.url}/v1/audio/transcriptions", headers=headers,
                          files={"file": ("a.mp3", b"x", "audio/mpeg")}, data={"model": TURBO, "response_format": name}).text

    assert fmt("srt") == "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n2\n00:01:01,500 --> 01:02:05,042\nGeneral Kenobi.\n"
    assert fmt("vtt") == "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n\n00:01:01.500 --> 01:02:05.042\nGeneral Kenobi.\n"
    verbose = json.loads(fmt("verbose_json"))
    assert verbose["duration"] == 3726.0 and verbose["language"] == "english" and len(verbose["segments"]) == 2


def test_a_model_answer_without_text_is_a_502(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_json({"nothing": True})
    headers = {"Authorization": f"Bearer {scripted_gateway.api_key}"}
    response = httpx.post(f"{scripted_gateway.url}/v1/audio/transcriptions", headers=headers,
                          files={"file": ("a.mp3", b"x", "audio/mpeg")}, data={"model": TURBO})
    assert response.status_code == 502 and response.json()["error"]["type"] == "server_error"
