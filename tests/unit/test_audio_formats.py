"""Whisper results → OpenAI response formats, and request checks, under CPython."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from gateway import audio
from gateway.catalog import BY_ID
from gateway.errors import ApiError
from gateway.http import Form

TURBO = BY_ID["@cf/openai/whisper-large-v3-turbo"]
WHISPER = BY_ID["@cf/openai/whisper"]


@dataclass
class FakeFile:
    size: int
    filename: str = "a.mp3"
    content_type: str = "audio/mpeg"


def job(fmt="json", model=TURBO, task="transcribe", **fields):
    form = Form({"response_format": [fmt], **{k: [v] for k, v in fields.items()}}, {"file": FakeFile(10)})
    return audio.parse_transcription(form, model, task)


WORDS = [{"word": f"w{i}", "start": i * 1.0, "end": i * 1.0 + 0.5} for i in range(23)]


def test_words_become_cues_of_ten():
    body, kind = audio.render({"text": "x", "words": WORDS}, job("srt", WHISPER))
    cues = body.strip().split("\n\n")
    assert len(cues) == 3 and cues[2].startswith("3\n00:00:20,000 --> 00:00:22,500\nw20 w21 w22")
    assert kind.startswith("application/x-subrip")


def test_timestamps_carry_hours():
    assert audio._timestamp(3725.0426, ",") == "01:02:05,043"
    assert audio._timestamp(-1, ".") == "00:00:00.000"


def test_verbose_json_words_only_when_asked_or_default():
    body = json.loads(audio.render({"text": "x", "words": WORDS}, job("verbose_json", WHISPER, **{"timestamp_granularities[]": "segment"}))[0])
    assert "words" not in body and body["duration"] == 22.5
    body = json.loads(audio.render({"text": "x", "words": WORDS}, job("verbose_json", WHISPER))[0])
    assert len(body["words"]) == 23


def test_model_vtt_is_used_when_given():
    body, _ = audio.render({"text": "x", "vtt": "WEBVTT\n\nready"}, job("vtt"))
    assert body == "WEBVTT\n\nready"


@pytest.mark.parametrize("size, model, status", [(25 * 1024 * 1024 + 1, TURBO, 413), (4 * 1024 * 1024 + 1, WHISPER, 413), (0, TURBO, 400)])
def test_sizes(size, model, status):
    with pytest.raises(ApiError) as raised:
        audio.parse_transcription(Form({}, {"file": FakeFile(size)}), model, "transcribe")
    assert raised.value.status == status


def test_language_names_become_codes():
    assert job(language="German").language == "de"
    assert job(language="EN").language == "en"


def test_speech_format_support_is_explicit():
    with pytest.raises(ApiError):
        audio.parse_speech({"input": "x", "response_format": "flac"}, BY_ID["@cf/myshell-ai/melotts"])
    speech = audio.parse_speech({"input": "x", "response_format": "wav", "voice": "luna"}, BY_ID["@cf/deepgram/aura-1"])
    assert speech.inputs == {"text": "x", "encoding": "linear16", "container": "wav", "speaker": "luna"}


@pytest.mark.parametrize("fmt", [["mp3"], {"a": 1}, 3, "", False])
def test_a_speech_format_that_is_not_a_string_is_a_400(fmt):
    # "" and false too (the schemathesis run again): only a missing or null format is the default.
    # Found by the schemathesis run: a list here used to raise TypeError (unhashable) -> 500.
    with pytest.raises(ApiError) as raised:
        audio.parse_speech({"input": "x", "response_format": fmt}, BY_ID["@cf/deepgram/aura-1"])
    assert raised.value.status == 400 and raised.value.param == "response_format"
