"""Fits an OpenAI chat request to the contract of the model it runs on.

Everything here is read from the model's published Messages schema, never from the
model's name: whether `content` is required (so `""` goes beside `tool_calls`),
whether it takes parts or only a string, where images go (parts with `data:` URLs, or
one top-level `image`), the pattern tool-call ids must match, whether tools need
descriptions, whether there is a JSON mode, and the range of every number.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from . import contracts
from .contracts import Notes, resolve
from .errors import bad_request
from .platform import is_blob

# OpenAI-side parameters of the platform's models that ChatRequest.parse does not map: handed on
# as they are where the model's contract takes them, else named in X-Dropped-Params.
PLATFORM_PARAMETERS = ("reasoning_effort", "chat_template_kwargs", "lora")
# Handed on where the contract takes it; elsewhere the gateway's own relay answers it
# (`include_usage`), so it is not reported as dropped.
RELAY_ANSWERED_PARAMETERS = ("stream_options",)
# Token counts a model may add to `usage` beyond OpenAI's three: (object, count) pairs.
USAGE_DETAILS = (("prompt_tokens_details", "cached_tokens"), ("completion_tokens_details", "reasoning_tokens"))

_DATA_URL = re.compile(r"^data:([\w.+/-]*)((?:;[\w=.+-]+)*?)(;base64)?,(.*)$", re.S)
JSON_INSTRUCTION = "Answer with one JSON value only, no prose and no code fences."


@dataclass
class ChatPlan:
    """What the caller still has to do after `adapt`: fetch remote images, map ids back."""

    notes: Notes = field(default_factory=Notes)
    # http(s) URLs the model cannot take: each must be fetched and turned into bytes.
    fetch: list[str] = field(default_factory=list)
    # The model wants one top-level `image` (bytes) instead of image parts: its URL.
    top_level_image: str | None = None
    # Tool-call ids as the model needs them → as the client sent them.
    ids_back: dict[str, str] = field(default_factory=dict)
    # JSON mode cannot stream: call without streaming and stream the whole answer.
    unstream: bool = False
    _parts_to_fill: list[dict] = field(default_factory=list)


def _schema_types(schema: dict) -> set[str]:
    out = set()
    for variant in contracts.variants(schema):
        kind = variant.get("type")
        out.update(kind if isinstance(kind, list) else ([kind] if kind else []))
    return out


def _part_schema(content_schema: dict) -> dict | None:
    for variant in contracts.variants(content_schema):
        if variant.get("type") == "array":
            return resolve(variant.get("items") or {})
    return None


def _image_url_pattern(part_schema: dict | None) -> str | None:
    if not part_schema:
        return None
    image_url = resolve((part_schema.get("properties") or {}).get("image_url") or {})
    url = resolve((image_url.get("properties") or {}).get("url") or {})
    return url.get("pattern")


def short_id(original: str, pattern: str) -> str:
    """A stable id matching `pattern` ([a-zA-Z0-9]{9}) for a client's tool-call id."""
    digest = hashlib.sha256(original.encode()).hexdigest()
    candidate = digest[:9]
    return candidate if re.fullmatch(pattern, candidate) else original


def _runtime_int(text: str):
    value = int(text)
    return float(value) if abs(value) > 2**31 - 1 else value


def _for_binding(value):
    """A copy of a client's JSON Schema (a tool's parameters, a response_format) that the binding can
    take. The only JSON a client hands the model unbounded by a contract: its integers can be any
    size, and Pyodide hands a Python int from 2**53 - 1 up to JS as a BigInt, which the binding
    cannot serialise (the call fails; zod's `.int()` writes ±(2**53 - 1) into every integer's
    bounds). As a float it is the same JSON number (exactly up to 2**53; past that only rounded)."""
    return json.loads(json.dumps(value), parse_int=_runtime_int)


def _describe_tool(tool: dict, tool_params_required: bool) -> dict:
    """A tool with the descriptions the schema requires (the name stands in when the client gave none)."""
    tool = _for_binding(tool)
    function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
    name = function.get("name") or "tool"
    if not isinstance(function.get("description"), str) or not function["description"]:
        function["description"] = name
    params = function.get("parameters")
    if not isinstance(params, dict):
        params = function["parameters"] = {"type": "object", "properties": {}}
    params.setdefault("type", "object")
    props = params.get("properties")
    if not isinstance(props, dict):
        props = params["properties"] = {}
    if tool_params_required:
        for key, spec in list(props.items()):
            if not isinstance(spec, dict):
                props[key] = spec = {}
            if not isinstance(spec.get("description"), str) or not spec["description"]:
                spec["description"] = spec.get("title") or key
            if not isinstance(spec.get("type"), str):
                # anyOf/oneOf (e.g. Optional[...]) has no single type: name the first one given.
                types = [v.get("type") for v in spec.get("anyOf", spec.get("oneOf", [])) if isinstance(v, dict)]
                spec["type"] = next((t for t in types if isinstance(t, str) and t != "null"), "string")
    if "function" in tool:
        tool.setdefault("type", "function")
    return tool


