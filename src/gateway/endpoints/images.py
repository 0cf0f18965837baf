"""Images: text-to-image through chat and through /v1/images/generations, stored in R2 and served at /file/<key>."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from .. import images
from ..contracts import contract_for
from ..catalog import IMAGE_TO_IMAGE, TEXT_TO_IMAGE, Resolved
from ..chat import ChatRequest, chunks_from_completion, completion, completion_chunks
from ..errors import ApiError, UpstreamError, bad_request, from_upstream
from ..http import PassthroughResponse, Response, StreamResponse, json_response
from ..platform import Context, FetchError, StorageError
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
    ctx.budget.spend_fetch()
    try:
        return await fetcher.fetch_image(url, max_bytes=images.MAX_INPUT_IMAGE_BYTES,
                                         timeout=min(ctx.settings.fetch_timeout_seconds, ctx.settings.ai_timeout_seconds),
                                         max_redirects=images.FETCH_MAX_REDIRECTS)
    except FetchError as error:
        # One of a few fixed reasons; the target's own status or error never reaches the client.
        raise bad_request(f"The image_url could not be fetched: {error}.", param="image_url",
                          code="image_fetch_failed") from None


async def _input_image(ctx: Context, url: str) -> bytes:
    """An input image's bytes in Python, for the chat models that take images as bytes; a remote one
    is fetched with the same bounds (timeout, redirects, image/*, 10 MB while streaming, 2 per request)."""
    data = images.parse_data_url(url)
    if data is not None:
        return data
    return await (await _fetch_image(ctx, url)).read()


async def _image_base64(ctx: Context, url: str):
    # A data: URL's base64 is used as sent: no decoded copy of the image in Python.
    payload = images.data_url_base64(url)
    return payload if payload is not None else await (await _fetch_image(ctx, url)).base64()


async def _mask_values(ctx: Context, url: str):
    """The mask as the array of byte values the inpainting model takes, built in the runtime."""
    payload = images.data_url_base64(url)
    if payload is None:
        return await (await _fetch_image(ctx, url)).byte_values()
    fetcher = ctx.platform.fetcher
    if fetcher is None:  # no runtime to keep the bytes (unit tests)
        return list(base64.b64decode(payload))
    return await fetcher.from_base64(payload).byte_values()


async def model_inputs(ctx: Context, job: images.ImageJob) -> dict:
    """The job's inputs with its input image and mask, fetched once for all `n` images."""
    inputs = dict(job.inputs)
    if job.model.limits.get("input") == "multipart":
        # FLUX.2 takes form data; an image_url becomes its first reference image.
        reference = await _input_image(ctx, job.image_url) if job.image_url else None
        inputs = images.multipart_inputs(job, reference)
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
    """Stores the image and returns its public URL — only once the write succeeded."""
    storage = _storage(ctx)
    key = images.new_key(produced.extension)
    try:
        await storage.put(
            key, produced.data, content_type=images.CONTENT_TYPES[produced.extension],
            metadata={"model": job.model.id, "created": str(int(time.time()))},
        )
    except StorageError as error:
        print(f"R2 write failed for {key}: {error}")
        raise ApiError(502, "The image was generated but could not be stored; try again.", type="server_error",
                       code="storage_failed") from None
    return file_url(ctx, key)


# A streamed image read into Python for b64_json; the model's PNGs are a few MB.
MAX_OUTPUT_IMAGE_BYTES = 16 * 1024 * 1024


async def _bytes_of(produced: Produced, model_id: str) -> bytes:
    if isinstance(produced.data, bytes):
        return produced.data
    chunks, size = [], 0
    async for chunk in produced.data:
        size += len(chunk)
        if size > MAX_OUTPUT_IMAGE_BYTES:
            print(f"image stream from {model_id} passed {MAX_OUTPUT_IMAGE_BYTES} bytes")
            raise from_upstream(UpstreamError("the image stream is too large"), model_id, time.time())
        chunks.append(chunk)
    return b"".join(chunks)


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
    body = await ctx.request.json_object()
    resolved = await _image_model(ctx, body.get("model"))
    job, n, response_format = images.from_images_api(body, resolved.model)
    if response_format == "url":
        _storage(ctx)  # before the model runs, as for chat
    ctx.budget.reserve(n)
    inputs = await model_inputs(ctx, job)
    await ctx.meter.prepay([(job.model.id, inputs)] * n)
    data = []
    for _ in range(n):
        produced = await produce(ctx, job, inputs)
        if response_format == "url":
            data.append({"url": await store(ctx, produced, job), "revised_prompt": job.prompt})
        else:
            data.append({"b64_json": base64.b64encode(await _bytes_of(produced, job.model.id)).decode(), "revised_prompt": job.prompt})
    return json_response({"created": int(time.time()), "data": data}, headers={**model_headers(resolved), **job.notes.headers()})


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
