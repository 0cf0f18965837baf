"""The floor of any Python worker on this runtime: a request in, a constant Response out."""

from js import Response


async def on_fetch(request, env):
    return Response.new('{"ok":true}')
