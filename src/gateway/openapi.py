"""The gateway's own OpenAPI 3.1 description, served at GET /openapi.json.

A test checks that every route of the router is described here with exactly its
methods, and a property-based run (schemathesis) checks the worker's answers
against it; so this file is kept true by the tests, not by hand alone.
"""

from __future__ import annotations

import re

from . import __version__, openai_params
from .audio import FORMATS as TRANSCRIPTION_FORMATS
from .audio import SPEECH_CONTENT_TYPES

_NULLABLE_STRING = {"type": ["string", "null"]}
_JSON = "application/json"


def _obj(required: tuple[str, ...] = (), **properties) -> dict:
    # Optional fields may be null: clients (and SDKs) send null for "not set", and the gateway treats it so.
    properties = {name: p if name in required or not p else {"anyOf": [p, {"type": "null"}]} for name, p in properties.items()}
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(envelope: str, *statuses: int) -> dict:
    return {str(status): {"description": "error", "content": {_JSON: {"schema": _ref(envelope)}}} for status in statuses}


# What any keyed AI route may answer besides success.
_AI_ERRORS = (400, 401, 404, 405, 413, 429, 502, 503, 504)
# The same on /v1/messages, plus Anthropic's 403 (a Workers Paid model) and 529 (Workers AI out of capacity).
_ANTHROPIC_ERRORS = (400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504, 529)
_ANTHROPIC_REQUEST = _obj(
    ("model", "max_tokens", "messages"), model={"type": "string"},
    max_tokens={"type": "integer", "minimum": 1, "maximum": openai_params.MAX_ANSWER_TOKENS},
    messages={"type": "array", "items": {"type": "object"}, "minItems": 1},
    system={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
    stream={"type": "boolean"}, tools={"type": "array", "items": {"type": "object"}}, tool_choice={"type": "object"},
    stop_sequences={"type": "array", "items": {"type": "string"}}, thinking={"type": "object"},
    temperature={"type": "number", "minimum": 0, "maximum": 1}, top_p={"type": "number", "minimum": 0, "maximum": 1},
    top_k={"type": "integer", "minimum": 1, "maximum": 50}, metadata={"type": "object"},
)


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {_JSON: {"schema": schema}}}


def _ok(content_type: str, schema: dict | None = None, description: str = "success") -> dict:
    return {"200": {"description": description, "content": {content_type: {"schema": schema or {}}}}}


def _operation(summary: str, responses: dict, *, body: dict | None = None, security=None, parameters=None) -> dict:
    operation: dict = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    if parameters:
        operation["parameters"] = parameters
    return operation


def _deepl_features_not_implemented() -> dict:
    from .endpoints.deepl import UNSUPPORTED_FEATURES  # the routes' own table (importing it at the top would cycle)

    return {
        pattern: {
            method.lower(): _operation(
                f"DeepL {feature}: not implemented here ({status} in DeepL's envelope); the gateway translates text only",
                _errors("DeepLError", *sorted({403, 405, status})), security=_TRANSLATE_SECURITY,
                parameters=[_path_param(name) for name in re.findall(r"{(\w+)}", pattern)],
            )
            for method in methods
        }
        for pattern, (methods, feature, status) in UNSUPPORTED_FEATURES.items()
    }


