"""GET /v1/models and /v1/models/{id}: the binding's live model list (or the catalog) in OpenAI's list shape."""

from __future__ import annotations

from ..catalog import BY_ID, IMAGE_TO_IMAGE, MODELS, TEXT_TO_IMAGE, WORKERS_AI_TASK, LiveModel, Model, Resolved
from ..images import default_size, size_choices
from ..errors import ApiError, not_found
from ..http import json_response
from ..live_catalog import live_models
from ..platform import Context
from .common import resolve_model

# Model objects carry a creation time in OpenAI's shape; the catalog has no such
# date, so every entry reports the day this catalog was written.
CATALOG_CREATED = 1764028800  # 2025-11-25T00:00:00Z


def model_object(model: Model, live: LiveModel | None = None) -> dict:
    return {
        "id": model.id,
        "object": "model",
        "created": CATALOG_CREATED,
        "owned_by": model.owned_by,
        "task": model.task,
        "workers_ai_task": live.workers_ai_task if live else WORKERS_AI_TASK[model.task],
        "capabilities": sorted(model.capabilities),
        # What the live list's `require_workers_paid` says (the catalog's copy of it when the list is unavailable).
        "requires_paid_plan": live.paid if live else model.paid,
        # Image models: the `size` values they take (one for a model with a fixed size), the default first.
        **({"sizes": size_choices(model), "default_size": default_size(model)}
           if model.task in (TEXT_TO_IMAGE, IMAGE_TO_IMAGE) else {}),
    }


def alias_object(name: str, entry: dict) -> dict:
    # `root` names the model that really answers for this alias.
    return {**entry, "id": name, "root": entry["id"]}


async def _entries(ctx: Context) -> tuple[dict[str, dict], str]:
    """Model objects by id, and where they came from: "live" or "fallback" (the catalog)."""
    live = await live_models(ctx.platform)
    if live is None:
        return {m.id: model_object(m) for m in MODELS}, "fallback"
    entries = {}
    for model_id, entry in live.items():
        if entry.task is not None:  # tasks the gateway serves
            entries[model_id] = model_object(entry.as_model(), entry)
    return entries, "live"


def _aliases(ctx: Context, entries: dict[str, dict]):
    for name, target in ctx.settings.model_aliases.items():
        if target in entries:
            yield name, entries[target]


async def list_models(ctx: Context):
    entries, source = await _entries(ctx)
    data = list(entries.values()) + [alias_object(name, entry) for name, entry in _aliases(ctx, entries)]
    return json_response({"object": "list", "data": data}, headers={"X-Catalog-Source": source})


# Every task some endpoint serves: a name one of them accepts is a model this route describes.
SERVED_TASKS = tuple(WORKERS_AI_TASK)


async def _accepted(ctx: Context, name: str) -> Resolved | None:
    """The model the endpoints would run for `name` (resolved as they resolve it: aliases, dated
    OpenAI names by family, short ids, retired ids redirected), or None when no endpoint takes it."""
    try:
        resolved = await resolve_model(ctx, name, SERVED_TASKS[0], also=SERVED_TASKS[1:])
    except ApiError as error:
        if error.status == 404:
            raise  # its message says why (a retired model with redirection off)
        return None  # a name no endpoint takes (a task the gateway does not serve, a malformed name)
    # An id neither the catalog nor the live list knows is sent on for Workers AI to judge: nothing
    # here says it exists.
    return None if resolved.via == "passthrough" else resolved


async def retrieve_model(ctx: Context, model: str):
    entries, source = await _entries(ctx)
    headers = {"X-Catalog-Source": source}
    if model in entries:
        return json_response(entries[model], headers=headers)
    resolved = await _accepted(ctx, model)
    if resolved is None:
        raise not_found(f"The model '{model}' does not exist.", code="model_not_found", param="model")
    entry = entries.get(resolved.model.id) or model_object(resolved.model)
    return json_response(alias_object(model, entry), headers=headers)
