"""Text-to-image (and img2img) requests: prompts, sizes, steps, input images, and the keys images are stored under.

Two entry shapes lead here: a chat request naming an image model (the prompt is
the last user message, an input image its `image_url` part) and OpenAI's
`/v1/images/generations`. Both become an `ImageJob`; what the model returns
(PNG bytes as a stream, or `{image: base64}` JPEG) is told apart in `decode`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from . import contract_data
from .catalog import IMAGE_TO_IMAGE, Model, in_family
from .contracts import Notes, contract_for, fit
from .errors import ApiError, UpstreamError, bad_request
from .platform import is_blob

MAX_IMAGES = 4
MAX_INPUT_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PROMPT_CHARS = 2048
_SIZE = re.compile(r"^(\d{2,4})x(\d{2,4})$")
_DATA_URL = re.compile(r"^data:([\w.+/-]*)((?:;[\w=.+-]+)*?)(;base64)?,(.*)$", re.S)

# Output sizes: each model's documented default (1024x1024 unless listed), and the choices
# GET /v1/models offers for a model that takes width/height (the default first).
DEFAULT_SIDES = {"@cf/leonardo/lucid-origin": 1120, "@cf/lykon/dreamshaper-8-lcm": 512,
                 "@cf/runwayml/stable-diffusion-v1-5-img2img": 512, "@cf/runwayml/stable-diffusion-v1-5-inpainting": 512}
SIZE_CHOICES = ("512x512", "768x768", "1024x1024", "1024x768", "768x1024", "1280x720", "720x1280")


def default_size(model: Model) -> str:
    side = DEFAULT_SIDES.get(model.id, 1024)
    return f"{side}x{side}"


def size_choices(model: Model) -> list[str]:
    default = default_size(model)
    if not model.limits.get("sized", True):
        return [default]
    return [default] + [size for size in SIZE_CHOICES if size != default]


CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
# Stored keys: a date prefix (so an R2 lifecycle rule can expire old images) and 128 random bits.
KEY_PATTERN = re.compile(r"^images/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.(png|jpg|webp)$")


@dataclass
class ImageJob:
    model: Model
    prompt: str
    inputs: dict
    # img2img / inpainting: where the input image and mask come from (data: or http(s): URLs).
    image_url: str | None = None
    mask_url: str | None = None
    # FLUX.2: reference images after the first (`image_url`), each its own form field.
    references: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)
    # What was dropped or clamped to fit the model's contract (reported in response headers).
    notes: Notes = field(default_factory=Notes)


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def _image_urls(content) -> list[str]:
    urls = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                if (isinstance(url, str) and url) or is_blob(url):
                    urls.append(url)
    return urls


def _int(body: dict, name: str, low: int, high: int):
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"`{name}` must be an integer from {low} to {high}.", param=name)
    return value


def _inputs(model: Model, prompt: str, body: dict) -> dict:
    if not prompt.strip():
        raise bad_request("The prompt is empty: say what the image should show.", param="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise bad_request(f"The prompt is longer than {MAX_PROMPT_CHARS} characters.", param="prompt")
    limits = model.limits
    inputs: dict = {"prompt": prompt}
    max_steps = limits.get("max_steps", 20)
    steps = _int(body, "steps", 1, max_steps)
    if steps is None:
        steps = _int(body, "num_steps", 1, max_steps)
    steps_param = limits.get("steps_param", "num_steps")
    if steps_param:  # FLUX.2 klein's step count is fixed: nothing to send
        inputs[steps_param] = steps or limits.get("default_steps", min(max_steps, 20))
    seed = _int(body, "seed", 0, 2**32 - 1)
    if seed is not None:
        inputs["seed"] = seed
    size = body.get("size")
    if size not in (None, "auto"):
        found = _SIZE.match(size) if isinstance(size, str) else None
        max_side = limits.get("max_side", 2048)
        if not found or not all(256 <= int(v) <= max_side for v in found.groups()):
            if found and all(256 <= int(v) <= 2048 for v in found.groups()):
                raise bad_request(f"`size`: {model.id} makes images with sides from 256 to {max_side}.", param="size")
            raise bad_request("`size` must look like 1024x1024, each side from 256 to 2048.", param="size")
        if limits.get("sized", True):  # flux-1-schnell has one size
            inputs["width"], inputs["height"] = int(found.group(1)), int(found.group(2))
    for name in ("negative_prompt",):
        if isinstance(body.get(name), str) and body[name]:
            inputs[name] = body[name]
    for name, low, high in (("guidance", 0, 30), ("strength", 0, 1)):
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise bad_request(f"`{name}` must be a number from {low} to {high}.", param=name)
            inputs[name] = value
    return inputs


# Model input names → the parameter the client sent, for messages and headers.
_PARAM_NAMES = {"num_steps": "steps", "width": "size", "height": "size"}


def _needs_inputs(job: ImageJob) -> ImageJob:
    model = job.model
    # Drop what the model does not take (flux-1-schnell: only prompt and steps), clamp the rest into range.
    job.notes = fit(contract_for(model.id), job.inputs, "prompt", names=_PARAM_NAMES)
    if model.task == IMAGE_TO_IMAGE and not job.image_url:
        raise bad_request(
            f"'{model.id}' transforms an image: send one as an image_url part (a data: or https: URL).",
            param="image", code="image_required",
        )
    if "mask" in model.capabilities and not job.mask_url:
        raise bad_request(
            f"'{model.id}' paints inside a mask: send the image and then the mask as two image_url parts.",
            param="mask", code="mask_required",
        )
    return job


def from_chat(body: dict, model: Model) -> ImageJob:
    """The image job a chat request describes: its last user message is the prompt."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("`messages` must be a non-empty array.", param="messages")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise bad_request("An image model needs a user message with the prompt.", param="messages")
    content = users[-1].get("content")
    urls = _image_urls(content)
    if model.limits.get("input") == "multipart":
        last_user = max(i for i, m in enumerate(messages) if m is users[-1])
        _check_references(model, len(urls), f"messages[{last_user}].content")
        job = ImageJob(model, _text(content), _inputs(model, _text(content), body),
                       image_url=urls[0] if urls else None, references=urls[1:])
        return _needs_inputs(job)
    job = ImageJob(model, _text(content), _inputs(model, _text(content), body),
                   image_url=urls[0] if urls else None, mask_url=urls[1] if len(urls) > 1 else None)
    return _needs_inputs(job)


