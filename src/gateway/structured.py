"""Structured outputs: answers that parse as JSON and match the schema the client asked for.

OpenAI promises that `response_format: json_schema` (and `strict` function tools) give JSON
matching the schema. Workers AI promises that only where a model has its own JSON mode, and
even then small models drift; models without one are only asked in words (chat_contract). So
every such answer is checked here: the JSON is taken out of whatever text the model wrapped it
in (a code fence, a sentence before or after), validated against the schema, and, when it does
not match, the model is asked once more with the validation error. An answer that still does
not match is refused with `structured_output_failed` rather than handed on as broken JSON.

`jsonschema` is not available inside the worker (Pyodide, no native wheels we may bundle), so
`validate` implements the subset OpenAI's structured outputs accept: type (and type lists for
nullable values), properties, required, additionalProperties, items, enum, const, anyOf / oneOf
/ allOf, $ref into $defs / definitions, plus the common length and range bounds.
"""

from __future__ import annotations

import json
import math
import re
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator

from .catalog import BY_ID, Resolved
from .contracts import json_type
from .errors import ApiError

FAILED_CODE = "structured_output_failed"
# Recursion through $ref (a tree of nodes, say) stops here rather than exhausting the stack.
MAX_DEPTH = 64
# What a validation error message may list: enough to repair with, short enough to send back.
MAX_REPORTED_ERRORS = 8
# Candidates tried when looking for JSON inside prose: bounds the work on a long answer.
MAX_CANDIDATES = 64

# A model without Workers AI's JSON mode → a sibling with it, used when a request that named an
# OpenAI alias (or no model) asks for JSON: the sibling's constrained decoding makes the JSON, where
# the model itself could only be asked in words. granite-4.0-h-micro has JSON mode and costs less
# than the 8B model per token (0.017/0.11 against 0.045/0.384 USD per M input/output tokens, the
# model pages). A request naming a model id keeps that model: the client chose it.
JSON_MODE_SIBLINGS: dict[str, str] = {
    "@cf/meta/llama-3.1-8b-instruct-fast": "@cf/ibm-granite/granite-4.0-h-micro",
}
# How a request may have reached the model for its sibling to stand in.
_SIBLING_VIA = frozenset({"alias", "family", "default"})
SIBLING_VIA = "json-mode"


def json_mode_sibling(resolved: Resolved, need: "Requirement | None") -> Resolved:
    """The resolution with the model's JSON-mode sibling when the request asks for JSON by an
    OpenAI name; `X-Model-Resolution` then says `<how>+json-mode`."""
    sibling = JSON_MODE_SIBLINGS.get(resolved.model.id)
    if (need is None or not need.json_content or sibling is None or resolved.via not in _SIBLING_VIA
            or getattr(resolved, "adapter", None)):  # an adapter was made for its own base model
        return resolved
    return dataclasses.replace(resolved, model=BY_ID[sibling], via=f"{resolved.via}+{SIBLING_VIA}")


@dataclass
class Requirement:
    """What a request asks of the answer's shape."""

    # The content's schema; None when any JSON object will do (`json_object`) or none is asked.
    schema: dict | None = None
    # Whether the content must be JSON at all (`json_object` or `json_schema`).
    json_content: bool = False
    name: str = "response"
    # Function name → parameters schema, for the tools marked `strict`.
    strict_tools: dict[str, dict] = field(default_factory=dict)


def requirement(body: dict) -> Requirement | None:
    """The structured-output requirement of a chat request body, or None when it makes none."""
    found = Requirement()
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        found.json_content = True
        if response_format["type"] == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) and "schema" in spec else spec
            if isinstance(schema, dict):
                found.schema = schema
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                found.name = spec["name"]
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("strict") is True and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            found.strict_tools[function["name"]] = parameters if isinstance(parameters, dict) else {"type": "object"}
    if not found.json_content and not found.strict_tools:
        return None
    return found


# --- validation -------------------------------------------------------------------------------


def validate(instance: Any, schema: Any) -> list[str]:
    """The ways `instance` breaks `schema` ("$.path: what"), empty when it conforms."""
    errors: list[str] = []
    _check(instance, schema, schema, "$", errors, 0)
    return errors


def _type_matches(instance: Any, kind: str) -> bool:
    if kind == "null":
        return instance is None
    if kind == "boolean":
        return isinstance(instance, bool)
    if kind == "integer":
        return (isinstance(instance, int) and not isinstance(instance, bool)) or (
            isinstance(instance, float) and instance.is_integer())
    if kind == "number":
        return isinstance(instance, (int, float)) and not isinstance(instance, bool) and math.isfinite(instance)
    if kind == "string":
        return isinstance(instance, str)
    if kind == "array":
        return isinstance(instance, list)
    if kind == "object":
        return isinstance(instance, dict)
    return True  # a type this subset does not know constrains nothing