def _json_mode(response_format: dict, has_json_mode: bool, messages: list, notes: Notes, inputs: dict | None = None,
               has_guided_json: bool = False) -> dict | None:
    kind = response_format.get("type")
    schema = None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) and "schema" in spec else spec
        if not isinstance(schema, dict):
            raise bad_request("`response_format.json_schema.schema` must be a JSON Schema object.", param="response_format")
    if has_json_mode:
        notes.mapped.append("response_format")
        return {"type": "json_schema", "json_schema": schema} if schema is not None else {"type": "json_object"}
    if has_guided_json and inputs is not None:
        # "guided_json: JSON schema that should be fulfilled for the response" (mistral-small, qwq, gemma-3).
        inputs["guided_json"] = schema if schema is not None else {"type": "object"}
        notes.mapped.append("response_format=guided_json")
        return None
    # No JSON mode: ask for JSON in words (the answer is not guaranteed to match).
    instruction = JSON_INSTRUCTION
    if schema is not None:
        instruction += " It must match this JSON Schema: " + json.dumps(schema, ensure_ascii=False)
    messages.insert(0, {"role": "system", "content": instruction})
    notes.mapped.append("response_format=prompt")
    return None


@dataclass(frozen=True)
class _MessagesShape:
    """What a model's Messages schema says about messages, read once per model and isolate."""

    props: dict
    takes_parts: bool
    takes_image_parts: bool
    url_pattern: str | None
    id_pattern: str | None
    # The longest `content` string one message may have (the schema's maxLength), if it sets one.
    content_max_length: int | None


_SHAPES: dict[str, _MessagesShape | None] = {}


def _string_max_length(schema: dict) -> int | None:
    limits = [v["maxLength"] for v in contracts.variants(schema) if v.get("type") == "string" and "maxLength" in v]
    return min(limits) if limits else None


def _hand_on(body: dict, inputs: dict, props: dict, notes: Notes, *, stream: bool, lora: str | None) -> None:
    """Platform parameters (PLATFORM_PARAMETERS, and `stream_options` on a stream) into `inputs`
    where the contract takes them; the rest reported dropped. `lora` (an adapter named in the
    `model` shorthand) stands in for a `lora` the body does not give."""
    given = {key: body.get(key) for key in PLATFORM_PARAMETERS}
    if lora is not None and given.get("lora") is None:
        given["lora"] = lora
    if stream:
        given.update({key: body.get(key) for key in RELAY_ANSWERED_PARAMETERS})
    for key, value in given.items():
        if value is None:
            continue
        if key in props:
            inputs[key] = value
        elif key not in RELAY_ANSWERED_PARAMETERS:
            notes.dropped.append(key)


def carry_usage_details(completion_body: dict, raw_usage) -> dict:
    """`completion_body`'s usage with the cached and reasoning token counts the model reported
    (USAGE_DETAILS), which the OpenAI three alone would lose."""
    usage = completion_body.get("usage")
    if not isinstance(raw_usage, dict) or not isinstance(usage, dict):
        return completion_body
    for group, count in USAGE_DETAILS:
        details = raw_usage.get(group)
        if isinstance(details, dict) and isinstance(details.get(count), int) and not isinstance(details[count], bool):
            usage.setdefault(group, {})[count] = details[count]
    return completion_body


def _message_properties(message_schema: dict) -> dict:
    """What a message may hold: its properties, or, for a page that writes messages as a oneOf by
    role (the OpenAI-compatible models), the union of the roles' properties, the user's first (its
    content takes the richest parts: images, audio, files)."""
    if "properties" in message_schema:
        return message_schema["properties"]
    roles = [resolve(v) for v in contracts.variants(message_schema)]
    roles.sort(key=lambda v: "user" not in (resolve((v.get("properties") or {}).get("role") or {}).get("enum") or ()))
    union: dict = {}
    for role in roles:
        for name, schema in (role.get("properties") or {}).items():
            union.setdefault(name, schema)
    return union


def _messages_shape(model_id: str) -> _MessagesShape | None:
    if model_id in _SHAPES:
        return _SHAPES[model_id]
    shape = None
    contract = contracts.contract_for(model_id)
    variant = contract.variant("messages") if contract is not None else None
    if variant is not None:
        props = variant.get("properties") or {}
        message_props = _message_properties(resolve(resolve(props["messages"]).get("items") or {}))
        content_schema = resolve(message_props.get("content") or {"type": "string"})
        part_schema = _part_schema(content_schema)
        shape = _MessagesShape(
            props=props,
            takes_parts="array" in _schema_types(content_schema),
            takes_image_parts=bool(part_schema and "image_url" in (part_schema.get("properties") or {})),
            url_pattern=_image_url_pattern(part_schema),
            id_pattern=resolve(message_props.get("tool_call_id") or {}).get("pattern"),
            content_max_length=_string_max_length(content_schema),
        )
    _SHAPES[model_id] = shape
    return shape


