"""POST /v1/audio/transcriptions, /v1/audio/translations (whisper) and /v1/audio/speech."""

from __future__ import annotations

import base64
import binascii
import time

from .. import audio
from ..catalog import SPEECH_TO_TEXT, TEXT_TO_SPEECH, Resolved
from ..errors import UpstreamError, bad_request, from_upstream
from ..http import PassthroughResponse, Response, StreamResponse
from ..platform import Context, is_blob
from ..sse import SSE_HEADERS, encode_event
from .common import model_headers, resolve_model, run_model

# Multipart framing around the file: what a request may add on top of the 25 MB of audio.
_FORM_OVERHEAD = 64 * 1024


async def _model(ctx: Context, name, task: str) -> Resolved:
    return await resolve_model(ctx, name, task)


async def _transcribe(ctx: Context, task: str):
    request = ctx.request
    length = request.declared_length()
    # Refuse an oversized upload before the runtime reads a byte of it.
    if length is not None and length > audio.MAX_AUDIO_BYTES + _FORM_OVERHEAD:
        raise audio.too_large(length, audio.MAX_AUDIO_BYTES, "The request")
    form = await request.form()
    if not form.value("model"):
        raise bad_request("`model` is required, e.g. whisper-1 or @cf/openai/whisper-large-v3-turbo.", param="model")
    resolved = await _model(ctx, form.value("model"), SPEECH_TO_TEXT)
    job = audio.parse_transcription(form, resolved.model, task)
    # The upload's size bounds what the call can cost (its duration is known only from the answer).
    result = await run_model(ctx, resolved.model.id, await audio.model_inputs(job), audio_bytes=job.file.size)
    try:
        body, content_type = audio.render(result, job)
    except UpstreamError as error:
        print(f"unexpected transcription result from {resolved.model.id}: {error}")
        raise from_upstream(error, resolved.model.id, time.time()) from None
    return Response(200, body, {"Content-Type": content_type, **model_headers(resolved), **audio.transcription_notes(job).headers()})


async def transcriptions(ctx: Context):
    return await _transcribe(ctx, "transcribe")


async def translations(ctx: Context):
    return await _transcribe(ctx, "translate")


async def speech(ctx: Context):
    body = await ctx.request.json_object()
    resolved = await _model(ctx, body.get("model"), TEXT_TO_SPEECH)
    job = audio.parse_speech(body, resolved.model, resolved.requested)
    if job.stream_format == "sse":
        # Refused before the model runs: the answer of a streaming model is kept whole for its base64.
        ctx.caps.hold(audio.MAX_SPEECH_AUDIO_BYTES, "the speech audio")
    result = await run_model(ctx, resolved.model.id, job.inputs)
    if job.stream_format == "sse":
        return await _speech_events(result, job, resolved)
    headers = {"Content-Type": audio.SPEECH_CONTENT_TYPES[job.response_format], **model_headers(resolved), **job.notes.headers()}
    if hasattr(result, "handle"):
        # Aura streams the audio: handed to the response untouched.
        return PassthroughResponse(result.handle, headers=headers)
    try:
        encoded = result.get("audio") if isinstance(result, dict) else None
        if not isinstance(encoded, str) or not encoded:
            raise UpstreamError("the speech model answered without audio")
        data = base64.b64decode(encoded, validate=True)
        if not data:
            raise UpstreamError("the speech model answered with empty audio")
    except (UpstreamError, binascii.Error, ValueError) as error:
        print(f"unexpected speech result from {resolved.model.id}: {error}")
        raise from_upstream(UpstreamError(str(error)), resolved.model.id, time.time()) from None
    return Response(200, data, headers)


_DELTA_HEAD = 'data: {"type":"speech.audio.delta","audio":"'
_DELTA_TAIL = '"}\n\n'


async def _speech_events(result, job: audio.Speech, resolved: Resolved) -> StreamResponse:
    """OpenAI's speech stream (`stream_format: "sse"`). A streamed answer (Aura) is kept whole in the
    runtime and its base64 made there as it is written, in one delta: its bytes never cross into
    Python. A base64 answer (melotts) is sent as it came, a piece per delta, never decoded."""
    try:
        if hasattr(result, "handle"):
            blob = await result.buffer(audio.MAX_SPEECH_AUDIO_BYTES)
            if blob is None:
                raise UpstreamError(f"the speech audio passed {audio.MAX_SPEECH_AUDIO_BYTES} bytes")
            if blob.size == 0:
                raise UpstreamError("the speech model answered with empty audio")
            pieces = [blob]
        else:
            pieces = audio.base64_pieces(audio.speech_base64(result))
    except UpstreamError as error:
        print(f"unexpected speech result from {resolved.model.id}: {error}")
        raise from_upstream(error, resolved.model.id, time.time()) from None
    headers = {**SSE_HEADERS, **model_headers(resolved), **job.notes.headers(), "X-Usage-Estimated": "true"}
    return StreamResponse(_speech_event_stream(pieces, audio.speech_usage(job)), headers=headers)


async def _speech_event_stream(pieces, usage: dict):
    for piece in pieces:
        yield _DELTA_HEAD
        # Base64 needs no JSON escaping: written between the quotes as it is.
        yield await piece.base64() if is_blob(piece) else piece
        yield _DELTA_TAIL
    yield encode_event({"type": "speech.audio.done", "usage": usage})