def _deepl_glossaries() -> dict:
    """DeepL's glossary endpoints (endpoints/glossaries.py): v2 serves glossaries of one language pair, v3 any."""
    ids = [_path_param("glossary_id")]
    pair = [_query_param("source_lang", "the dictionary's source language"),
            _query_param("target_lang", "the dictionary's target language")]
    v2 = _obj(("glossary_id", "name", "ready", "source_lang", "target_lang", "creation_time", "entry_count"))
    v3 = _obj(("glossary_id", "name", "dictionaries", "creation_time"), dictionaries={"type": "array"})
    created = {"201": {"description": "created", "content": {_JSON: {"schema": v2}}}}
    deleted = {"204": {"description": "deleted"}}

    def op(summary: str, responses: dict, *errors: int, parameters=None, body=None) -> dict:
        return _operation(f"DeepL glossaries: {summary}", {**responses, **_errors("DeepLError", 403, 404, 405, 503, *errors)},
                          security=_TRANSLATE_SECURITY, parameters=parameters, body=body)

    return {
        "/v2/glossaries": {
            "get": op("this secret's glossaries of one language pair (v2)", _ok(_JSON, _obj(("glossaries",)))),
            "post": op("create one (name, source_lang, target_lang, entries, entries_format tsv or csv; JSON or form)",
                       created, 400, 413),
        },
        "/v2/glossaries/{glossary_id}": {
            "get": op("a glossary's details (v2)", _ok(_JSON, v2), 400, parameters=ids),
            "delete": op("delete a glossary", deleted, parameters=ids),
        },
        "/v2/glossaries/{glossary_id}/entries": {
            "get": op("a glossary's entries as tab-separated values", _ok("text/tab-separated-values", {"type": "string"}),
                      400, 415, parameters=ids),
        },
        "/v2/glossary-language-pairs": {
            "get": op("the language pairs glossaries take", _ok(_JSON, _obj(("supported_languages",)))),
        },
        "/v3/glossaries": {
            "get": op("this secret's glossaries (v3)", _ok(_JSON, _obj(("glossaries",)))),
            "post": op("create one with its dictionaries (v3)",
                       {"201": {"description": "created", "content": {_JSON: {"schema": v3}}}}, 400, 413),
        },
        "/v3/glossaries/{glossary_id}": {
            "get": op("a glossary's details (v3)", _ok(_JSON, v3), parameters=ids),
            "patch": op("rename a glossary and/or add entries to one dictionary", _ok(_JSON, v3), 400, 413, parameters=ids),
            "delete": op("delete a glossary", deleted, 400, parameters=ids),
        },
        "/v3/glossaries/{glossary_id}/entries": {
            "get": op("one dictionary's entries (TSV in JSON)", _ok(_JSON, _obj(("dictionaries",))), 400,
                      parameters=ids + pair),
        },
        "/v3/glossaries/{glossary_id}/dictionaries": {
            "put": op("add a dictionary or replace the one of its language pair",
                      _ok(_JSON, _obj(("source_lang", "target_lang", "entry_count"))), 400, 413, parameters=ids),
            "delete": op("delete one dictionary", deleted, 400, parameters=ids + pair),
        },
    }


def _range(allowed: openai_params.Range) -> dict:
    return {"type": "integer" if allowed.integer else "number", "minimum": allowed.low, "maximum": allowed.high}


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _query_param(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}


_MESSAGE = _obj(
    ("role",),
    role={"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
    content={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}, {"type": "null"}]},
)
_CHAT_REQUEST = _obj(
    ("messages",),
    model={"type": "string"},
    messages={"type": "array", "minItems": 1, "items": _MESSAGE},
    stream={"type": ["boolean", "null"]},
    max_tokens=_range(openai_params.CHAT["max_tokens"]),
    temperature=_range(openai_params.CHAT["temperature"]),
    top_p=_range(openai_params.CHAT["top_p"]),
    seed={"type": "integer", "minimum": 0},
    stop={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
    tools={"type": "array", "items": {"type": "object"}},
)
_CHAT_COMPLETION = _obj(
    ("id", "object", "created", "model", "choices", "usage"),
    id={"type": "string"}, object={"const": "chat.completion"}, created={"type": "integer"}, model={"type": "string"},
    choices={"type": "array", "items": _obj(("index", "message", "finish_reason"))}, usage={"type": "object"},
)
# One server-sent event (OpenAPI 3.2's convention): `data` is a chat.completion.chunk as JSON,
# an `{"error": ...}` that ends a cut stream, or the `[DONE]` sentinel.
_SSE_EVENT = _obj(("data",), data={"type": "string", "contentMediaType": "application/json"})
_TRANSCRIPTION_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": _obj(
                ("file", "model"),
                file={"type": "string", "format": "binary"},
                model={"type": "string"},
                language={"type": "string"},
                prompt={"type": "string"},
                response_format={"type": "string", "enum": list(TRANSCRIPTION_FORMATS)},
                temperature={"type": "number", "minimum": 0, "maximum": 1},
            )
        }
    },
}
_TRANSCRIPTION_OK = {
    "200": {
        "description": "the transcript in the asked format",
        "content": {
            _JSON: {"schema": _obj(("text",), text={"type": "string"})},
            "text/plain": {"schema": {"type": "string"}},
            "text/vtt": {"schema": {"type": "string"}},
            "application/x-subrip": {"schema": {"type": "string"}},
        },
    }
}
_DEEPL_TEXTS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
_TRANSLATE_SECURITY = [{"bearer": []}, {"deeplAuthKey": []}, {"password": []}, {"token": []}]


