"""The emulator's media is real: pictures decode at the asked size, speech decodes at about the text's length.

What `/file/<key>` serves is opened with Pillow; speech is decoded with miniaudio (MP3,
WAV, FLAC) or its container is read (raw PCM, Ogg Opus, AAC in ADTS).
"""

from __future__ import annotations

import io
import struct

import miniaudio
import pytest
from PIL import Image, ImageChops, ImageStat

IMAGE_MODELS = [  # model, format, default size, takes a size
    ("@cf/black-forest-labs/flux-1-schnell", "JPEG", 1024, False),
    ("@cf/leonardo/lucid-origin", "JPEG", 1120, True),
    ("@cf/leonardo/phoenix-1.0", "JPEG", 1024, True),
    ("@cf/stabilityai/stable-diffusion-xl-base-1.0", "PNG", 1024, True),
    ("@cf/bytedance/stable-diffusion-xl-lightning", "PNG", 1024, True),
    ("@cf/lykon/dreamshaper-8-lcm", "PNG", 512, True),
]
TEXT = "Hello there, this is the emulated voice of the Workers AI gateway."
SECONDS = len(TEXT) / 15  # about fifteen characters a second


def stored_image(http, auth_headers, model, prompt, **extra) -> tuple[Image.Image, bytes, str]:
    response = http.post("/v1/images/generations", headers=auth_headers, json={"model": model, "prompt": prompt, **extra})
    assert response.status_code == 200, response.text
    served = http.get(response.json()["data"][0]["url"])
    assert served.status_code == 200
    image = Image.open(io.BytesIO(served.content))
    image.load()  # decodes every pixel: a truncated or malformed file fails here
    return image, served.content, served.headers["content-type"]


@pytest.mark.parametrize("model, fmt, default, sized", IMAGE_MODELS, ids=[m[0].split("/")[-1] for m in IMAGE_MODELS])
def test_each_image_model_serves_a_decodable_picture_of_the_prompt(http, auth_headers, model, fmt, default, sized):
    image, data, content_type = stored_image(http, auth_headers, model, "a lighthouse at dawn")
    assert image.format == fmt and content_type == f"image/{fmt.lower()}"
    assert image.size == (default, default)
    # A picture, not a flat colour: many colours, spread over the frame.
    rgb = image.convert("RGB")
    assert len(rgb.getcolors(maxcolors=1 << 20)) > 50
    assert max(ImageStat.Stat(rgb).stddev) > 10

    if sized:
        other, _, _ = stored_image(http, auth_headers, model, "a lighthouse at dawn", size="768x512")
        assert other.size == (768, 512)
    else:  # flux-1-schnell has one size: the gateway does not pass one on
        other, _, _ = stored_image(http, auth_headers, model, "a lighthouse at dawn", size="768x512")
        assert other.size == (default, default)

    # The same prompt gives the same picture; another prompt a visibly different one.
    again, again_data, _ = stored_image(http, auth_headers, model, "a lighthouse at dawn")
    assert again_data == data
    different, _, _ = stored_image(http, auth_headers, model, "a red bicycle in the rain")
    difference = ImageStat.Stat(ImageChops.difference(rgb, different.convert("RGB"))).mean
    assert sum(difference) / 3 > 20, difference


def speech(http, auth_headers, model, fmt, text=TEXT):
    response = http.post("/v1/audio/speech", headers=auth_headers, json={"model": model, "input": text, "response_format": fmt})
    assert response.status_code == 200, response.text
    return response


def decode(data: bytes, fmt: str) -> miniaudio.DecodedSoundFile:
    """Decoded at the file's own channel count and sample rate."""
    info = {"mp3": miniaudio.mp3_get_info, "wav": miniaudio.wav_get_info, "flac": miniaudio.flac_get_info}[fmt](data)
    return miniaudio.decode(data, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=info.nchannels,
                            sample_rate=info.sample_rate)


