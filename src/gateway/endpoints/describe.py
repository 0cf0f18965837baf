"""GET /openapi.json: the OpenAPI description, built once per isolate."""

from __future__ import annotations

from functools import cache

from ..http import json_response
from ..openapi import spec
from ..platform import Context

_spec = cache(spec)


async def openapi_json(ctx: Context):
    return json_response(_spec(), headers={"Cache-Control": "no-cache"})
