"""GET /: a small page to try a fresh deployment (chat, image, translation, transcription) with a pasted key."""

from __future__ import annotations

from ..http import Response
from ..platform import Context

PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Workers AI gateway</title>
<p>Playground coming soon.</p></html>"""


async def page(ctx: Context):
    # A static page: it holds no secret and spends nothing; the key stays in the visitor's browser.
    return Response(200, PAGE, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"})