def adapt(model_id: str, inputs: dict, *, stream: bool, body: dict | None = None, lora: str | None = None) -> ChatPlan:
    """Rewrites `inputs` (built by ChatRequest.parse) in place to satisfy the model's contract.

    `body` is the client's request, for the platform parameters parse leaves out; `lora` an
    adapter named in the `model` shorthand ("<base>:<adapter>")."""
    plan = ChatPlan()
    shape = _messages_shape(model_id)
    if shape is None:
        # A model the contracts do not list takes none of them as far as the gateway knows.
        _hand_on(body or {}, inputs, {}, plan.notes, stream=stream, lora=lora)
        return plan
    contract = contracts.contract_for(model_id)
    props, takes_parts, takes_image_parts = shape.props, shape.takes_parts, shape.takes_image_parts
    url_pattern, id_pattern = shape.url_pattern, shape.id_pattern

    messages = inputs["messages"]
    image_urls: list[str] = []
    for i, message in enumerate(messages):
        content = message.get("content")
        if content is None:
            message["content"] = ""
        elif isinstance(content, list):
            images = [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
            if images and takes_image_parts:
                for part in images:
                    url = part["image_url"]["url"] if isinstance(part.get("image_url"), dict) else part.get("image_url")
                    part["image_url"] = {"url": url}
                    # A data: URL the runtime kept out of the body is filled in like a fetched one.
                    if is_blob(url) or (url_pattern and not re.search(url_pattern, url)):
                        plan.fetch.append(url)
                        plan._parts_to_fill.append(part)
            elif images:
                if "image" not in props:
                    raise bad_request(
                        f"'{model_id}' does not accept images.", param=f"messages[{i}].content", code="model_not_multimodal"
                    )
                for part in images:
                    url = part.get("image_url")
                    image_urls.append(url.get("url") if isinstance(url, dict) else url)
                message["content"] = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            elif not takes_parts:
                message["content"] = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        limit = shape.content_max_length
        if limit is not None and isinstance(message["content"], str) and len(message["content"]) > limit:
            raise bad_request(f"`messages[{i}].content` is longer than the {limit} characters {model_id} takes.",
                              param=f"messages[{i}].content", code="string_above_max_length")
        if id_pattern:
            # Matched whole: the model needs exactly the id form the pattern describes (Mistral: 9 alphanumerics).
            if isinstance(message.get("tool_call_id"), str) and not re.fullmatch(id_pattern, message["tool_call_id"]):
                original = message["tool_call_id"]
                message["tool_call_id"] = short_id(original, id_pattern)
                plan.ids_back[message["tool_call_id"]] = original
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("id"), str) and not re.fullmatch(id_pattern, call["id"]):
                    original = call["id"]
                    call["id"] = short_id(original, id_pattern)
                    plan.ids_back[call["id"]] = original
    if plan.ids_back:
        plan.notes.mapped.append("tool_call_id")
    if image_urls:
        if len(image_urls) > 1:
            raise bad_request(f"'{model_id}' takes one image per request.", param="messages", code="too_many_images")
        plan.top_level_image = image_urls[0]
        plan.notes.mapped.append("image_url")

    tools = inputs.get("tools")
    if tools is not None:
        if inputs.get("tool_choice") == "none":
            del inputs["tools"]
        elif "tools" not in props:
            raise bad_request(f"'{model_id}' does not take tools.", param="tools", code="tools_not_supported")
        else:
            # The published tool schemas require a description for every tool and every parameter.
            inputs["tools"] = [_describe_tool(tool, True) for tool in tools]

    response_format = inputs.pop("response_format", None)
    if isinstance(response_format, dict):
        response_format = _for_binding(response_format)
        json_mode = _json_mode(response_format, "response_format" in props, messages, plan.notes, inputs,
                               "guided_json" in props)
        if json_mode is not None:
            # Workers AI's OpenAI-compatible schemas take OpenAI's own shape.
            openai_shaped = resolve(props["response_format"]).get("properties") is None
            inputs["response_format"] = response_format if openai_shaped else json_mode
            if stream and not openai_shaped and inputs.get("stream"):
                # "JSON Mode currently doesn't support streaming" (Workers AI docs, JSON Mode).
                del inputs["stream"]
                plan.unstream = True

    _hand_on(body or {}, inputs, props, plan.notes, stream=stream, lora=lora)
    contracts.fit(contract, inputs, "messages", notes=plan.notes)
    return plan


def fill_images(plan: ChatPlan, inputs: dict, data_urls: dict, top_level_values=None) -> None:
    """Puts the images where the model wants them: each part's image as the data: URL made for it
    (`data_urls`, by the URL the client sent), or the image's byte values in `image`. Both are the
    runtime's values on Workers: the core never holds the image."""
    for part in plan._parts_to_fill:
        part["image_url"]["url"] = data_urls[part["image_url"]["url"]]
    if plan.top_level_image is not None:
        inputs["image"] = top_level_values


def restore_ids(body: dict, plan: ChatPlan) -> dict:
    """Tool-call ids in a completion the model produced from rewritten ids, mapped back to the client's."""
    if not plan.ids_back:
        return body
    for choice in body.get("choices") or []:
        for call in (choice.get("message") or choice.get("delta") or {}).get("tool_calls") or []:
            if isinstance(call, dict) and call.get("id") in plan.ids_back:
                call["id"] = plan.ids_back[call["id"]]
    return body