def _same(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's, true is not 1 and 1.0 is 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b)


def _resolve(ref: str, root: Any) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    node = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise ValueError(f"the reference {ref!r} points nowhere")
    return node


def _check(instance: Any, schema: Any, root: Any, path: str, errors: list[str], depth: int) -> None:
    if schema is True or schema is None:
        return
    if schema is False:
        errors.append(f"{path}: no value is allowed here")
        return
    if not isinstance(schema, dict):
        return
    if depth > MAX_DEPTH:
        errors.append(f"{path}: the schema nests deeper than {MAX_DEPTH} levels")
        return
    if isinstance(schema.get("$ref"), str):
        try:
            target = _resolve(schema["$ref"], root)
        except ValueError as error:
            errors.append(f"{path}: {error}")
            return
        _check(instance, target, root, path, errors, depth + 1)
    if schema.get("nullable") is True and instance is None:
        return  # OpenAPI's spelling of ["T", "null"]

    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_type_matches(instance, k) for k in kinds if isinstance(k, str)):
            errors.append(f"{path}: expected {' or '.join(map(str, kinds))}, got {json_type(instance)}")
            return
    if "const" in schema and not _same(instance, schema["const"]):
        errors.append(f"{path}: must be {json.dumps(schema['const'])}")
    if isinstance(schema.get("enum"), list) and not any(_same(instance, v) for v in schema["enum"]):
        errors.append(f"{path}: must be one of {json.dumps(schema['enum'])[:200]}")

    for keyword in ("anyOf", "oneOf"):
        variants = schema.get(keyword)
        if isinstance(variants, list) and variants:
            matching = [v for v in variants if not _errors_of(instance, v, root, path, depth)]
            if not matching or (keyword == "oneOf" and len(matching) > 1):
                errors.append(f"{path}: matches {len(matching)} of the {keyword} alternatives"
                              + ("" if matching else ": " + "; ".join(_errors_of(instance, variants[0], root, path, depth)[:2])))
    for sub in schema.get("allOf") or []:
        _check(instance, sub, root, path, errors, depth + 1)

    if isinstance(instance, dict):
        _check_object(instance, schema, root, path, errors, depth)
    elif isinstance(instance, list):
        _check_array(instance, schema, root, path, errors, depth)
    elif isinstance(instance, str):
        if isinstance(schema.get("minLength"), int) and len(instance) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if isinstance(schema.get("maxLength"), int) and len(instance) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        if isinstance(schema.get("pattern"), str):
            try:
                if re.search(schema["pattern"], instance) is None:
                    errors.append(f"{path}: does not match the pattern {schema['pattern']}")
            except re.error:
                pass  # a pattern Python's re cannot read constrains nothing here
    elif isinstance(instance, (int, float)) and not isinstance(instance, bool):
        _check_number(instance, schema, path, errors)


def _errors_of(instance, schema, root, path, depth) -> list[str]:
    found: list[str] = []
    _check(instance, schema, root, path, found, depth + 1)
    return found


def _check_object(instance: dict, schema: dict, root, path: str, errors: list[str], depth: int) -> None:
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    for name in schema.get("required") or []:
        if name not in instance:
            errors.append(f"{path}: the required property {name!r} is missing")
    extra = schema.get("additionalProperties", True)
    for name, value in instance.items():
        where = f"{path}.{name}"
        if name in properties:
            _check(value, properties[name], root, where, errors, depth + 1)
        elif extra is False:
            errors.append(f"{path}: the property {name!r} is not allowed")
        elif isinstance(extra, dict):
            _check(value, extra, root, where, errors, depth + 1)


def _check_array(instance: list, schema: dict, root, path: str, errors: list[str], depth: int) -> None:
    if isinstance(schema.get("minItems"), int) and len(instance) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if isinstance(schema.get("maxItems"), int) and len(instance) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
    items = schema.get("items")
    for i, value in enumerate(instance):
        if i < len(prefix):
            _check(value, prefix[i], root, f"{path}[{i}]", errors, depth + 1)
        elif isinstance(items, (dict, bool)):
            _check(value, items, root, f"{path}[{i}]", errors, depth + 1)


def _check_number(instance, schema: dict, path: str, errors: list[str]) -> None:
    bounds = (("minimum", lambda v, b: v >= b, "at least"), ("maximum", lambda v, b: v <= b, "at most"),
              ("exclusiveMinimum", lambda v, b: v > b, "more than"), ("exclusiveMaximum", lambda v, b: v < b, "less than"))
    for keyword, holds, words in bounds:
        bound = schema.get(keyword)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool) and not holds(instance, bound):
            errors.append(f"{path}: must be {words} {bound}")
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0 and not math.isclose(instance / step, round(instance / step)):
        errors.append(f"{path}: must be a multiple of {step}")


# --- finding the JSON in an answer --------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def json_candidates(text: str) -> Iterator[Any]:
    """The JSON values an answer may hold, most likely first: the whole text, then each code
    fence's body, then each object or array that starts somewhere in the prose."""
    stripped = text.strip()
    # RecursionError too: a model can be talked into answering thousands of nested brackets.
    try:
        yield json.loads(stripped)
        return
    except (ValueError, RecursionError):
        pass
    for match in _FENCE.finditer(stripped):
        try:
            yield json.loads(match.group(1).strip())
        except (ValueError, RecursionError):
            continue
    tried = 0
    for start, char in enumerate(stripped):
        if char not in "{[":
            continue
        tried += 1
        if tried > MAX_CANDIDATES:
            return
        try:
            value, _ = _DECODER.raw_decode(stripped, start)
        except (ValueError, RecursionError):
            continue
        yield value


