"""POST /ai/run/{model}: the Workers AI REST shape, `{"result": ...}` around a model's answer.

Translation models take the original guide's `{text, source_lang, target_lang}` through the
translation pipeline. Clef's decision models take their own published input (`model`, `state`,
`questions`, `images`...), checked against their contract first, so a mistake is a 400 naming the
field rather than Workers AI's 5006; images sent as data: URLs stay in the runtime.
"""

from __future__ import annotations

from .. import contracts
from ..catalog import DECISION, TRANSLATION, Resolved
from ..errors import bad_request
from ..http import json_response
from ..platform import Context, is_blob
from . import translate
from .common import model_headers, resolve_model, run_model
from .images import image_type

# The problems named in a 400: enough to fix the input, short enough to read.
MAX_PROBLEMS = 5


async def ai_run(ctx: Context, model: str):
    body = await ctx.request.json_object(inline_data=True)
    resolved = await resolve_model(ctx, model, TRANSLATION, also=(DECISION,))
    if resolved.model.task == DECISION:
        return await decide(ctx, resolved, body)
    return await translate.run_translation(ctx, resolved, body)


async def decide(ctx: Context, resolved: Resolved, body: dict):
    # `model` selects the Clef variant inside the input; the path already named it.
    body.setdefault("model", resolved.model.id.rsplit("/", 1)[-1])
    images = body.get("images")
    inline = isinstance(images, list) and any(is_blob(item) for item in images)
    checked = {**body, "images": ["data:" if is_blob(item) else item for item in images]} if inline else body
    problems = contracts.check_input(resolved.model.id, checked)
    if problems:
        raise bad_request(f"The input does not match {resolved.model.id}'s published schema: "
                          + "; ".join(problems[:MAX_PROBLEMS]), code="invalid_input")
    if inline:
        body["images"] = [item.data_url(image_type(item)) if is_blob(item) else item for item in images]
    result = await run_model(ctx, resolved.model.id, body)
    return json_response({"result": result, "success": True, "errors": [], "messages": []},
                         headers=model_headers(resolved))
