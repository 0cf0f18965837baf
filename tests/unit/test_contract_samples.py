"""Inputs sampled from the contracts themselves: the validator (the Python mirror of the
emulator's scripts/local/contract-validate.mjs, reading the same data) takes every valid
sample and refuses every invalid one.

Valid: per input variant, its required properties with type-conforming values (recursively).
Invalid: that sample with one required property removed, one property of the wrong type,
a number past its maximum/minimum, or a string outside its enum.
"""

from __future__ import annotations

import copy

import pytest

from gateway import catalog, contracts

MODELS = sorted(m.id for m in catalog.MODELS if contracts.contract_for(m.id) is not None)


def _value(schema, depth=0):
    s = contracts.resolve(schema)
    for key in ("oneOf", "anyOf"):
        if key in s and "type" not in s and "properties" not in s:
            options = [o for o in s[key] if contracts.resolve(o).get("type") != "null"] or s[key]
            return _value(options[0], depth + 1)
    for key in ("oneOf", "anyOf"):
        if key in s and "properties" in s:  # shared properties beside variants: take the first variant's own
            first = contracts.resolve(s[key][0])
            s = {**{k: v for k, v in s.items() if k != key}, **first,
                 "properties": {**s["properties"], **first.get("properties", {})},
                 "required": sorted(set(s.get("required", [])) | set(first.get("required", [])))}
    kind = s.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if "enum" in s:
        return s["enum"][0]
    if kind == "string":
        return "x" * max(1, s.get("minLength", 1))
    if kind in ("number", "integer"):
        low, high = s.get("minimum"), s.get("maximum")
        return low if low is not None else (high if high is not None and high < 1 else 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(s.get("items") or {"type": "string"}, depth + 1) for _ in range(max(1, s.get("minItems", 1)))]
    if kind == "object" or "properties" in s:
        return {name: _value(s["properties"][name], depth + 1) for name in s.get("required", []) if name in s.get("properties", {})}
    return "x"


def _variants(schema):
    """The object variants of an input schema, each with the shared keywords of its parents."""
    s = contracts.resolve(schema)
    nested = s.get("oneOf") or s.get("anyOf")
    if not nested:
        return [s]
    out = []
    for v in nested:
        for leaf in _variants(v):
            out.append({**{k: s[k] for k in ("type",) if k in s}, **leaf})
    return out


def samples(model_id):
    contract = contracts.contract_for(model_id)
    valid, invalid = [], []
    for variant in _variants(contract.input):
        if variant.get("type") not in (None, "object") and "properties" not in variant:
            continue
        base = _value({**variant, "type": "object"})
        props = variant.get("properties") or {}
        # Also set every optional top-level number/enum, to check their ranges.
        full = dict(base)
        for name, schema in props.items():
            r = contracts._unwrap_nullable(contracts.resolve(schema))
            if name not in full and ("enum" in r or {"number", "integer"} & set(contracts._types(r))):
                full[name] = _value(r)
        valid += [base, full]
        for name in variant.get("required", []):
            broken = copy.deepcopy(base)
            broken.pop(name, None)
            invalid.append((f"missing {name}", broken))
        for name, schema in props.items():
            r = contracts._unwrap_nullable(contracts.resolve(schema))
            types = contracts._types(r)
            if not types or "oneOf" in r or "anyOf" in r:
                continue
            wrong = {"x"} if "string" not in types else ({"x": 1} if "object" not in types else 7)
            if "string" not in types:
                wrong = "x"
            invalid.append((f"{name} of the wrong type", {**full, name: wrong}))
            if "maximum" in r:
                invalid.append((f"{name} above maximum", {**full, name: r["maximum"] + 1}))
            if "minimum" in r:
                invalid.append((f"{name} below minimum", {**full, name: r["minimum"] - 1}))
            if "enum" in r and "string" in types:
                invalid.append((f"{name} outside enum", {**full, name: "not-" + str(r["enum"][0])}))
    return valid, invalid


def _counts():
    total = [0, 0]
    for model_id in MODELS:
        v, i = samples(model_id)
        total[0] += len(v)
        total[1] += len(i)
    return len(MODELS), *total


@pytest.mark.parametrize("model_id", MODELS)
def test_sampled_inputs(model_id):
    contract = contracts.contract_for(model_id)
    valid, invalid = samples(model_id)
    assert valid, model_id
    for value in valid:
        assert contracts.validate(contract.input, value) == [], (model_id, value)
    for why, value in invalid:
        assert contracts.validate(contract.input, value), (model_id, why, value)


def test_sample_counts():
    models, valid, invalid = _counts()
    print(f"sampled {models} models: {valid} valid, {invalid} invalid inputs")
    assert models >= 60 and valid >= 2 * models and invalid > valid


@pytest.mark.parametrize("model_id", [
    "@cf/zai-org/glm-5.3", "@cf/moonshotai/kimi-k2.6", "@cf/google/gemma-4-26b-a4b-it",
    "@cf/deepseek-ai/deepseek-v4-flash-0731", "@cf/qwen/qwen3.8-27b", "@cf/nvidia/nemotron-3-120b-a12b", "@cf/zai-org/glm-4.7-flash",
])
def test_openai_layout_refuses_what_workers_ai_refuses(model_id):
    check = lambda inputs: contracts.check_input(model_id, inputs)  # noqa: E731
    user = {"role": "user", "content": "hi"}
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert check({"messages": [user], "temperature": 2, "top_p": 1, "seed": None, "max_tokens": None}) == []
    assert check({"messages": [user, {"role": "assistant", "content": None, "tool_calls": [call]},
                               {"role": "tool", "content": "ok", "tool_call_id": "c1"}]}) == []
    assert check({"requests": [{"messages": [user]}]}) == []
    assert check({"input": "hi"}) == []
    assert check({"messages": [user], "temperature": 2.5})
    assert check({"messages": [user], "top_p": 1.5})
    assert check({"messages": [user, {"role": "assistant", "tool_calls": [{**call, "function": {"name": "f", "arguments": {}}}]}]})
    assert check({"messages": [user, {"role": "assistant", "tool_calls": [{k: v for k, v in call.items() if k != "type"}]}]})
    assert check({"messages": [user, {"role": "tool", "content": "ok"}]})
    assert check({"messages": [user], "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}})
    assert check({"messages": [user], "tools": [{"name": "f", "description": "d", "parameters": {}}]})