# FLUX.2's form takes its reference images as input_image_0 … input_image_N, which its contract
# names as the form field "input_image_0..N": how many a model takes is read from there.
_REFERENCE_FIELDS = re.compile(r"^input_image_0(?:\.\.(\d+))?$")
_REFERENCE_LIMITS: dict[str, int] = {}


def reference_image_limit(model_id: str) -> int:
    """How many reference images the model's form takes (0 when its contract names none)."""
    if model_id not in _REFERENCE_LIMITS:
        raw = contract_data.MODELS.get(model_id)
        fields = (json.loads(raw).get("form_fields") or {}) if raw else {}
        found = [_REFERENCE_FIELDS.match(name) for name in fields]
        _REFERENCE_LIMITS[model_id] = max((int(m.group(1) or 0) + 1 for m in found if m), default=0)
    return _REFERENCE_LIMITS[model_id]


def _check_references(model: Model, count: int, param: str) -> None:
    limit = reference_image_limit(model.id)
    if count > limit:
        raise bad_request(f"'{model.id}' takes at most {limit} reference image{'s' * (limit != 1)}, not {count}.",
                          param=param, code="too_many_images")


# OpenAI's GPT image models (gpt-image-1, gpt-image-1-mini, gpt-image-1.5, their snapshots) always
# answer base64 and refuse `response_format`, which only the DALL·E models take; clients of them
# read `b64_json` and never look for a `url`.
BASE64_ONLY_FAMILIES = ("gpt-image-1",)


def answers_base64_only(requested_name) -> bool:
    """Whether the model name a client asked for is one OpenAI answers only in `b64_json`."""
    return in_family(requested_name, BASE64_ONLY_FAMILIES)


def _response_format(body: dict, requested_name) -> str:
    response_format = body.get("response_format")
    if answers_base64_only(requested_name):
        if response_format is not None:
            # OpenAI's own words and code: a client written against OpenAI meets the error it knows.
            raise ApiError(400, "Unknown parameter: 'response_format'.", param="response_format",
                           code="unknown_parameter")
        return "b64_json"
    response_format = response_format or "url"
    if response_format not in ("url", "b64_json"):
        raise bad_request("`response_format` must be url or b64_json.", param="response_format")
    return response_format


