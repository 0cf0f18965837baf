"""OpenAI audio ⇄ Workers AI whisper and text-to-speech.

Whisper models answer in two shapes: `@cf/openai/whisper(-tiny-en)` give
`{text, word_count, words, vtt}`, whisper-large-v3-turbo gives `{text, segments,
transcription_info, vtt}`. Every OpenAI `response_format` is built from either.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .catalog import Model, in_family
from .chat_completion import estimate_tokens
from .contracts import Notes, contract_for, fit
from .errors import ApiError, UpstreamError, bad_request
from .http import Form, UploadedFile

MAX_AUDIO_BYTES = 25 * 1024 * 1024  # OpenAI's limit
# Models that take the audio as an array of byte values need one JS number per
# byte (and the binding serialises that array as JSON text, up to 4 characters a
# byte): past a few MB that alone would push the isolate over its 128 MB.
MAX_BYTE_ARRAY_AUDIO_BYTES = 4 * 1024 * 1024
FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
_AUDIO_EXTENSIONS = {"flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "opus", "wav", "webm", "aac", "amr", "3gp"}

# Whisper reports ISO codes; OpenAI's verbose_json names the language.
LANGUAGE_NAMES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "nl": "dutch",
    "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish",
    "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "cs": "czech", "ro": "romanian",
    "da": "danish", "hu": "hungarian", "no": "norwegian", "th": "thai", "bg": "bulgarian", "lt": "lithuanian",
    "lv": "latvian", "sk": "slovak", "sl": "slovenian", "et": "estonian", "fa": "persian",
}


def too_large(size: int, limit: int, what: str) -> ApiError:
    return ApiError(413, f"{what} is {size} bytes; the limit is {limit} bytes ({limit // (1024 * 1024)} MB).",
                    code="file_too_large", param="file")


@dataclass
class Transcription:
    file: UploadedFile
    model: Model
    task: str  # "transcribe" or "translate"
    response_format: str
    language: str | None
    prompt: str | None
    granularities: tuple[str, ...]


def _is_audio(file: UploadedFile) -> bool:
    kind = (file.content_type or "").split(";", 1)[0].strip().lower()
    if kind.startswith(("audio/", "video/")):
        return True
    extension = file.filename.rsplit(".", 1)[-1].lower() if "." in (file.filename or "") else ""
    return kind in ("", "application/octet-stream") and extension in _AUDIO_EXTENSIONS


def parse_transcription(form: Form, model: Model, task: str) -> Transcription:
    file = form.files.get("file")
    if file is None:
        raise bad_request("`file` is required: the audio to transcribe, as a multipart file.", param="file")
    if file.size == 0:
        raise bad_request("The audio file is empty.", param="file")
    if not _is_audio(file):
        raise bad_request(
            f"`file` must be audio (flac, m4a, mp3, mp4, ogg, wav, webm...); got {file.content_type or 'no content type'}.",
            param="file", code="invalid_file_format",
        )
    if file.size > MAX_AUDIO_BYTES:
        raise too_large(file.size, MAX_AUDIO_BYTES, "The audio file")
    byte_array = model.limits.get("audio") == "byte-array"
    if byte_array and file.size > MAX_BYTE_ARRAY_AUDIO_BYTES:
        raise too_large(file.size, MAX_BYTE_ARRAY_AUDIO_BYTES,
                        f"The audio file is too large for {model.id}, which takes audio as an array of numbers: it")
    if task == "translate" and model.limits.get("audio") in ("byte-array", "stream"):
        raise bad_request(f"'{model.id}' cannot translate; use @cf/openai/whisper-large-v3-turbo (or whisper-1).",
                          param="model", code="model_cannot_translate")
    response_format = form.value("response_format") or "json"
    if response_format not in FORMATS:
        raise bad_request(f"`response_format` must be one of {', '.join(FORMATS)}.", param="response_format")
    granularities = tuple(form.fields.get("timestamp_granularities[]", []) + form.fields.get("timestamp_granularities", []))
    for granularity in granularities:
        if granularity not in ("word", "segment"):
            raise bad_request("`timestamp_granularities[]` takes word and segment.", param="timestamp_granularities[]")
    temperature = form.value("temperature")
    if temperature:
        try:
            if not 0 <= float(temperature) <= 1:
                raise ValueError
        except ValueError:
            raise bad_request("`temperature` must be a number from 0 to 1.", param="temperature") from None
    language = (form.value("language") or "").strip().lower() or None
    if language is not None and len(language) > 3:
        language = {name: code for code, name in LANGUAGE_NAMES.items()}.get(language, language)
    return Transcription(file, model, task, response_format, language, form.value("prompt") or None, granularities)


async def model_inputs(job: Transcription) -> dict:
    if job.model.limits.get("audio") == "byte-array":
        return {"audio": await job.file.byte_values()}
    if job.model.limits.get("audio") == "stream":
        # nova-3: the upload's own stream and type (never read into Python); a BCP-47 language
        # hint, else detection; punctuation and formatting as OpenAI's transcripts have them.
        inputs = {"audio": {"body": job.file.stream(), "contentType": job.file.content_type or "application/octet-stream"},
                  "punctuate": True, "smart_format": True}
        if job.language:
            inputs["language"] = job.language
        else:
            inputs["detect_language"] = True
        if job.prompt:
            inputs["keyterm"] = job.prompt
        return inputs
    inputs = {"audio": await job.file.base64(), "task": job.task}
    if job.language:
        inputs["language"] = job.language
    if job.prompt:
        inputs["initial_prompt"] = job.prompt
    return inputs


# --- output -------------------------------------------------------------------------------------


def _words(result: dict) -> list[dict]:
    raw = result.get("words")
    if not raw:
        raw = [w for segment in result.get("segments") or [] for w in (segment.get("words") or [])]
    return [{"word": str(w.get("word", "")).strip(), "start": float(w.get("start", 0)), "end": float(w.get("end", 0))}
            for w in raw if isinstance(w, dict)]


def _segments(result: dict, text: str, words: list[dict]) -> list[dict]:
    raw = result.get("segments")
    if isinstance(raw, list) and raw:
        pairs = [(float(s.get("start", 0)), float(s.get("end", 0)), str(s.get("text", "")).strip(), s) for s in raw if isinstance(s, dict)]
    elif words:
        # No segments from the model: cut the words into cues of about ten words.
        pairs = []
        for i in range(0, len(words), 10):
            group = words[i : i + 10]
            pairs.append((group[0]["start"], group[-1]["end"], " ".join(w["word"] for w in group), {}))
    else:
        pairs = [(0.0, 0.0, text, {})] if text else []
    return [
        {
            "id": i, "seek": 0, "start": start, "end": end, "text": seg_text, "tokens": [],
            "temperature": float(raw_seg.get("temperature", 0.0)), "avg_logprob": float(raw_seg.get("avg_logprob", 0.0)),
            "compression_ratio": float(raw_seg.get("compression_ratio", 0.0)), "no_speech_prob": float(raw_seg.get("no_speech_prob", 0.0)),
        }
        for i, (start, end, seg_text, raw_seg) in enumerate(pairs)
    ]


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(segments: list[dict]) -> str:
    cues = [f"{i + 1}\n{_timestamp(s['start'], ',')} --> {_timestamp(s['end'], ',')}\n{s['text']}" for i, s in enumerate(segments)]
    return "\n\n".join(cues) + "\n"


def to_vtt(segments: list[dict]) -> str:
    cues = [f"{_timestamp(s['start'], '.')} --> {_timestamp(s['end'], '.')}\n{s['text']}" for s in segments]
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


def from_deepgram(result):
    """nova-3's `results.channels[0].alternatives[0]` as the whisper shape the renderer reads."""
    if not isinstance(result, dict) or not isinstance(result.get("results"), dict):
        return result
    try:
        channel = result["results"]["channels"][0]
        best = channel["alternatives"][0]
    except (KeyError, IndexError, TypeError):
        raise UpstreamError("nova-3 answered without a transcript") from None
    words = [{"word": w.get("punctuated_word") or w.get("word", ""), "start": w.get("start", 0), "end": w.get("end", 0)}
             for w in best.get("words") or [] if isinstance(w, dict)]
    shaped = {"text": best.get("transcript", ""), "words": words}
    language = channel.get("detected_language") if isinstance(channel, dict) else None
    if isinstance(language, str):
        shaped["transcription_info"] = {"language": language.split("-", 1)[0]}
    return shaped


