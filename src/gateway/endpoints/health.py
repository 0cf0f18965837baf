"""GET /health: is the worker up, which runtime, which bindings — and no secrets."""

from __future__ import annotations

import platform as python_platform

from .. import __version__, ledger
from ..http import json_response
from ..platform import Context


async def health(ctx: Context):
    settings = ctx.settings
    return json_response(
        {
            "status": "ok",
            "version": __version__,
            "runtime": ctx.platform.runtime,
            "python": python_platform.python_version(),
            "pyodide": ctx.platform.pyodide_version,
            "bindings": {name: name in settings.bindings for name in ("AI", "IMAGES")},
            "auth": {"api_keys_configured": bool(settings.api_keys)},
            # Usage accounting needs the D1 binding; the translation cache the Cache API.
            "accounting": "on" if ctx.platform.database is not None else "off (no USAGE_DB binding)",
            # This isolate's failed usage-database writes (kept to write later) and refusals.
            "accounting_failures": ledger.FAILURES.report(),
            # Whether the runtime gave a context whose waitUntil runs writes after the answer.
            "wait_until": ctx.platform.defer is not None,
            "translation_cache": {"enabled": ctx.platform.cache is not None and settings.translate_cache_ttl > 0,
                                  "ttl_seconds": settings.translate_cache_ttl},
            "python_heap_mib": round(ctx.platform.python_heap_bytes() / 1048576, 1) if ctx.platform.python_heap_bytes else None,
        },
        headers={"Cache-Control": "no-store"},
    )
