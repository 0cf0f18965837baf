"""The Workers AI model contracts, and the one engine that fits a request to them.

Every model's published input/output JSON Schema is data (`model_contracts.json`,
embedded for the worker in the generated `contract_data.py`). This module reads it:

- `contract_for(model_id)`: the contract, or None for a model the data does not list
  (an id passed through to Workers AI as is).
- `fit(...)`: drops inputs a model does not take, clamps numbers into the model's range,
  refuses (400, naming the OpenAI parameter) what cannot be fixed, and reports what it did.
- `validate(...)`: the same JSON Schema subset the emulator enforces, for unit tests and
  for naming a problem before Workers AI would answer 5006.

Chat-specific shaping (content beside tool_calls, tools, images, ids, JSON mode) lives
in `chat_contract.py`, also driven only by what the schema says.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from . import contract_data
from .errors import bad_request

_DEFS: dict | None = None
_CACHE: dict[str, "Contract"] = {}


def _defs() -> dict:
    global _DEFS
    if _DEFS is None:
        _DEFS = json.loads(contract_data.DEFS)
    return _DEFS


def resolve(schema, defs: dict | None = None) -> dict:
    """The schema itself, following {"$ref": name} into the shared defs."""
    defs = _defs() if defs is None else defs
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        schema = defs[schema["$ref"]]
        seen += 1
        if seen > 20:
            raise ValueError("contract $ref loop")
    return schema if isinstance(schema, dict) else {}


def variants(schema: dict) -> list[dict]:
    """Every object schema a value may match: the schema, or the leaves of its oneOf/anyOf."""
    schema = resolve(schema)
    nested = schema.get("oneOf") or schema.get("anyOf")
    if not nested:
        return [schema]
    out = []
    for variant in nested:
        out.extend(variants(variant))
    return out


@dataclass
class Contract:
    model_id: str
    doc: str
    commit: str
    input: dict
    output: dict
    # What requests keep asking of the schema, worked out once per isolate: the variant with a
    # given property, and per (variant, property) the resolved schema and its types.
    _variants: dict = field(default_factory=dict, repr=False, compare=False)
    _rules: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def source(self) -> str:
        return contract_data.SOURCE.format(commit=self.commit, doc=self.doc)

    def variant(self, key: str) -> dict | None:
        """The input variant (an object schema) that has the property `key`, e.g. "messages"."""
        try:
            return self._variants[key]
        except KeyError:
            pass
        found = next((v for v in variants(self.input) if key in (v.get("properties") or {})), None)
        self._variants[key] = found
        return found

    def rules(self, variant_key: str) -> dict[str, tuple[dict, list[str]]] | None:
        """Per input property of the variant with `variant_key`: its resolved schema and types."""
        try:
            return self._rules[variant_key]
        except KeyError:
            pass
        variant = self.variant(variant_key)
        rules = None
        if variant is not None:
            rules = {}
            for key, schema in (variant.get("properties") or {}).items():
                schema = _unwrap_nullable(resolve(schema))
                rules[key] = (schema, _types(schema))
        self._rules[variant_key] = rules
        return rules

    def prop(self, key: str, variant_key: str | None = None) -> dict | None:
        variant = self.variant(variant_key or key)
        if variant is None:
            return None
        found = (variant.get("properties") or {}).get(key)
        return None if found is None else resolve(found)

    def max_items(self, key: str) -> int | None:
        """The `maxItems` of the array form of input `key` (embedding batches), if the contract sets one."""
        cache_key = ("max_items", key)
        if cache_key not in self._rules:
            schema = self.prop(key)
            limits = [v["maxItems"] for v in variants(schema) if v.get("type") == "array" and "maxItems" in v] if schema else []
            self._rules[cache_key] = min(limits) if limits else None
        return self._rules[cache_key]

    def output_content_type(self) -> str | None:
        """The media type of a binary (non-JSON) output, e.g. image/jpeg for phoenix."""
        for variant in variants(self.output):
            kind = variant.get("contentType")
            if kind and kind not in ("application/json", "text/event-stream"):
                return kind
        return None


def contract_for(model_id: str) -> Contract | None:
    contract = _CACHE.get(model_id)
    if contract is None:
        raw = contract_data.MODELS.get(model_id)
        if raw is None:
            return None
        data = json.loads(raw)
        contract = Contract(model_id, data["doc"], data["commit"], data["input"], data["output"])
        _CACHE[model_id] = contract
    return contract


# --- fitting inputs to a contract ------------------------------------------------------------


@dataclass
class Notes:
    """What the gateway changed to make a request fit the model, reported in response headers."""

    dropped: list[str] = field(default_factory=list)
    clamped: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        out = {}
        if self.dropped:
            out["X-Dropped-Params"] = ",".join(dict.fromkeys(self.dropped))
        if self.clamped:
            out["X-Clamped-Params"] = ",".join(dict.fromkeys(self.clamped))
        if self.mapped:
            out["X-Mapped-Params"] = ",".join(dict.fromkeys(self.mapped))
        return out


def _unwrap_nullable(schema: dict) -> dict:
    """`anyOf [X, {"type": "null"}]` (how the OpenAI-compatible schemas write a nullable
    parameter) as X with "null" among its types, so fit() clamps and checks X's range."""
    nested = schema.get("anyOf") or schema.get("oneOf")
    if not nested or len(schema) > 1 + ("default" in schema):
        return schema
    options = [resolve(v) for v in nested]
    typed = [v for v in options if v.get("type") != "null"]
    if len(typed) != 1 or len(typed) == len(options) or "anyOf" in typed[0] or "oneOf" in typed[0]:
        return schema
    inner = dict(typed[0])
    inner["type"] = _types(inner) + ["null"]
    return inner


