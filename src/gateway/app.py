"""The gateway's request pipeline: CORS preflight, routing, auth, the handler, errors."""

from __future__ import annotations

import dataclasses
import inspect
import traceback

from . import envelopes, ledger, limits, usage
from .auth import require_api_key, require_translate_secret
from .request_caps import RequestCaps
from .cors import cors_headers, preflight
from .endpoints import audio, chat, deepl, describe, embeddings, files, health, images, moderations, playground, responses, run, translate
from .endpoints import anthropic, glossaries
from .endpoints import usage as usage_endpoint
from .deepl import require_secret as deepl_secret
from .errors import ApiError, internal_error
from .http import AnyResponse, Request, Response, finish_with
from .metering import MeteredAi, Meter
from .platform import Context, Platform
from .routing import Route, Router

ROUTER = Router(
    [
        Route(("GET",), "/", playground.page, public=True),
        Route(("GET",), "/health", health.health, public=True),
        Route(("GET",), "/openapi.json", describe.openapi_json),
        # Anthropic's list shape when the request carries `anthropic-version`, else OpenAI's.
        Route(("GET",), "/v1/models", anthropic.list_models),
        Route(("GET",), "/v1/models/{model:path}", anthropic.retrieve_model),
        Route(("POST",), "/v1/chat/completions", chat.chat_completions),
        Route(("POST",), "/v1/embeddings", embeddings.create_embeddings),
        Route(("POST",), "/v1/completions", responses.create_completion),
        Route(("POST",), "/v1/responses", responses.create_response),
        Route(("POST",), "/v1/messages", anthropic.create_message, errors=envelopes.anthropic),
        Route(("POST",), "/v1/messages/count_tokens", anthropic.count_tokens, errors=envelopes.anthropic),
        Route(("POST",), "/v1/images/generations", images.create_images),
        Route(("POST",), "/v1/audio/transcriptions", audio.transcriptions),
        Route(("POST",), "/v1/audio/translations", audio.translations),
        Route(("POST",), "/v1/audio/speech", audio.speech),
        Route(("POST",), "/v1/moderations", moderations.create_moderation),
        Route(("GET",), "/v1/images/generations", images.debug_image),
        Route(("GET",), "/file/{key:path}", files.serve_file, public=True),
        Route(("POST",), "/translate", translate.deeplx, auth=require_translate_secret, errors=envelopes.deeplx),
        Route(("POST",), "/v2/translate", deepl.translate, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET", "POST"), "/v2/usage", deepl.usage, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET", "POST"), "/v2/languages", deepl.language_list, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET", "POST"), "/v2/glossaries", glossaries.v2_glossaries, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET", "DELETE"), "/v2/glossaries/{glossary_id}", glossaries.v2_glossary, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET",), "/v2/glossaries/{glossary_id}/entries", glossaries.v2_entries, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET",), "/v2/glossary-language-pairs", glossaries.language_pairs, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET", "POST"), "/v3/glossaries", glossaries.v3_glossaries, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET", "PATCH", "DELETE"), "/v3/glossaries/{glossary_id}", glossaries.v3_glossary, auth=deepl_secret, errors=envelopes.deepl),
        Route(("GET",), "/v3/glossaries/{glossary_id}/entries", glossaries.v3_entries, auth=deepl_secret, errors=envelopes.deepl),
        Route(("PUT", "DELETE"), "/v3/glossaries/{glossary_id}/dictionaries", glossaries.v3_dictionaries, auth=deepl_secret, errors=envelopes.deepl),
        *deepl.UNSUPPORTED_FEATURE_ROUTES,
        Route(("POST",), "/ai/run/{model:path}", run.ai_run, errors=envelopes.cloudflare),
        Route(("GET",), "/v1/usage", usage_endpoint.get_usage, auth=usage_endpoint.require_usage_key),
    ]
)


