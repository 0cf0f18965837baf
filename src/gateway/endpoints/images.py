"""Images: text-to-image through chat and through /v1/images/generations, stored in R2 and served at /file/<key>."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from .. import images
from ..contracts import contract_for
from ..catalog import IMAGE_TO_IMAGE, TEXT_TO_IMAGE, Resolved, resolve
from ..chat import ChatRequest, chunks_from_completion, completion, completion_chunks
from ..errors import ApiError, UpstreamError, bad_request, from_upstream
from ..http import PassthroughResponse, Response, StreamResponse, json_response
from ..platform import Context, FetchError, StorageError
from ..sse import SSE_HEADERS
from .common import model_headers, run_model
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


async def _input_image(ctx: Context, url: str) -> bytes:
    data = images.parse_data_url(url)
    if data is not None:
        return data
    fetcher = ctx.platform.fetcher
    if fetcher is None:
        raise bad_request("This runtime cannot fetch image URLs; send the image as a data: URL.", param="image_url")
    try:
        return await fetcher.fetch_bytes(images.check_remote_url(url), images.MAX_INPUT_IMAGE_BYTES)
    except FetchError as error:
        raise bad_request(f"The image at {url} could not be fetched: {error}.", param="image_url",
                          code="image_fetch_failed") from None


async def produce(ctx: Context, job: images.ImageJob) -> Produced:
    inputs = dict(job.inputs)
    if job.image_url:
        inputs["image_b64"] = base64.b64encode(await _input_image(ctx, job.image_url)).decode()
    if job.mask_url and "mask" in job.model.capabilities:
        inputs["mask"] = list(await _input_image(ctx, job.mask_url))
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


async def _bytes_of(produced: Produced) -> bytes:
    if isinstance(produced.data, bytes):
        return produced.data
    return b"".join([chunk async for chunk in produced.data])


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


def _image_model(ctx: Context, name) -> Resolved:
    settings = ctx.settings
    return resolve(name, TEXT_TO_IMAGE, aliases=settings.model_aliases, redirect_retired=settings.redirect_retired_models,
                   also=(IMAGE_TO_IMAGE,))


async def create_images(ctx: Context):
    body = await ctx.request.json_object()
    resolved = _image_model(ctx, body.get("model"))
    job, n, response_format = images.from_images_api(body, resolved.model)
    if response_format == "url":
        _storage(ctx)  # before the model runs, as for chat
    data = []
    for _ in range(n):
        produced = await produce(ctx, job)
        if response_format == "url":
            data.append({"url": await store(ctx, produced, job), "revised_prompt": job.prompt})
        else:
            data.append({"b64_json": base64.b64encode(await _bytes_of(produced)).decode(), "revised_prompt": job.prompt})
    return json_response({"created": int(time.time()), "data": data}, headers={**model_headers(resolved), **job.notes.headers()})


async def debug_image(ctx: Context):
    """The guide's debug mode: try a model from a browser's address bar; off unless IMAGE_DEBUG is set."""
    if not ctx.settings.image_debug:
        raise ApiError(404, "The image debug mode is off; set IMAGE_DEBUG=true to try models with GET.",
                       code="debug_disabled")
    request = ctx.request
    resolved = _image_model(ctx, request.query_value("model"))
    job, _, _ = images.from_images_api({"prompt": request.query_value("prompt") or ""}, resolved.model)
    produced = await produce(ctx, job)
    headers = {**model_headers(resolved), "Content-Type": images.CONTENT_TYPES[produced.extension], "Cache-Control": "no-store"}
    if isinstance(produced.data, bytes):
        return Response(200, produced.data, headers)
    return PassthroughResponse(produced.data.handle, headers=headers)


def is_image_model(resolved: Resolved) -> bool:
    return resolved.model.task in (TEXT_TO_IMAGE, IMAGE_TO_IMAGE)