def _types(schema: dict) -> list[str]:
    kind = schema.get("type")
    return kind if isinstance(kind, list) else ([kind] if kind else [])


def fit(contract: Contract | None, inputs: dict, variant_key: str, *, names: dict[str, str] | None = None,
        notes: Notes | None = None, keep: tuple[str, ...] = ()) -> Notes:
    """Makes the top level of `inputs` satisfy the variant of the contract that has `variant_key`.

    Unknown keys are dropped, numbers outside the range are clamped, values a range or enum
    cannot fix are refused with a 400 naming the OpenAI parameter (`names` maps model input
    names to the client's). Nested structures are the caller's job (see chat_contract).
    """
    notes = notes or Notes()
    if contract is None:
        return notes
    names = names or {}
    rules = contract.rules(variant_key)
    if rules is None:
        return notes
    for key in list(inputs):
        if key.startswith("__emulator") or key in keep:
            continue
        rule = rules.get(key)
        if rule is None:
            del inputs[key]
            notes.dropped.append(names.get(key, key))
            continue
        schema, types = rule
        value = inputs[key]
        param = names.get(key, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and ("number" in types or "integer" in types):
            if "integer" in types and "number" not in types and not float(value).is_integer():
                raise bad_request(f"`{param}` must be a whole number for {contract.model_id}.", param=param)
            if "integer" in types and "number" not in types:
                value = int(value)
            low, high = schema.get("minimum"), schema.get("maximum")
            fitted = value
            if low is not None and fitted < low:
                fitted = low
            if high is not None and fitted > high:
                fitted = high
            if fitted != value or type(fitted) is not type(inputs[key]):
                if fitted != value:
                    notes.clamped.append(param)
                inputs[key] = fitted
        elif isinstance(value, str) and "string" in types:
            if "enum" in schema and value not in schema["enum"]:
                raise bad_request(
                    f"`{param}` must be one of {', '.join(map(str, schema['enum']))} for {contract.model_id}, not {value!r}.",
                    param=param,
                )
            if len(value) < schema.get("minLength", 0):
                raise bad_request(f"`{param}` must not be empty.", param=param)
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                raise bad_request(
                    f"`{param}` is longer than the {schema['maxLength']} characters {contract.model_id} takes.", param=param
                )
    return notes


# --- validation (the subset of JSON Schema the contracts use) -------------------------------------


def json_type(value) -> str:
    """The JSON Schema type of a decoded value, as Workers AI's validator names it: 2.0 is an
    integer, bytes are "binary" (a `format: binary` string). Shared with structured.py."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    return "binary"


def validate(schema, value, defs: dict | None = None, path: str = "", loose: bool = False) -> list[str]:
    """Problems of `value` against `schema`, each naming the field by JSON pointer ("/messages/1/content")."""
    defs = _defs() if defs is None else defs
    s = resolve(schema, defs)
    at = path or "/"
    actual = json_type(value)
    types = _types(s)
    if types:
        ok = any(
            t == actual or (t == "number" and actual == "integer") or (t == "string" and actual == "binary" and s.get("format") == "binary")
            or (t == "object" and actual == "binary")  # bytes and streams are objects to Workers AI's validator
            for t in types
        )
        if not ok:
            return [f"Type mismatch of '{at}', '{actual}' not in '{','.join(types)}'"]
    problems: list[str] = []
    if "enum" in s and value not in s["enum"]:
        problems.append(f"'{at}' must be one of {s['enum']}")
    if actual in ("integer", "number"):
        if "minimum" in s and value < s["minimum"]:
            problems.append(f"'{at}' must be >= {s['minimum']}")
        if "maximum" in s and value > s["maximum"]:
            problems.append(f"'{at}' must be <= {s['maximum']}")
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"'{at}' must be finite")
    if actual == "string":
        if len(value) < s.get("minLength", 0):
            problems.append(f"'{at}' must NOT have fewer than {s['minLength']} characters")
        if "maxLength" in s and len(value) > s["maxLength"]:
            problems.append(f"'{at}' must NOT have more than {s['maxLength']} characters")
        if "pattern" in s and not re.search(s["pattern"], value):
            problems.append(f"'{at}' must match pattern \"{s['pattern']}\"")
    if actual == "array":
        if len(value) < s.get("minItems", 0):
            problems.append(f"'{at}' must NOT have fewer than {s['minItems']} items")
        if "maxItems" in s and len(value) > s["maxItems"]:
            problems.append(f"'{at}' must NOT have more than {s['maxItems']} items")
        if isinstance(s.get("items"), dict):
            for i, item in enumerate(value):
                problems.extend(validate(s["items"], item, defs, f"{path}/{i}", loose))
    if actual == "object":
        props = s.get("properties") or {}
        for name in s.get("required") or []:
            if name not in value:
                problems.append(f"required properties at '{at}' are {s['required']} ('{name}' is missing)")
        if len(value) < s.get("minProperties", 0):
            problems.append(f"'{at}' must NOT have fewer than {s['minProperties']} properties")
        if "maxProperties" in s and len(value) > s["maxProperties"]:
            problems.append(f"'{at}' must NOT have more than {s['maxProperties']} properties")
        extra = s.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                problems.extend(validate(props[name], item, defs, f"{path}/{name}", loose))
            elif extra is False:
                problems.append(f"'{path}/{name}' is not allowed: additional properties are not accepted at '{at}'")
            elif isinstance(extra, dict):
                problems.extend(validate(extra, item, defs, f"{path}/{name}", loose))
    for keyword in ("anyOf", "oneOf"):
        if keyword in s:
            results = [validate(v, value, defs, path, loose) for v in s[keyword]]
            matches = sum(1 for r in results if not r)
            if matches == 0:
                # Report the variant the value was meant for: the one whose required
                # properties are all present, else the one with the fewest problems.
                meant = [
                    r for v, r in zip(s[keyword], results)
                    if actual == "object" and resolve(v, defs).get("required")
                    and all(name in value for name in resolve(v, defs)["required"])
                ]
                best = min(meant or results, key=len)
                problems.append(f"{keyword} at '{at}' not met, 0 matches: {'; '.join(best)}")
            elif keyword == "oneOf" and matches > 1 and not loose:
                problems.append(f"oneOf at '{at}' not met, {matches} matches")
    return problems


def check_input(model_id: str, inputs: dict) -> list[str]:
    """Contract problems of a call's inputs ([] for a model without a contract)."""
    contract = contract_for(model_id)
    if contract is None:
        return []
    return validate(contract.input, {k: v for k, v in inputs.items() if not k.startswith("__emulator")})
