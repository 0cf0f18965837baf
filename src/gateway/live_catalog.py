"""The binding's live model list (`AI.models()`), cached per isolate, with the catalog as fallback.

Workers AI changes its catalog monthly; the binding's `models(params)` answers the
account's current models with their task and properties (`AiModelsSearchParams` /
`AiModelsSearchObject` in `@cloudflare/workers-types`). The list is read at most once
per `MODELS_CACHE_SECONDS` per isolate; when the call fails, `catalog.py` answers alone
(and the call is retried after `RETRY_AFTER_FAILURE_SECONDS`).
"""

from __future__ import annotations

import asyncio
import time

from .catalog import LiveModel
from .platform import Platform

PAGE_SIZE = 100
MAX_PAGES = 10
CALL_TIMEOUT_SECONDS = 10.0
RETRY_AFTER_FAILURE_SECONDS = 30.0

# Per isolate: {"models": dict | None, "at": epoch seconds of the last attempt}.
_cache: dict = {}


def reset() -> None:
    _cache.clear()


def parse(entries) -> dict[str, LiveModel]:
    """`AiModelsSearchObject[]` → LiveModel by id (the entry's `name`, e.g. `@cf/meta/...`)."""
    models: dict[str, LiveModel] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        task = entry.get("task")
        task_name = task.get("name") if isinstance(task, dict) else task
        properties = {}
        for prop in entry.get("properties") or []:
            if isinstance(prop, dict) and isinstance(prop.get("property_id"), str):
                properties[prop["property_id"]] = prop.get("value")
        models[entry["name"]] = LiveModel(entry["name"], task_name if isinstance(task_name, str) else "", properties)
    return models


async def _read(ai) -> dict[str, LiveModel]:
    entries: list = []
    for page in range(1, MAX_PAGES + 1):
        got = await asyncio.wait_for(ai.models({"per_page": PAGE_SIZE, "page": page}), CALL_TIMEOUT_SECONDS)
        if not isinstance(got, list):
            raise ValueError(f"models() answered {type(got).__name__}, not a list")
        entries.extend(got)
        if len(got) < PAGE_SIZE:
            break
    models = parse(entries)
    if not models:
        raise ValueError("models() answered no models")
    return models


async def live_models(platform: Platform, now: float | None = None) -> dict[str, LiveModel] | None:
    """The live list, or None when it cannot be read (no binding, an error, a timeout)."""
    ai = platform.ai
    if ai is None or not hasattr(ai, "models"):
        return None
    now = time.time() if now is None else now
    ttl = platform.settings.models_cache_seconds
    if _cache:
        age = now - _cache["at"]
        fresh = age < ttl if _cache["models"] is not None else age < min(ttl, RETRY_AFTER_FAILURE_SECONDS)
        if fresh:
            return _cache["models"]
    try:
        models = await _read(ai)
    except Exception as error:  # the static table answers; the log says why
        print(f"AI.models() failed, using the static catalog: {type(error).__name__}: {error}")
        models = None
    _cache.update(models=models, at=now)
    return models
