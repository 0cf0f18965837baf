"""What the AI-backed endpoints share: the model headers and running a model."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from ..catalog import BY_ID, Resolved, needs_live_list, resolve
from ..limits import is_header_safe
from ..live_catalog import live_models
from ..errors import ApiError, UpstreamError, from_upstream
from ..platform import Context
from ..sse import MAX_RELAYED_BYTES


# Splits a LoRA shorthand "<base>:<adapter>" at its last colon (Workers AI ids have none).
ADAPTER_SEPARATOR = ":"


@dataclasses.dataclass(frozen=True)
class AdaptedResolved(Resolved):
    """A model named with a LoRA adapter ("<base>:<adapter>"): the base model, and the adapter
    (its name or id) that goes to the model as `lora`."""

    adapter: str | None = None


def adapter_of(resolved: Resolved) -> str | None:
    return getattr(resolved, "adapter", None)


def model_headers(resolved: Resolved) -> dict[str, str]:
    """Says which model really answered (with the LoRA adapter it ran with), and what the client asked for."""
    adapter = adapter_of(resolved)
    headers = {"X-Model": resolved.model.id + (ADAPTER_SEPARATOR + adapter if adapter else "")}
    if resolved.requested != resolved.model.id:
        headers["X-Requested-Model"] = resolved.requested
        headers["X-Model-Resolution"] = resolved.via
    return headers


async def resolve_model(ctx: Context, name, task: str, *, also: tuple[str, ...] = ()) -> Resolved:
    """The model for a request; the binding's live list is read only for names the catalog cannot place."""
    settings = ctx.settings
    base, adapter = split_adapter(name, settings.model_aliases)
    live = await live_models(ctx.platform) if needs_live_list(base, settings.model_aliases) else None
    resolved = resolve(base, task, aliases=settings.model_aliases, redirect_retired=settings.redirect_retired_models,
                       also=also, live=live)
    if adapter is None:
        return resolved
    fields = {f.name: getattr(resolved, f.name) for f in dataclasses.fields(resolved)}
    return AdaptedResolved(**{**fields, "requested": name}, adapter=adapter)


def split_adapter(name, aliases: dict[str, str]) -> tuple:
    """(base model name, LoRA adapter or None) for `model`: "<base>:<adapter>" names the adapter
    after the last colon, unless the whole name is an alias or a model id the catalog knows."""
    if (not isinstance(name, str) or ADAPTER_SEPARATOR not in name or name in aliases or name in BY_ID
            or not is_header_safe(name)):  # resolve refuses an unsafe name whole
        return name, None
    base, _, adapter = name.rpartition(ADAPTER_SEPARATOR)
    if not base or not adapter:
        return name, None
    return base, adapter


async def run_model(ctx: Context, model_id: str, inputs: dict, *, vectors_key: str | None = None,
                    audio_bytes: int | None = None):
    """One Workers AI call through the request's meter (metering.MeteredAi: call caps, budgets, the
    timeout, what it cost), its failures in the client's terms."""
    ai = ctx.platform.ai
    if ai is None:
        raise ApiError(
            503,
            "This worker has no Workers AI binding: add `[ai] binding = \"AI\"` to wrangler.toml.",
            type="server_error",
            code="ai_binding_missing",
        )
    try:
        if vectors_key or audio_bytes is not None:
            return await ai.run(model_id, inputs, vectors_key=vectors_key, audio_bytes=audio_bytes)
        return await ai.run(model_id, inputs)
    except asyncio.TimeoutError:
        print(f"Workers AI call to {model_id} timed out after {ctx.settings.ai_timeout_seconds:g}s")
        raise from_upstream(UpstreamError("timed out", 3007), model_id, time.time()) from None
    except UpstreamError as error:
        print(f"Workers AI error from {model_id}: code={error.code}")
        raise from_upstream(error, model_id, time.time()) from None


async def idle_timeout(chunks, seconds: float, max_bytes: int = MAX_RELAYED_BYTES):
    """The chunks of a stream read in Python, ending it with UpstreamError when the model goes
    silent for `seconds` or has sent more than `max_bytes` (the chat relay in the runtime's pipe
    has its own watchdog and cap instead)."""
    iterator = chunks.__aiter__()
    relayed = 0
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), seconds)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise UpstreamError(f"the stream was silent for {seconds:g}s") from None
        relayed += len(chunk)
        if relayed > max_bytes:
            raise UpstreamError(f"the stream passed {max_bytes} bytes")
        yield chunk