def assert_sounds_like_the_text(decoded: miniaudio.DecodedSoundFile):
    assert SECONDS * 0.8 < decoded.duration < SECONDS * 1.5, (decoded.duration, SECONDS)
    samples = decoded.samples
    peak = max(abs(s) for s in samples)
    assert 3000 < peak < 32767, peak  # audible, not clipped
    silent = sum(1 for s in samples[:: decoded.nchannels * 100] if abs(s) < 50) / (len(samples) / decoded.nchannels / 100)
    assert 0.05 < silent < 0.6, silent  # words with gaps between them


@pytest.mark.parametrize("model, fmt", [("tts-1", "mp3"), ("@cf/deepgram/aura-1", "mp3"), ("@cf/deepgram/aura-1", "wav"),
                                        ("@cf/deepgram/aura-1", "flac")])
def test_speech_decodes_to_about_the_length_of_the_text(http, auth_headers, model, fmt):
    response = speech(http, auth_headers, model, fmt)
    decoded = decode(response.content, fmt)
    assert decoded.nchannels == 1 and decoded.sample_rate in (24000, 48000)
    assert_sounds_like_the_text(decoded)
    # A longer text speaks longer.
    longer = decode(speech(http, auth_headers, model, fmt, TEXT + " " + TEXT).content, fmt)
    assert longer.duration > decoded.duration * 1.7


def test_raw_pcm_is_24khz_16_bit_mono(http, auth_headers):
    data = speech(http, auth_headers, "@cf/deepgram/aura-1", "pcm").content
    assert len(data) % 2 == 0
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    decoded = miniaudio.DecodedSoundFile("pcm", 1, 24000, miniaudio.SampleFormat.SIGNED16, samples)
    assert_sounds_like_the_text(decoded)


def ogg_pages(data: bytes):
    pos = 0
    while pos < len(data):
        assert data[pos:pos + 4] == b"OggS", pos
        granule, = struct.unpack("<q", data[pos + 6:pos + 14])
        count = data[pos + 26]
        lacing = data[pos + 27:pos + 27 + count]
        body = data[pos + 27 + count:pos + 27 + count + sum(lacing)]
        yield data[pos + 5], granule, body
        pos += 27 + count + sum(lacing)


def test_opus_is_an_ogg_stream_of_the_texts_length(http, auth_headers):
    response = speech(http, auth_headers, "@cf/deepgram/aura-1", "opus")
    assert response.headers["content-type"] == "audio/ogg"
    pages = list(ogg_pages(response.content))
    assert pages[0][2].startswith(b"OpusHead") and pages[1][2].startswith(b"OpusTags")
    assert pages[0][0] == 2 and pages[-1][0] == 4  # beginning and end of stream
    pre_skip, = struct.unpack("<H", pages[0][2][10:12])
    assert SECONDS * 0.8 < (pages[-1][1] - pre_skip) / 48000 < SECONDS * 1.5


def test_aac_is_adts_frames_of_the_texts_length(http, auth_headers):
    data = speech(http, auth_headers, "@cf/deepgram/aura-1", "aac").content
    pos = frames = 0
    while pos < len(data):
        assert data[pos] == 0xFF and data[pos + 1] & 0xF6 == 0xF0, pos  # ADTS sync, layer 0
        assert (data[pos + 2] >> 2) & 0xF == 3  # 48 kHz
        length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        pos, frames = pos + length, frames + 1
    assert pos == len(data)
    assert SECONDS * 0.8 < frames * 1024 / 48000 < SECONDS * 1.5


def test_transcription_is_deterministic_and_says_it_is_emulated(http, auth_headers):
    audio = speech(http, auth_headers, "tts-1", "mp3").content
    texts = [http.post("/v1/audio/transcriptions", headers=auth_headers, data={"model": "whisper-1"},
                       files={"file": ("speech.mp3", audio, "audio/mpeg")}).json()["text"] for _ in range(2)]
    assert texts[0] == texts[1] and "emulated" in texts[0].lower()