def render_error(path: str, error: ApiError, anthropic_client: bool = False) -> Response:
    """In the envelope of the API family the path belongs to (also for 405s), else OpenAI's; on the
    paths both families share (GET /v1/models) and unknown ones, Anthropic's for a request that names
    an `anthropic-version`."""
    routes = ROUTER.routes_for(_collapsed(path))
    for route in routes:
        if route.errors is not None:
            return route.errors(error)
    if anthropic_client and all(route.handler.__module__ == anthropic.__name__ for route in routes):
        return envelopes.anthropic(error)
    return envelopes.openai(error)


def _collapsed(path: str) -> str:
    while "//" in path:
        path = path.replace("//", "/")
    return path


def resolve_route(method: str, path: str):
    """Routes by path, forgiving the usual base_url mistakes: a trailing `/` (so `//v1/...`), a
    doubled `/v1` or none at all."""
    path = _collapsed(path)
    while path.startswith("/v1/v1/"):
        path = path[3:]
    try:
        return ROUTER.resolve(method, path)
    except ApiError as error:
        if error.status != 404 or path.startswith("/v1/"):
            raise
        try:
            return ROUTER.resolve(method, "/v1" + path)
        except ApiError:
            raise error from None


# The routes whose credential also counts DeepL characters (and meets DEEPL_CHARACTER_LIMIT).
_TRANSLATION_AUTH = (require_translate_secret, deepl_secret)


def metered(request: Request, platform: Platform, credential: str | None, route: Route) -> Platform:
    """The request's own platform: its meter (under the credential that opened it, whichever way it
    was presented) and the AI binding reachable only through that meter."""
    settings = platform.settings
    calls = RequestCaps(settings.max_ai_calls_per_request, client_gone=request.client_gone)
    own = dataclasses.replace(platform)
    started = usage.now(Context(request, own))
    hashed = usage.key_hash(credential) if credential is not None else None
    limits_ = ledger.Limits(
        neurons=usage.daily_neuron_budget(settings, hashed, credential) if hashed is not None else None,
        characters=settings.deepl_character_limit if route.auth in _TRANSLATION_AUTH else None,
    )
    own.meter = Meter(key=credential, hashed=hashed, day=usage.utc_day(started), started=started, calls=calls,
                      database=platform.database, limits=limits_, keep_alive=platform.keep_alive)
    if platform.ai is not None:
        own.ai = MeteredAi(platform.ai, own.meter, settings.ai_timeout_seconds)
    return own


async def handle(request: Request, platform: Platform) -> AnyResponse:
    settings = platform.settings
    if request.method == "OPTIONS":
        return preflight(request, settings)
    credential, route = None, None
    try:
        match = resolve_route(request.method, request.path)
        route = match.route
        request.max_body_bytes = limits.body_limit(route.pattern)
        if not route.public:
            credential = (route.auth or require_api_key)(request, settings)
            if inspect.isawaitable(credential):  # a check that reads the body (DeepL's `auth_key` field)
                credential = await credential
        platform = metered(request, platform, credential, route)
        response = await route.handler(Context(request, platform), **match.params)
    except ApiError as error:
        response = render_error(request.path, error, "anthropic-version" in request.headers)
    except Exception:
        # The client gets a plain envelope, the log the traceback (which shows
        # code and messages, never local variables, so no key can end up there).
        print(f"unhandled error on {request.method} {request.path}:\n{traceback.format_exc()}")
        response = render_error(request.path, internal_error(), "anthropic-version" in request.headers)
    # What the request spent is written even when it failed after its AI calls: once the answer
    # (and any stream in it) is done, in a task the runtime keeps alive (see metering.py).
    meter = platform.meter
    if meter is not None:
        meter.answered()
        await meter.settled()
    response.headers.update(cors_headers(request, settings))
    if not limits.are_headers_safe(response.headers.values(), 8192):
        # The edge checks should have refused whatever led here; never let the runtime fail on it.
        print(f"unsafe response header on {request.method} {request.path}: {sorted(response.headers)}")
        response = render_error(request.path, internal_error())
        response.headers.update(cors_headers(request, settings))
    if request.method == "HEAD" and isinstance(response, Response):
        response.body = b""
    finish_with(response, request.heap.give_back)
    return response