def spec() -> dict:
    paths = {
        "/": {"get": _operation("The playground page", _ok("text/html", {"type": "string"}), security=[])},
        "/health": {"get": _operation("Liveness, version, runtime and bindings", _ok(_JSON, _obj(("status",))), security=[])},
        "/openapi.json": {"get": _operation("This description", {**_ok(_JSON, _obj(("openapi", "paths"))), **_errors("OpenAIError", 401)})},
        "/v1/models": {"get": _operation("The model catalog", {**_ok(_JSON, _obj(("object", "data"), data={"type": "array"})), **_errors("OpenAIError", 401)})},
        "/v1/models/{model}": {
            "get": _operation("One model (ids contain slashes)", {**_ok(_JSON, _obj(("id", "object"))), **_errors("OpenAIError", 400, 401, 404)},
                              parameters=[_path_param("model")])
        },
        "/v1/moderations": {
            "post": _operation(
                "Moderation in OpenAI's shape, answered by Llama Guard 3 (scores are 1/0 from its verdict)",
                {**_ok(_JSON, _obj(("id", "model", "results"), results={"type": "array"})), **_errors("OpenAIError", *_AI_ERRORS)},
                body=_json_body(_obj(("input",), input={"anyOf": [{"type": "string"}, {"type": "array", "minItems": 1}]},
                                     model={"type": "string"})),
            )
        },
        "/v1/chat/completions": {
            "post": _operation(
                "Chat completions; image models answer with a markdown link to the stored image",
                {"200": {"description": "a completion, or SSE chunks with `stream: true`",
                         "content": {_JSON: {"schema": _CHAT_COMPLETION}, "text/event-stream": {"schema": _SSE_EVENT}}},
                 **_errors("OpenAIError", *_AI_ERRORS)},
                body=_json_body(_CHAT_REQUEST),
            )
        },
        "/v1/completions": {
            "post": _operation(
                "Legacy prompt completions, answered by the chat pipeline (the prompt is one user message)",
                {"200": {"description": "a text_completion, or SSE chunks with `stream: true`",
                         "content": {_JSON: {"schema": _obj(("id", "object", "choices"), object={"const": "text_completion"})},
                                     "text/event-stream": {"schema": _SSE_EVENT}}},
                 **_errors("OpenAIError", *_AI_ERRORS)},
                body=_json_body(_obj(("prompt",), model={"type": "string"},
                                     prompt={"anyOf": [{"type": "string", "minLength": 1},
                                                       {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1},
                                                       {"type": "array", "items": {"type": "integer"}, "minItems": 1}]},
                                     stream={"type": ["boolean", "null"]}, max_tokens=_range(openai_params.CHAT["max_tokens"]),
                                     echo={"type": ["boolean", "null"]})),
            )
        },
        "/v1/responses": {
            "post": _operation(
                "The Responses API (text or message input, instructions, function tools, streaming), answered by the chat pipeline",
                {"200": {"description": "a response object, or the Responses event stream with `stream: true`",
                         "content": {_JSON: {"schema": _obj(("id", "object", "status", "output"), object={"const": "response"})},
                                     "text/event-stream": {"schema": _obj(("data",), event={"type": "string"},
                                                                           data={"type": "string", "contentMediaType": _JSON})}}},
                 **_errors("OpenAIError", *_AI_ERRORS)},
                body=_json_body(_obj(("input",), model={"type": "string"},
                                     input={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}, "minItems": 1}]},
                                     instructions={"type": "string"}, stream={"type": ["boolean", "null"]},
                                     max_output_tokens=_range(openai_params.RESPONSES["max_output_tokens"]),
                                     tools={"type": "array", "items": {"type": "object"}},
                                     previous_response_id={"type": "string"})),
            )
        },
        "/v1/messages": {
            "post": _operation(
                "Anthropic's Messages API (Claude Code, the Anthropic SDKs), answered by the chat pipeline; Claude model "
                "names map to Workers AI models (ANTHROPIC_MODEL_MAP)",
                {"200": {"description": "a message, or Anthropic's event stream with `stream: true`",
                         "content": {_JSON: {"schema": _obj(("id", "type", "role", "content", "model", "stop_reason", "usage"),
                                                             type={"const": "message"}, content={"type": "array"})},
                                     "text/event-stream": {"schema": _obj(("data",), event={"type": "string"},
                                                                           data={"type": "string", "contentMediaType": _JSON})}}},
                 **_errors("AnthropicError", *_ANTHROPIC_ERRORS)},
                body=_json_body(_ANTHROPIC_REQUEST),
            )
        },
        "/v1/messages/count_tokens": {
            "post": _operation(
                "The prompt's tokens as the gateway estimates them (no AI call)",
                {**_ok(_JSON, _obj(("input_tokens",), input_tokens={"type": "integer", "minimum": 0})),
                 **_errors("AnthropicError", 400, 401, 404, 405, 413)},
                body=_json_body(_obj(("model", "messages"), model={"type": "string"},
                                     messages={"type": "array", "items": {"type": "object"}, "minItems": 1},
                                     system={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
                                     tools={"type": "array", "items": {"type": "object"}})),
            )
        },
        "/v1/embeddings": {
            "post": _operation(
                "Embeddings",
                {**_ok(_JSON, _obj(("object", "data", "model", "usage"), data={"type": "array"})), **_errors("OpenAIError", *_AI_ERRORS)},
                body=_json_body(_obj(("input",), model={"type": "string"},
                                     input={"anyOf": [*_DEEPL_TEXTS["anyOf"],
                                                      {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                                                      {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}, "minItems": 1}]},
                                     encoding_format={"type": "string", "enum": ["float", "base64"]},
                                     dimensions={"type": "integer", "minimum": 1})),
            )
        },
        "/v1/images/generations": {
            "post": _operation(
                "Text-to-image; `url` links to the image stored in R2",
                {**_ok(_JSON, _obj(("created", "data"), data={"type": "array"})), **_errors("OpenAIError", *_AI_ERRORS)},
                body=_json_body(_obj(("prompt",), prompt={"type": "string"}, model={"type": "string"},
                                     n={"type": "integer", "minimum": 1, "maximum": 4}, size={"type": "string"},
                                     response_format={"type": "string", "enum": ["url", "b64_json"]})),
            ),
            "get": _operation(
                "Debug mode (IMAGE_DEBUG=true): the image itself",
                {"200": {"description": "the image", "content": {"image/png": {}, "image/jpeg": {}}}, **_errors("OpenAIError", *_AI_ERRORS)},
                parameters=[_query_param("prompt", "what to draw"), _query_param("model", "an image model")],
            ),
        },
        "/v1/audio/transcriptions": {
            "post": _operation("Speech to text (whisper)", {**_TRANSCRIPTION_OK, **_errors("OpenAIError", *_AI_ERRORS)}, body=_TRANSCRIPTION_FORM)
        },
        "/v1/audio/translations": {
            "post": _operation("Speech to English text (whisper's translate task)", {**_TRANSCRIPTION_OK, **_errors("OpenAIError", *_AI_ERRORS)},
                               body=_TRANSCRIPTION_FORM)
        },
        "/v1/audio/speech": {
            "post": _operation(
                "Text to speech",
                {"200": {"description": "audio bytes", "content": {kind: {} for kind in SPEECH_CONTENT_TYPES.values()}},
                 **_errors("OpenAIError", *_AI_ERRORS)},
                body=_json_body(_obj(("input",), model={"type": "string"}, input={"type": "string"}, voice={"type": "string"},
                                     response_format={"type": "string", "enum": list(SPEECH_CONTENT_TYPES)})),
            )
        },
        "/file/{key}": {
            "get": _operation(
                "A stored image (public, cached for a year)",
                {"200": {"description": "the image", "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}},
                 "304": {"description": "not modified"}, **_errors("OpenAIError", 404, 405, 502)},
                security=[], parameters=[_path_param("key")],
            )
        },
        "/translate": {
            "post": _operation(
                "DeepLX (Immersive Translate), or its `text_list` batch shape",
                {**_ok(_JSON, {"anyOf": [_obj(("code", "data", "source_lang", "target_lang")), _obj(("translations",))]}),
                 **_errors("DeepLXError", 400, 401, 404, 405, 413, 429, 456, 503)},
                body=_json_body(_obj(("target_lang",), text={"type": "string"}, source_lang={"type": "string"},
                                     target_lang={"type": "string"}, text_list={"type": "array", "items": {"type": "string"}})),
                security=_TRANSLATE_SECURITY,
            )
        },
        "/v2/translate": {
            "post": _operation(
                "DeepL API shape",
                {**_ok(_JSON, _obj(("translations",))), **_errors("DeepLError", 400, 403, 404, 405, 413, 429, 456, 500, 504, 529)},
                body={"required": True, "content": {
                    _JSON: {"schema": _obj(("text", "target_lang"), text=_DEEPL_TEXTS, source_lang={"type": "string"}, target_lang={"type": "string"})},
                    "application/x-www-form-urlencoded": {"schema": _obj(("text", "target_lang"), text=_DEEPL_TEXTS, target_lang={"type": "string"})},
                }},
                security=_TRANSLATE_SECURITY,
            )
        },
        "/v1/usage": {
            "get": _operation(
                "Requests and estimated neurons per key, UTC day and model (ADMIN_KEYS see every key)",
                {**_ok(_JSON, _obj(("object", "days", "keys", "total_neurons"), keys={"type": "array"})),
                 **_errors("OpenAIError", 400, 401, 405, 502, 503)},
                parameters=[{"name": "days", "in": "query", "required": False,
                             "schema": {"type": "integer", "minimum": 1, "maximum": 90}, "description": "how many days back (14)"}],
            )
        },
        "/v2/usage": {
            method: _operation(
                "DeepL usage: characters this secret translated this month (UTC), against DEEPL_CHARACTER_LIMIT",
                {**_ok(_JSON, _obj(("character_count", "character_limit"), character_count={"type": "integer"},
                                   character_limit={"type": "integer"})),
                 **_errors("DeepLError", 403, 405, 500, 504)},
                security=_TRANSLATE_SECURITY,
            )
            for method in ("get", "post")
        },
        "/v2/languages": {
            method: _operation(
                "DeepL languages (`type` source or target, in the query or a form body)",
                {**_ok(_JSON, {"type": "array", "items": _obj(("language", "name"))}), **_errors("DeepLError", 400, 403, 405)},
                security=_TRANSLATE_SECURITY, parameters=[_query_param("type", "source (default) or target")],
            )
            for method in ("get", "post")
        },
        **_deepl_glossaries(),
        **_deepl_features_not_implemented(),
        "/ai/run/{model}": {
            "post": _operation(
                "The Workers AI REST shape, for translation models",
                {**_ok(_JSON, _obj(("result", "success"))), **_errors("CloudflareError", 400, 401, 404, 405, 413, 429, 503)},
                body=_json_body(_obj(("text", "target_lang"), text={"type": "string"}, source_lang={"type": "string"}, target_lang={"type": "string"})),
                parameters=[_path_param("model")],
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Workers AI gateway", "version": __version__,
                 "description": "OpenAI-compatible API, DeepLX/DeepL translation and stored images, on Workers AI."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKeyHeader": []}, {"queryKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "queryKey": {"type": "apiKey", "in": "query", "name": "key"},
                "deeplAuthKey": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "DeepL-Auth-Key <secret>"},
                "password": {"type": "apiKey", "in": "query", "name": "password"},
                "token": {"type": "apiKey", "in": "query", "name": "token"},
            },
            "schemas": {
                "OpenAIError": _obj(("error",), error=_obj(("message", "type", "param", "code"), message={"type": "string"},
                                                          type={"type": "string"}, param=_NULLABLE_STRING, code=_NULLABLE_STRING)),
                "DeepLXError": _obj(("code", "message"), code={"type": "integer"}, message={"type": "string"}),
                "DeepLError": _obj(("message",), message={"type": "string"}),
                "AnthropicError": _obj(("type", "error", "request_id"), type={"const": "error"}, request_id={"type": "string"},
                                       error=_obj(("type", "message"), type={"type": "string"}, message={"type": "string"})),
                "CloudflareError": _obj(("success", "errors"), success={"const": False}, errors={"type": "array"}),
            },
        },
    }