def from_images_api(body: dict, model: Model, requested_name=None) -> tuple[ImageJob, int, str]:
    """The job, how many images (`n`) and the `response_format` of an images API request for the
    model the client named `requested_name`. OpenAI's description makes `n`, `size`, `quality`,
    `style`, `response_format` (and the rest but `prompt`) nullable: null is the default."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise bad_request("`prompt` is required and must be a string.", param="prompt")
    n = body.get("n")
    if n is None:
        n = 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise bad_request(f"`n` must be an integer from 1 to {MAX_IMAGES}.", param="n")
    response_format = _response_format(body, requested_name)
    image, mask = body.get("image"), body.get("mask")
    if model.limits.get("input") == "multipart" and isinstance(image, list):
        # OpenAI's edits take an array of images: FLUX.2 takes them as its reference images.
        sources = [item for item in image if _is_image_source(item)]
        _check_references(model, len(sources), "image")
        job = ImageJob(model, prompt, _inputs(model, prompt, body), image_url=sources[0] if sources else None,
                       references=sources[1:])
        return _needs_inputs(job), n, response_format
    job = ImageJob(model, prompt, _inputs(model, prompt, body), image_url=image if _is_image_source(image) else None,
                   mask_url=mask if _is_image_source(mask) else None)
    return _needs_inputs(job), n, response_format


def _is_image_source(value) -> bool:
    return isinstance(value, str) or is_blob(value)


def data_url_type(url: str) -> str:
    """The media type a `data:` URL declares ("" when none)."""
    found = _DATA_URL.match(url[:512])
    return found.group(1).lower() if found else ""


def check_blob(blob) -> None:
    """An input image the runtime kept from the body (a long base64 data: URL): the bounds a data:
    URL string has, checked from its length alone."""
    if not getattr(blob, "well_formed", True):
        raise bad_request("The image data: URL is not valid base64.", param="image_url")
    _check_size(blob.size)


def _check_size(size: int) -> None:
    """An input image's size in bytes: 400 when it is over MAX_INPUT_IMAGE_BYTES or nothing."""
    if size > MAX_INPUT_IMAGE_BYTES:
        raise bad_request(f"The input image is larger than {MAX_INPUT_IMAGE_BYTES // (1024 * 1024)} MB.", param="image_url")
    if size <= 0:
        raise bad_request("The input image is empty.", param="image_url")


def parse_data_url(url: str) -> bytes | None:
    """The bytes of a `data:` URL, None for other URLs; 400 when it is malformed or too big."""
    if not url.startswith("data:"):
        return None
    found = _DATA_URL.match(url)
    if not found:
        raise bad_request("The image data: URL is malformed.", param="image_url")
    payload = found.group(4)
    try:
        data = base64.b64decode(payload, validate=False) if found.group(3) else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise bad_request("The image data: URL is not valid base64.", param="image_url") from None
    _check_size(len(data))
    return data


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def data_url_base64(url: str) -> str | None:
    """The image of a `data:` URL as base64, None for other URLs; 400 when malformed, empty or too big.

    A well-formed base64 payload is returned as it is: no decoded copy of the image is made in Python.
    """
    if not url.startswith("data:"):
        return None
    # Checked in place (no copies of a 13 MB payload beside the URL); one slice is made at the end.
    comma = url.find(",")
    start = comma + 1
    if comma > 0 and url[:comma].endswith(";base64") and (len(url) - start) % 4 == 0 and _BASE64.fullmatch(url, start):
        padding = 2 if url.endswith("==") else 1 if url.endswith("=") else 0
        size = (len(url) - start) // 4 * 3 - padding
        _check_size(size)
        return url[start:]
    # Unusual spellings (percent-encoding, line breaks, URL-safe base64): decoded and re-encoded.
    return base64.b64encode(parse_data_url(url)).decode()


# Remote input images: one fetch for the image and one for the mask, at most.
FETCH_MAX_REDIRECTS = 3


def check_remote_url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise bad_request("An image_url must be a data: URL or an http(s) URL.", param="image_url")
    return url


def sniff(data: bytes) -> str | None:
    """The file extension for image bytes, from their magic number."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_b64_image(result) -> tuple[bytes, str]:
    """Bytes and extension of a `{image: base64}` result, or UpstreamError."""
    image = result.get("image") if isinstance(result, dict) else None
    if not isinstance(image, str) or not image:
        raise UpstreamError("the image model answered without an image")
    try:
        data = base64.b64decode(image)
    except (binascii.Error, ValueError):
        raise UpstreamError("the image model answered with invalid base64") from None
    extension = sniff(data)
    if extension is None:
        raise UpstreamError("the image model answered with bytes that are not an image")
    return data, extension


def new_key(extension: str, now: float | None = None) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if now is None else now))
    return f"images/{day}/{secrets.token_hex(16)}.{extension}"


def markdown(url: str) -> str:
    return f"![]({url})"


def multipart_inputs(job: ImageJob, input_images: list = ()):
    """FLUX.2's input: the job's fields it takes (`form_fields`) as multipart form data, the input
    images (if any) as `input_image_0`, `input_image_1`…; what it does not take is noted as dropped."""
    from .platform import MultipartForm

    allowed = job.model.limits.get("form_fields", ("prompt",))
    fields = {}
    for key, value in job.inputs.items():
        if key in allowed:
            fields[key] = str(value)
        elif not key.startswith("__emulator"):
            job.notes.dropped.append(_PARAM_NAMES.get(key, key))
    for index, input_image in enumerate(input_images):
        # The runtime's bytes (a JS Uint8Array on Workers) go into the form as they are.
        fields[f"input_image_{index}"] = input_image.runtime_bytes()
    return {"multipart": MultipartForm(fields)}

