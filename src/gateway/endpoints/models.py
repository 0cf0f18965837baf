"""GET /v1/models and /v1/models/{id}: the catalog in OpenAI's list shape."""

from __future__ import annotations

from ..catalog import BY_ID, IMAGE_TO_IMAGE, MODELS, TEXT_TO_IMAGE, WORKERS_AI_TASK, Model
from ..images import default_size, size_choices
from ..errors import not_found
from ..http import json_response
from ..platform import Context

# Model objects carry a creation time in OpenAI's shape; the catalog has no such
# date, so every entry reports the day this catalog was written.
CATALOG_CREATED = 1764028800  # 2025-11-25T00:00:00Z


def model_object(model: Model) -> dict:
    return {
        "id": model.id,
        "object": "model",
        "created": CATALOG_CREATED,
        "owned_by": model.owned_by,
        "task": model.task,
        "workers_ai_task": WORKERS_AI_TASK[model.task],
        "capabilities": sorted(model.capabilities),
        # Image models: the `size` values they take (one for a model with a fixed size), the default first.
        **({"sizes": size_choices(model), "default_size": default_size(model)}
           if model.task in (TEXT_TO_IMAGE, IMAGE_TO_IMAGE) else {}),
    }


def alias_object(name: str, model: Model) -> dict:
    # `root` names the model that really answers for this alias.
    return {**model_object(model), "id": name, "root": model.id}


def _aliases(ctx: Context):
    for name, target in ctx.settings.model_aliases.items():
        model = BY_ID.get(target)
        if model is not None:
            yield name, model


async def list_models(ctx: Context):
    data = [model_object(m) for m in MODELS] + [alias_object(name, m) for name, m in _aliases(ctx)]
    return json_response({"object": "list", "data": data})


async def retrieve_model(ctx: Context, model: str):
    if model in BY_ID:
        return json_response(model_object(BY_ID[model]))
    for name, target in _aliases(ctx):
        if name == model:
            return json_response(alias_object(name, target))
    raise not_found(f"The model '{model}' does not exist.", code="model_not_found", param="model")
