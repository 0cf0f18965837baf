"""GET /v1/models and /v1/models/{id}: the catalog in OpenAI's list shape."""

from __future__ import annotations

from ..catalog import BY_ID, MODELS, WORKERS_AI_TASK, Model
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
    }


async def list_models(ctx: Context):
    return json_response({"object": "list", "data": [model_object(m) for m in MODELS]})


async def retrieve_model(ctx: Context, model: str):
    found = BY_ID.get(model)
    if found is None:
        raise not_found(f"The model '{model}' does not exist.", code="model_not_found", param="model")
    return json_response(model_object(found))
