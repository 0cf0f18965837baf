"""Images: text-to-image through chat and through /v1/images/generations, stored in R2 and served at /file/<key>."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from .. import images
from ..contracts import contract_for
from ..catalog import IMAGE_TO_IMAGE, TEXT_TO_IMAGE, Resolved
from ..chat_completion import completion
from ..chat_request import ChatRequest
from ..chat_stream import chunks_from_completion, completion_chunks
from ..errors import ApiError, UpstreamError, bad_request, from_upstream
from ..http import PassthroughResponse, Response, StreamResponse, json_response
from ..platform import FETCH_FAILED, Blob, BytesBlob, Context, FetchError, StorageError, is_blob
from ..sse import SSE_HEADERS
from .common import model_headers, resolve_model, run_model
from .files import file_url


@dataclass
class Produced:
    """A generated image: `data` is bytes, or a runtime stream that stays in the runtime."""

    data: Any
    extension: str


def _storage(ctx: Context):
    if ctx.platform.storage is None:
        raise ApiError(503, "This worker has no R2 bucket for images: add an `IMAGES` r2_buckets binding to wrangler.toml.",
                       type="server_error", code="storage_missing")
    return ctx.platform.storage


async def _fetch_image(ctx: Context, url: str):
    """A remote input image (or mask) as a `Blob`: its bytes stay in the runtime."""
    fetcher = ctx.platform.fetcher
    if fetcher is None:
        raise bad_request("This runtime cannot fetch image URLs; send the image as a data: URL.", param="image_url")
    images.check_remote_url(url)
    from ..fetch_policy import refusal  # imported here: `ipaddress` is not needed by most requests

    try:
        # The runtime checks every hop again (redirects); this refuses before a fetch is spent.
        refused = refusal(url, ctx.settings.image_fetch_allow_private)
        if refused is not None:
            print(f"image fetch refused: {refused}")
            raise FetchError(FETCH_FAILED)
        ctx.caps.spend_fetch()
        return await fetcher.fetch_image(url, max_bytes=images.MAX_INPUT_IMAGE_BYTES,
                                         timeout=min(ctx.settings.fetch_timeout_seconds, ctx.settings.ai_timeout_seconds),
                                         max_redirects=images.FETCH_MAX_REDIRECTS)
    except FetchError as error:
        # One of a few fixed reasons; the target's own status or error never reaches the client.
        raise bad_request(f"The image_url could not be fetched: {error}.", param="image_url",
                          code="image_fetch_failed") from None


async def input_blob(ctx: Context, url) -> Blob:
    """An input image as a Blob whose bytes the runtime keeps: a data: URL (a string, or one the
    runtime kept out of the body), or an http(s) URL fetched with the same bounds (timeout,
    redirects, image/*, 10 MB while streaming, 2 per request)."""
    if is_blob(url):
        images.check_blob(url)
        ctx.caps.hold(url.size, "an input image")
        return url
    payload = images.data_url_base64(url)
    if payload is None:
        # Held at the most it may be, before a byte of it arrives.
        ctx.caps.hold(images.MAX_INPUT_IMAGE_BYTES, "a remote input image")
        return await _fetch_image(ctx, url)
    ctx.caps.hold(len(payload) // 4 * 3, "an input image")
    kind = images.data_url_type(url)
    fetcher = ctx.platform.fetcher
    if fetcher is None:  # no runtime to keep the bytes (unit tests)
        return BytesBlob(base64.b64decode(payload), kind)
    return fetcher.from_base64(payload, kind)


def image_type(blob: Blob) -> str:
    """The image's media type: from its magic number, else what it was declared as, else PNG."""
    sniffed = images.sniff(blob.head(16))
    if sniffed:
        return images.CONTENT_TYPES[sniffed]
    return blob.content_type if blob.content_type.startswith("image/") else "image/png"


async def _image_base64(ctx: Context, url):
    # A data: URL's base64 is used as sent: no decoded copy of the image in Python.
    payload = images.data_url_base64(url) if isinstance(url, str) else None
    return payload if payload is not None else await (await input_blob(ctx, url)).base64()


async def _mask_values(ctx: Context, url):
    """The mask as the array of byte values the inpainting model takes, built in the runtime."""
    return await (await input_blob(ctx, url)).byte_values()


async def model_inputs(ctx: Context, job: images.ImageJob) -> dict:
    """The job's inputs with its input image and mask, fetched once for all `n` images."""
    inputs = dict(job.inputs)
    if job.model.limits.get("input") == "multipart":
        # FLUX.2 takes form data; the image_urls become its reference images, in order.
        urls = [job.image_url, *job.references] if job.image_url else []
        inputs = images.multipart_inputs(job, [await input_blob(ctx, url) for url in urls])
    elif job.image_url:
        inputs["image_b64"] = await _image_base64(ctx, job.image_url)
    if job.mask_url and "mask" in job.model.capabilities:
        inputs["mask"] = await _mask_values(ctx, job.mask_url)
    return inputs


async def produce(ctx: Context, job: images.ImageJob, inputs: dict | None = None) -> Produced:
    if inputs is None:
        inputs = await model_inputs(ctx, job)
    result = await run_model(ctx, job.model.id, inputs)
    try:
        if isinstance(result, dict):
            data, extension = images.decode_b64_image(result)
            return Produced(data, extension)
        if hasattr(result, "handle"):
            # SDXL-family models stream PNG bytes, phoenix JPEG (the contract's output contentType);
            # they stay in the runtime.
            contract = contract_for(job.model.id)
            kind = contract.output_content_type() if contract else None
            return Produced(result, "jpg" if kind == "image/jpeg" else "png")
        raise UpstreamError(f"unexpected result type {type(result).__name__}")
    except UpstreamError as error:
        print(f"unexpected image result from {job.model.id}: {error}")
        raise from_upstream(error, job.model.id, time.time()) from None


async def store(ctx: Context, produced: Produced, job: images.ImageJob) -> str:
    """Stores the image and returns its public URL — only once the write succeeded. The bytes are
    checked to be the image type they will be served as: /file/<key> never serves a model's
    mislabelled or non-image bytes as an image."""
    storage = _storage(ctx)
    blob = await _blob_of(produced, job.model.id, output_bound(job.inputs))
    extension = images.sniff(blob.head(16))
    if extension is None:
        print(f"image model {job.model.id} answered bytes that are not an image")
        raise from_upstream(UpstreamError("the image model answered with bytes that are not an image"), job.model.id, time.time())
    key = images.new_key(extension)
    try:
        await storage.put(
            key, blob.runtime_bytes(), content_type=images.CONTENT_TYPES[extension],
            metadata={"model": job.model.id, "created": str(int(time.time()))},
        )
    except StorageError as error:
        print(f"R2 write failed for {key}: {error}")
        raise ApiError(502, "The image was generated but could not be stored; try again.", type="server_error",
                       code="storage_failed") from None
    return file_url(ctx, key)


# A generated image kept for b64_json or R2; the model's PNGs are a few MB (8 MB at 2048²).
MAX_OUTPUT_IMAGE_BYTES = 16 * 1024 * 1024


def output_bound(inputs: dict) -> int:
    """The most bytes one generated image may take: an RGB pixel's 3 bytes (a PNG of a photo is
    smaller, never much larger) and 1 MB of room, and never more than MAX_OUTPUT_IMAGE_BYTES."""
    width, height = inputs.get("width") or 1024, inputs.get("height") or 1024
    if not isinstance(width, int) or not isinstance(height, int):
        return MAX_OUTPUT_IMAGE_BYTES
    return min(MAX_OUTPUT_IMAGE_BYTES, width * height * 3 + 1024 * 1024)


async def _blob_of(produced: Produced, model_id: str, max_bytes: int) -> Blob:
    """The image as a Blob the runtime holds: a streamed one read there, never into Python."""
    if isinstance(produced.data, bytes):
        return BytesBlob(produced.data)
    blob = await produced.data.buffer(max_bytes)
    if blob is None:
        print(f"image stream from {model_id} passed {max_bytes} bytes")
        raise from_upstream(UpstreamError("the image stream is too large"), model_id, time.time())
    return blob


async def _b64_json(created: int, blobs: list, prompt: str):
    """The images API's JSON, written image by image: each base64 is made (in the runtime) as it is
    written and let go after, so only one exists at a time."""
    revised = ',"revised_prompt":' + json.dumps(prompt, ensure_ascii=False) + "}"
    yield '{"created":' + str(created) + ',"data":['
    for i in range(len(blobs)):
        blob, blobs[i] = blobs[i], None
        yield ('{"b64_json":"' if i == 0 else ',{"b64_json":"')
        yield await blob.base64()
        del blob
        yield '"' + revised
    yield "]}"


async def image_chat(ctx: Context, body: dict, resolved: Resolved):
    """A chat request to an image model: the answer is a markdown link to the stored image."""
    job = images.from_chat(body, resolved.model)
    _storage(ctx)  # before the model runs: no allocation spent on an image that cannot be kept
    url = await store(ctx, await produce(ctx, job), job)
    stream = body.get("stream") is True
    request = ChatRequest(resolved.model, {"messages": [{"role": "user", "content": job.prompt}]}, stream=stream,
                          include_usage=stream and isinstance(body.get("stream_options"), dict)
                          and bool(body["stream_options"].get("include_usage")))
    result = {"response": images.markdown(url)}
    created = int(time.time())
    headers = {**model_headers(resolved), **job.notes.headers(), "X-Usage-Estimated": "true"}
    if stream:
        return StreamResponse(completion_chunks(chunks_from_completion(result), request, created=created),
                              headers={**SSE_HEADERS, **headers})
    return json_response(completion(result, request, created=created), headers=headers)


async def _image_model(ctx: Context, name) -> Resolved:
    return await resolve_model(ctx, name, TEXT_TO_IMAGE, also=(IMAGE_TO_IMAGE,))


async def create_images(ctx: Context):
    body = await ctx.request.json_object(inline_data=True)
    resolved = await _image_model(ctx, body.get("model"))
    job, n, response_format = images.from_images_api(body, resolved.model, resolved.requested)
    if response_format == "url":
        _storage(ctx)  # before the model runs, as for chat
    ctx.caps.reserve(n)
    bound = output_bound(job.inputs)
    if response_format == "b64_json":
        # Every image is held until the answer is written: refused before the first is made.
        ctx.caps.hold(n * bound, f"{n} generated images of up to {bound / 1048576:.1f} MB each")
    inputs = await model_inputs(ctx, job)
    await ctx.meter.prepay([(job.model.id, inputs)] * n)
    data, made = [], []
    for _ in range(n):
        produced = await produce(ctx, job, inputs)
        if response_format == "url":
            data.append({"url": await store(ctx, produced, job), "revised_prompt": job.prompt})
        else:
            made.append(await _blob_of(produced, job.model.id, bound))
    headers = {**model_headers(resolved), **job.notes.headers()}
    if response_format == "b64_json":
        return StreamResponse(_b64_json(int(time.time()), made, job.prompt), headers={"Content-Type": "application/json", **headers})
    return json_response({"created": int(time.time()), "data": data}, headers=headers)


async def debug_image(ctx: Context):
    """The guide's debug mode: try a model from a browser's address bar; off unless IMAGE_DEBUG is set."""
    if not ctx.settings.image_debug:
        raise ApiError(404, "The image debug mode is off; set IMAGE_DEBUG=true to try models with GET.",
                       code="debug_disabled")
    request = ctx.request
    resolved = await _image_model(ctx, request.query_value("model"))
    job, _, _ = images.from_images_api({"prompt": request.query_value("prompt") or ""}, resolved.model)
    produced = await produce(ctx, job)
    headers = {**model_headers(resolved), "Content-Type": images.CONTENT_TYPES[produced.extension], "Cache-Control": "no-store"}
    if isinstance(produced.data, bytes):
        return Response(200, produced.data, headers)
    return PassthroughResponse(produced.data.handle, headers=headers)


def is_image_model(resolved: Resolved) -> bool:
    return resolved.model.task in (TEXT_TO_IMAGE, IMAGE_TO_IMAGE)