def render(result, job: Transcription) -> tuple[str, str]:
    """The body and content type for `job.response_format`, or UpstreamError for an odd result."""
    result = from_deepgram(result)
    if not isinstance(result, dict) or not isinstance(result.get("text"), str):
        raise UpstreamError("the speech model answered without `text`")
    text = result["text"].strip()
    fmt = job.response_format
    if fmt == "text":
        return text + "\n", "text/plain; charset=utf-8"
    if fmt == "json":
        return json.dumps({"text": text}, ensure_ascii=False), "application/json"
    words = _words(result)
    segments = _segments(result, text, words)
    if fmt == "vtt":
        vtt = result.get("vtt")
        return (vtt if isinstance(vtt, str) and vtt.startswith("WEBVTT") else to_vtt(segments)), "text/vtt; charset=utf-8"
    if fmt == "srt":
        return to_srt(segments), "application/x-subrip; charset=utf-8"
    info = result.get("transcription_info") or {}
    code = info.get("language") or job.language or ("en" if job.model.id.endswith("-en") else None)
    if job.task == "translate":
        code = "en"
    duration = info.get("duration")
    if duration is None:
        duration = max([s["end"] for s in segments] + [w["end"] for w in words] + [0.0])
    body = {
        "task": job.task,
        "language": LANGUAGE_NAMES.get(code, code) if code else "unknown",
        "duration": float(duration),
        "text": text,
        "segments": segments,
    }
    if "word" in job.granularities or not job.granularities:
        body["words"] = words
    return json.dumps(body, ensure_ascii=False), "application/json"