def extract(text: str, schema: dict | None, *, object_only: bool = True) -> tuple[Any, list[str]]:
    """The first JSON value in `text` that matches `schema` (or is an object, with no schema) and
    no errors; or None and why the best candidate failed."""
    first_errors: list[str] | None = None
    for candidate in json_candidates(text):
        if schema is not None:
            errors = validate(candidate, schema)
        else:
            errors = [] if isinstance(candidate, dict) or not object_only else [f"$: expected object, got {json_type(candidate)}"]
        if not errors:
            return candidate, []
        if first_errors is None:
            first_errors = errors
    return None, first_errors or ["the answer holds no JSON value"]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- checking a completion and asking once more ----------------------------------------------------


@dataclass
class Verdict:
    """A completion after checking: `body` with its JSON normalised, or what is wrong with it."""

    body: dict
    problems: list[str]
    # What the model answered, as text, to quote back to it in the repair.
    answered: str = ""
    # Which request field the failure is about: the content's `response_format` or `tools`.
    param: str = "response_format"


def check(body: dict, need: Requirement) -> Verdict:
    """Checks (and normalises) a `chat.completion` object against `need`. The content's JSON is
    written back as plain JSON text (no fence, no prose); strict tool calls' arguments likewise."""
    message = body["choices"][0]["message"]
    calls = message.get("tool_calls") or []
    problems: list[str] = []
    answered: list[str] = []
    for call in calls:
        function = call.get("function") or {}
        schema = need.strict_tools.get(function.get("name"))
        if schema is None:
            continue
        arguments = function.get("arguments") or ""
        value, errors = extract(arguments if isinstance(arguments, str) else dumps(arguments), schema)
        if errors:
            problems += [f"the arguments of {function.get('name')}: {e}" for e in errors[:MAX_REPORTED_ERRORS]]
            answered.append(f"{function.get('name')}({arguments})")
        else:
            function["arguments"] = dumps(value)
    if need.json_content and not calls:
        content = message.get("content") or ""
        value, errors = extract(content, need.schema)
        if errors:
            problems += errors[:MAX_REPORTED_ERRORS]
            answered.append(content)
        else:
            message["content"] = dumps(value)
    return Verdict(body, problems, "\n".join(answered), "response_format" if need.json_content and not calls else "tools")


def repair_messages(messages: list, verdict: Verdict, need: Requirement) -> list:
    """The conversation once more, with the failed answer and what is wrong with it."""
    if need.schema is not None:
        target = "JSON matching this JSON Schema: " + dumps(need.schema)
    elif need.json_content:
        target = "one JSON object"
    else:
        target = "tool calls whose arguments match the tools' parameters"
    correction = ("Your answer is not valid: " + "; ".join(verdict.problems)
                  + f". Answer again with {target}. Reply with the corrected JSON only, no prose and no code fences.")
    return [*messages, {"role": "assistant", "content": verdict.answered or "(empty)"}, {"role": "user", "content": correction}]


def failure(verdict: Verdict, model_id: str) -> ApiError:
    return ApiError(
        502,
        f"'{model_id}' did not produce output matching the requested schema, even after one repair: "
        + "; ".join(verdict.problems[:MAX_REPORTED_ERRORS]),
        type="server_error", code=FAILED_CODE, param=verdict.param,
    )


async def enforce(body: dict, need: Requirement, inputs: dict, model_id: str,
                  rerun: Callable[[dict], Awaitable[dict]]) -> tuple[dict, int]:
    """`body` checked against `need`; when it fails, one more call (`rerun` with the repair
    conversation, which returns the next `chat.completion`) and that answer checked. Returns
    the conforming completion and how many extra calls it took, or raises `structured_output_failed`."""
    verdict = check(body, need)
    if not verdict.problems:
        return verdict.body, 0
    print(f"structured output from {model_id} failed validation, repairing: {'; '.join(verdict.problems[:3])}")
    repair_inputs = {**inputs, "messages": repair_messages(inputs["messages"], verdict, need)}
    repair_inputs.pop("stream", None)
    second = check(await rerun(repair_inputs), need)
    if second.problems:
        raise failure(second, model_id)
    second.body["usage"] = _sum_usage(body.get("usage"), second.body.get("usage"))
    return second.body, 1


def _sum_usage(first, second) -> dict:
    """Both calls' tokens: the client is told what its answer took, repair included."""
    if not isinstance(first, dict) or not isinstance(second, dict):
        return second if isinstance(second, dict) else first
    total = {key: first.get(key, 0) + second.get(key, 0) for key in ("prompt_tokens", "completion_tokens", "total_tokens")}
    if first.get("estimated") or second.get("estimated"):
        total["estimated"] = True
    return total
