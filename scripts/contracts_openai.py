"""The OpenAI-compatible input layout of the 2026 Workers AI chat models, as contract data.

glm-4.7-flash, glm-5.x, kimi-k2.x, gemma-4, deepseek-v4, qwen3.8 and nemotron publish one
schema of over 300 kB (cloudflare-docs, src/content/workers-ai-models/glm-5.3.json read whole
at 14f349e28b55): `input` is anyOf [object oneOf [Prompt, Messages], Async Batch, Responses];
Prompt and Messages take the same OpenAI chat parameters (temperature 0..2, top_p 0..1, each
nullable), messages are a oneOf by role (tool messages need `tool_call_id`, tool calls need
`id`, `type` and a string `arguments`), tools are `{type: "function", function}` or
`{type: "custom", custom}` only, and a json_schema response_format needs a `name`.

This script writes those shared parts into `defs` (prefix `oa_`) and rewrites the `input` of
every model in MODELS, keeping each model's own extra properties (e.g. chat_template_kwargs).
Idempotent. Run `python3 scripts/contracts_openai.py && python3 scripts/contracts.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src/gateway/model_contracts.json"

MODELS = [
    "@cf/zai-org/glm-4.7-flash", "@cf/zai-org/glm-5.2", "@cf/zai-org/glm-5.3", "@cf/zai-org/glm-5.3-flash",
    "@cf/moonshotai/kimi-k2.6", "@cf/moonshotai/kimi-k2.7-code", "@cf/google/gemma-4-26b-a4b-it",
    "@cf/deepseek-ai/deepseek-v4-flash-0731", "@cf/deepseek-ai/deepseek-v4-pro-0813",
    "@cf/qwen/qwen3.8-27b", "@cf/nvidia/nemotron-3-120b-a12b",
]


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def enum(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


def obj(properties: dict, required: list[str] | None = None) -> dict:
    out = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


TEXT_PART = obj({"type": enum("text"), "text": {"type": "string"}}, ["type", "text"])
TEXT_CONTENT = {"anyOf": [{"type": "string"}, {"type": "array", "items": TEXT_PART}]}
USER_PART = obj({
    "type": enum("text", "image_url", "video_url", "input_audio", "file"),
    "text": {"type": "string"},
    "image_url": obj({"url": {"type": "string"}, "detail": enum("auto", "low", "high")}),
    "video_url": obj({"url": {"type": "string"}}),
    "input_audio": obj({"data": {"type": "string"}, "format": enum("wav", "mp3")}),
    "file": obj({"file_data": {"type": "string"}, "file_id": {"type": "string"}, "filename": {"type": "string"}}),
}, ["type"])
FUNCTION_DEF = obj({
    "name": {"type": "string"}, "description": {"type": "string"}, "parameters": {"type": "object"},
    "strict": nullable({"type": "boolean"}),
}, ["name"])
TOOL_CALL = {"oneOf": [
    obj({"id": {"type": "string"}, "type": enum("function"),
         "function": obj({"name": {"type": "string"}, "arguments": {"type": "string"}}, ["name", "arguments"])},
        ["id", "type", "function"]),
    obj({"id": {"type": "string"}, "type": enum("custom"),
         "custom": obj({"name": {"type": "string"}, "input": {"type": "string"}}, ["name", "input"])},
        ["id", "type", "custom"]),
]}

DEFS = {
    # The union of the role variants at the top (what the gateway's chat shaping reads:
    # content parts, tool_calls, tool_call_id), the oneOf by role for validation.
    "oa_message": {"type": "object", "properties": {
        "role": enum("developer", "system", "user", "assistant", "tool", "function"),
        "content": {"anyOf": [{"type": "string"}, {"type": "null"}, {"type": "array", "items": {
            **USER_PART, "properties": {**USER_PART["properties"], "type": enum("text", "image_url", "video_url", "input_audio", "file", "refusal"),
                                        "refusal": {"type": "string"}}}}]},
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": TOOL_CALL},
        "tool_call_id": {"type": "string"},
    }, "required": ["role"], "oneOf": [
        obj({"role": enum("developer"), "content": TEXT_CONTENT, "name": {"type": "string"}}, ["role", "content"]),
        obj({"role": enum("system"), "content": TEXT_CONTENT, "name": {"type": "string"}}, ["role", "content"]),
        obj({"role": enum("user"), "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": USER_PART, "minItems": 1}]},
             "name": {"type": "string"}}, ["role", "content"]),
        obj({
            "role": enum("assistant"),
            "content": {"anyOf": [{"type": "string"}, {"type": "null"}, {"type": "array", "items": obj(
                {"type": enum("text", "refusal"), "text": {"type": "string"}, "refusal": {"type": "string"}}, ["type"])}]},
            "refusal": nullable({"type": "string"}),
            "name": {"type": "string"},
            "audio": {"anyOf": [obj({"id": {"type": "string"}}, ["id"])]},
            "tool_calls": {"type": "array", "items": TOOL_CALL},
            "function_call": {"anyOf": [obj({"name": {"type": "string"}, "arguments": {"type": "string"}}, ["name", "arguments"])]},
        }, ["role"]),
        obj({"role": enum("tool"), "content": TEXT_CONTENT, "tool_call_id": {"type": "string"}}, ["role", "content", "tool_call_id"]),
        obj({"role": enum("function"), "content": {"type": "string"}, "name": {"type": "string"}}, ["role", "content", "name"]),
    ]},
    "oa_tools": {"type": "array", "items": {"oneOf": [
        obj({"type": enum("function"), "function": FUNCTION_DEF}, ["type", "function"]),
        obj({"type": enum("custom"), "custom": obj({
            "name": {"type": "string"}, "description": {"type": "string"},
            "format": {"oneOf": [
                obj({"type": enum("text")}, ["type"]),
                obj({"type": enum("grammar"), "grammar": obj(
                    {"definition": {"type": "string"}, "syntax": enum("lark", "regex")}, ["definition", "syntax"])}, ["type", "grammar"]),
            ]},
        }, ["name"])}, ["type", "custom"]),
    ]}},
    "oa_response_format": {"anyOf": [{"oneOf": [
        obj({"type": enum("text")}, ["type"]),
        obj({"type": enum("json_object")}, ["type"]),
        obj({"type": enum("json_schema"), "json_schema": obj({
            "name": {"type": "string"}, "description": {"type": "string"}, "schema": {"type": "object"},
            "strict": nullable({"type": "boolean"}),
        }, ["name"])}, ["type", "json_schema"]),
    ]}]},
    "oa_tool_choice": {"anyOf": [{"oneOf": [
        enum("none", "auto", "required"),
        obj({"type": enum("function"), "function": obj({"name": {"type": "string"}}, ["name"])}, ["type", "function"]),
        obj({"type": enum("custom"), "custom": obj({"name": {"type": "string"}}, ["name"])}, ["type", "custom"]),
        obj({"type": enum("allowed_tools"), "allowed_tools": obj(
            {"mode": enum("auto", "required"), "tools": {"type": "array", "items": {"type": "object"}}}, ["mode", "tools"])},
            ["type", "allowed_tools"]),
    ]}]},
}

PARAMS = {
    "model": {"type": "string"},
    "audio": {"anyOf": [obj({"voice": {"oneOf": [{"type": "string"}, obj({"id": {"type": "string"}}, ["id"])]},
                              "format": enum("wav", "aac", "mp3", "flac", "opus", "pcm16")}, ["voice", "format"])]},
    "frequency_penalty": nullable({"type": "number", "minimum": -2, "maximum": 2}),
    "logit_bias": nullable({"type": "object"}),
    "logprobs": nullable({"type": "boolean"}),
    "top_logprobs": nullable({"type": "integer", "minimum": 0, "maximum": 20}),
    "max_tokens": nullable({"type": "integer"}),
    "max_completion_tokens": nullable({"type": "integer"}),
    "metadata": nullable({"type": "object"}),
    "modalities": nullable({"type": "array", "items": enum("text", "audio")}),
    "n": nullable({"type": "integer", "minimum": 1, "maximum": 128}),
    "parallel_tool_calls": {"type": "boolean"},
    "prediction": {"anyOf": [obj({"type": enum("content"), "content": TEXT_CONTENT}, ["type", "content"])]},
    "presence_penalty": nullable({"type": "number", "minimum": -2, "maximum": 2}),
    "reasoning_effort": nullable(enum("low", "medium", "high")),
    "response_format": {"$ref": "oa_response_format"},
    "seed": nullable({"type": "integer"}),
    "stop": {"anyOf": [{"type": "null"}, {"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4}]},
    "store": nullable({"type": "boolean"}),
    "stream": nullable({"type": "boolean"}),
    "stream_options": {"anyOf": [obj({"include_usage": {"type": "boolean"}, "include_obfuscation": {"type": "boolean"}})]},
    "temperature": nullable({"type": "number", "minimum": 0, "maximum": 2}),
    "tool_choice": {"$ref": "oa_tool_choice"},
    "tools": {"$ref": "oa_tools"},
    "top_p": nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "user": {"type": "string"},
    "web_search_options": {"anyOf": [obj({
        "search_context_size": enum("low", "medium", "high"),
        "user_location": obj({"type": enum("approximate"), "approximate": obj(
            {"city": {"type": "string"}, "country": {"type": "string"}, "region": {"type": "string"}, "timezone": {"type": "string"}})},
            ["type", "approximate"]),
    })]},
    "function_call": {"anyOf": [enum("none", "auto"), obj({"name": {"type": "string"}}, ["name"])]},
    "functions": {"type": "array", "items": FUNCTION_DEF, "minItems": 1, "maxItems": 128},
}


def model_input(old: dict) -> dict:
    """The published layout, keeping properties the old (first-page) data had that PARAMS lacks."""
    extra = {}
    for variant in old.get("oneOf") or old.get("anyOf") or []:
        for variant2 in variant.get("oneOf") or [variant]:
            for key, schema in (variant2.get("properties") or {}).items():
                if key not in PARAMS and key not in ("prompt", "messages", "requests", "input"):
                    extra[key] = schema
    params = {**PARAMS, **extra}
    return {"anyOf": [
        {"type": "object", "oneOf": [
            {"title": "Prompt", "properties": {"prompt": {"type": "string", "minLength": 1}, **params}, "required": ["prompt"]},
            {"title": "Messages", "properties": {"messages": {"type": "array", "items": {"$ref": "oa_message"}, "minItems": 1}, **params},
             "required": ["messages"]},
        ]},
        {"title": "Async Batch", "type": "object",
         "properties": {"requests": {"type": "array", "items": {"type": "object"}}}, "required": ["requests"]},
        {"title": "Responses", "type": "object",
         "properties": {"input": {"anyOf": [{"type": "string"}, {"type": "array"}]}}, "required": ["input"]},
    ]}


def main() -> int:
    doc = json.loads(SOURCE.read_text(encoding="utf-8"))
    doc["defs"].update(DEFS)
    for model_id in MODELS:
        contract = doc["models"][model_id]
        contract["input"] = model_input(contract["input"])
        contract["note"] = ("OpenAI-compatible layout read whole from glm-5.3.json (scripts/contracts_openai.py); "
                            "the Async Batch and Responses variants are kept open (type-checked at the top only).")
    SOURCE.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