# --- speech -------------------------------------------------------------------------------------

SPEECH_CONTENT_TYPES = {
    "mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm",
}
# Deepgram Aura's `encoding` (and `container`) for each OpenAI format.
_AURA_ENCODINGS = {"mp3": ("mp3", None), "opus": ("opus", "ogg"), "aac": ("aac", None), "flac": ("flac", None),
                   "wav": ("linear16", "wav"), "pcm": ("linear16", "none")}
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}
MAX_SPEECH_CHARS = 4096
# OpenAI's `stream_format`: the audio file itself (the default), or server-sent events whose
# `speech.audio.delta` events carry it as base64 and whose `speech.audio.done` event reports the usage.
STREAM_FORMATS = ("audio", "sse")
# OpenAI streams no events for these model names (nor their -hd and dated variants): "`sse` is not
# supported for `tts-1` or `tts-1-hd`".
NO_SSE_FAMILIES = ("tts-1",)
# Base64 characters per `speech.audio.delta` event when the model answered base64 (a multiple of 4,
# so every piece decodes alone): one event stays well inside the 64 KiB lines SSE relays read.
SPEECH_DELTA_CHARS = 16_384
# A streamed (Aura) answer kept in the runtime for its base64: 16-bit 24 kHz WAV of the longest
# input (4 096 characters, about five minutes of speech) is ~14 MB.
MAX_SPEECH_AUDIO_BYTES = 16 * 1024 * 1024
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@dataclass
class Speech:
    model: Model
    inputs: dict
    response_format: str
    notes: Notes = field(default_factory=Notes)
    stream_format: str = "audio"


def _stream_format(body: dict, requested_name) -> str:
    stream_format = body.get("stream_format")
    if stream_format is None:
        return "audio"
    if stream_format not in STREAM_FORMATS:
        raise bad_request(f"`stream_format` must be one of {', '.join(STREAM_FORMATS)}.", param="stream_format")
    if stream_format == "sse" and in_family(requested_name, NO_SSE_FAMILIES):
        raise bad_request(f"`stream_format` sse is not supported for {requested_name}; use gpt-4o-mini-tts, or "
                          "stream_format audio.", param="stream_format", code="unsupported_stream_format")
    return stream_format


