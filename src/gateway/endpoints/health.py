"""GET /health: is the worker up, which runtime, which bindings — and no secrets."""

from __future__ import annotations

import platform as python_platform

from .. import __version__
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
            "python_heap_mib": round(ctx.platform.python_heap_bytes() / 1048576, 1) if ctx.platform.python_heap_bytes else None,
        },
        headers={"Cache-Control": "no-store"},
    )