def parse_speech(body: dict, model: Model, requested_name=None) -> Speech:
    speech = _parse_speech(body, model)
    speech.stream_format = _stream_format(body, requested_name)
    return speech


def _parse_speech(body: dict, model: Model) -> Speech:
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("`input` is required: the text to speak.", param="input")
    if len(text) > MAX_SPEECH_CHARS:
        raise bad_request(f"`input` is longer than {MAX_SPEECH_CHARS} characters.", param="input")
    # Only a missing (or null) format means the default: "" is a format OpenAI's description refuses.
    fmt = "mp3" if body.get("response_format") is None else body["response_format"]
    if not isinstance(fmt, str) or fmt not in SPEECH_CONTENT_TYPES:
        raise bad_request(f"`response_format` must be one of {', '.join(SPEECH_CONTENT_TYPES)}.", param="response_format")
    voice = body.get("voice")
    if voice is not None and not isinstance(voice, str):
        raise bad_request("`voice` must be a string.", param="voice")
    if model.limits.get("output") == "b64-mp3":
        if fmt != "mp3":
            raise bad_request(f"'{model.id}' only speaks mp3; for {fmt} use a @cf/deepgram/aura model.",
                              param="response_format", code="unsupported_format")
        inputs = {"prompt": text, "lang": (body.get("language") or "en")}
        return Speech(model, inputs, fmt, fit(contract_for(model.id), inputs, "prompt", names=_SPEECH_NAMES))
    encoding, container = _AURA_ENCODINGS[fmt]
    inputs = {"text": text, "encoding": encoding}
    if container:
        inputs["container"] = container
    if isinstance(voice, str) and voice and voice.lower() not in OPENAI_VOICES:
        inputs["speaker"] = voice.lower()
    # Aura's `speaker` is an enum of its voices: anything else is refused naming `voice`.
    return Speech(model, inputs, fmt, fit(contract_for(model.id), inputs, "text", names=_SPEECH_NAMES))


def speech_base64(result) -> str:
    """The audio of an `{audio: base64}` answer (melotts) as the base64 it came in, checked without
    decoding it; UpstreamError when it is missing, empty or not base64."""
    encoded = result.get("audio") if isinstance(result, dict) else None
    if not isinstance(encoded, str) or not encoded:
        raise UpstreamError("the speech model answered without audio")
    if len(encoded) % 4 or not _BASE64.fullmatch(encoded):
        raise UpstreamError("the speech model answered with invalid base64")
    return encoded


def base64_pieces(encoded: str, size: int = SPEECH_DELTA_CHARS):
    """`encoded` in pieces of `size` characters (a multiple of 4: each piece is base64 on its own)."""
    return (encoded[start:start + size] for start in range(0, len(encoded), size))


def speech_usage(job: Speech) -> dict:
    """The `usage` of `speech.audio.done`. Workers AI counts no tokens for speech: the input is
    estimated as the gateway estimates text elsewhere (about four characters a token), and the audio
    is reported as 0 output tokens rather than a number nothing measured."""
    input_tokens = estimate_tokens(job.inputs.get("text") or job.inputs.get("prompt") or "")
    return {"input_tokens": input_tokens, "output_tokens": 0, "total_tokens": input_tokens}


_SPEECH_NAMES = {"speaker": "voice", "prompt": "input", "text": "input", "lang": "language",
                 "encoding": "response_format", "container": "response_format"}


def transcription_notes(job: "Transcription") -> Notes:
    """The form fields the model's contract has no input for (whisper and whisper-tiny-en take only audio)."""
    notes = Notes()
    if job.model.limits.get("audio") == "stream":  # nova-3: the prompt becomes its key terms
        if job.prompt:
            notes.mapped.append("prompt=keyterm")
        return notes
    contract = contract_for(job.model.id)
    variant = contract.variant("audio") if contract else None
    if variant is None:
        return notes
    props = variant.get("properties") or {}
    for given, name, param in ((job.language, "language", "language"), (job.prompt, "initial_prompt", "prompt")):
        if given and name not in props:
            notes.dropped.append(param)
    return notes
