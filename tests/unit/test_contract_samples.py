"""The contracts agree with the published schemas, both ways, for every catalog model.

`tests/data/workers-ai-models/<doc>.json` holds each model page's input and output schema
(cloudflare-docs, src/content/workers-ai-models/, read whole at the commit named in the file)
reduced to the keywords the validators read. For each model, inputs are sampled from the published
schema and from our contract: per variant a valid value, and values broken one way each (a required
property removed, a wrong type, a number past its bound, a string outside its enum or pattern, too
many items or properties). The oracle is the `jsonschema` library (Draft 2020-12) on the published
schema with the contract's named `deviations` applied; the gateway's validator (contracts.py) and
the emulator's (scripts/local/contract-validate.mjs, run in node) must give the same verdict on
every sample. Neither side's code decides what is right.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
from hypothesis import strategies as st
from hypothesis import find, settings, HealthCheck

from gateway import catalog, contracts

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_DIR = ROOT / "tests" / "data" / "workers-ai-models"
CONTRACTS = json.loads((ROOT / "src" / "gateway" / "model_contracts.json").read_text(encoding="utf-8"))
MODELS = sorted(m.id for m in catalog.MODELS)


# --- the published schemas ----------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def apply_patch(doc: dict, ops: list[dict]) -> dict:
    """RFC 6902 add / replace / remove (what the data uses), on a copy."""
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _pointer(op["path"])
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if op["op"] == "remove":
                del node[index]
            elif op["op"] == "add":
                node.insert(index, copy.deepcopy(op["value"]))
            else:
                node[index] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del node[last]
        else:
            if op["op"] == "replace":
                assert last in node, f"replace of a missing {op['path']}"
            node[last] = copy.deepcopy(op["value"])
    return doc


@functools.cache
def published(doc: str) -> dict:
    data = json.loads((PUBLISHED_DIR / doc).read_text(encoding="utf-8"))
    if "same_as" in data:
        base = published(data["same_as"])
        data = {**apply_patch({k: base[k] for k in ("input", "output", "defs") if k in base}, data["patches"]),
                **{k: v for k, v in data.items() if k not in ("patches",)}}
    return data


def published_for(model_id: str) -> dict | None:
    matches = [p for p in PUBLISHED_DIR.glob("*.json") if published(p.name).get("model") == model_id]
    return published(matches[0].name) if matches else None


def _as_jsonschema(schema, defs: dict):
    """Bare-name `$ref`s (the data's form) as `#/$defs/<name>` for the jsonschema library."""
    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node and not str(node["$ref"]).startswith("#"):
                return {**{k: walk(v) for k, v in node.items() if k != "$ref"}, "$ref": f"#/$defs/{node['$ref']}"}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **walk(schema),
            "$defs": {name: walk(value) for name, value in defs.items()}}


@functools.cache
def oracle(model_id: str) -> jsonschema.Draft202012Validator:
    """The published input schema with our named deviations applied, as the jsonschema library reads it."""
    page = published_for(model_id)
    deviations = CONTRACTS["models"][model_id].get("deviations", [])
    schema = apply_patch({"input": page["input"]}, deviations)["input"]
    return jsonschema.Draft202012Validator(_as_jsonschema(schema, page.get("defs", {})))


# --- sampling -----------------------------------------------------------------------------------------


@functools.cache
def _matching(pattern: str) -> str:
    return find(st.from_regex(pattern, fullmatch=False), lambda s: True,
                settings=settings(database=None, suppress_health_check=list(HealthCheck)))


class Sampler:
    """Candidate values from a schema: plausible, not guaranteed valid (the oracle decides)."""

    def __init__(self, defs: dict):
        self.defs = defs

    def resolve(self, schema) -> dict:
        return contracts.resolve(schema, self.defs)

    def variants(self, schema) -> list[dict]:
        s = self.resolve(schema)
        nested = s.get("oneOf") or s.get("anyOf")
        if not nested:
            return [s]
        shared = {k: v for k, v in s.items() if k not in ("oneOf", "anyOf")}
        out = []
        for option in nested:
            for leaf in self.variants(option):
                merged = {**shared, **leaf}
                if "properties" in shared or "properties" in leaf:
                    merged["properties"] = {**shared.get("properties", {}), **leaf.get("properties", {})}
                    merged["required"] = sorted(set(shared.get("required", [])) | set(leaf.get("required", [])))
                out.append(merged)
        return out

    def value(self, schema, depth: int = 0):
        if depth > 12:
            return None
        options = [v for v in self.variants(schema) if v.get("type") != "null"] or self.variants(schema)
        s = options[0]
        kind = s.get("type")
        kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
        if "enum" in s:
            return s["enum"][0]
        if "const" in s:
            return s["const"]
        if kind == "string" or (kind is None and ("pattern" in s or "minLength" in s)):
            text = _matching(s["pattern"]) if "pattern" in s else ""
            text = text + "x" * max(0, s.get("minLength", 1) - len(text))
            return text[: s["maxLength"]] if "maxLength" in s else text
        if kind in ("number", "integer"):
            low, high = s.get("minimum"), s.get("maximum")
            value = low if low is not None else (high if high is not None and high < 1 else 1)
            return int(value) if kind == "integer" and float(value).is_integer() else value
        if kind == "boolean":
            return True
        if kind == "array":
            count = max(1, s.get("minItems", 1))
            return [self.value(s.get("items") or {"type": "string"}, depth + 1) for _ in range(count)]
        if kind == "object" or "properties" in s or "additionalProperties" in s:
            props = s.get("properties") or {}
            out = {name: self.value(props[name], depth + 1) for name in s.get("required", []) if name in props}
            extra = s.get("additionalProperties")
            for i in range(max(0, s.get("minProperties", 0) - len(out))):
                out[f"k{i}"] = self.value(extra if isinstance(extra, dict) else {"type": "string"}, depth + 1)
            return out
        return "x"

    def samples(self, schema) -> list[tuple[str, object]]:
        """(what was done, value) for each top-level variant: valid-looking, and broken once each way."""
        out = []
        for variant in self.variants(schema):
            base = self.value({**variant, "type": "object"})
            if not isinstance(base, dict):
                continue
            props = variant.get("properties") or {}
            full = dict(base)
            for name, sub in props.items():
                r = self.resolve(sub)
                if name not in full and ("enum" in r or {"number", "integer"} & set(contracts._types(r))):
                    full[name] = self.value(r)
            out += [("valid", base), ("valid, optional numbers and enums set", full)]
            for name in variant.get("required", []):
                out.append((f"without {name}", {k: v for k, v in base.items() if k != name}))
            for name, sub in props.items():
                out += [(f"{name}: {why}", {**full, name: bad}) for why, bad in self._broken(sub)]
            if "minProperties" in variant:
                out.append(("too few properties", {}))
        return out

    def _broken(self, schema) -> list[tuple[str, object]]:
        s = self.resolve(schema)
        types = contracts._types(s)
        out = []
        if types and "oneOf" not in s and "anyOf" not in s:
            out.append(("wrong type", 7 if "string" in types else "x"))
        if "maximum" in s:
            out.append(("above maximum", s["maximum"] + 1))
        if "minimum" in s:
            out.append(("below minimum", s["minimum"] - 1))
        if "enum" in s and all(isinstance(v, str) for v in s["enum"]):
            out.append(("outside enum", "not-" + str(s["enum"][0])))
        if "pattern" in s:
            out.append(("against pattern", "\u0000 \u0000"))
        if "maxLength" in s:
            out.append(("too long", "x" * (s["maxLength"] + 1)))
        if "maxItems" in s:
            out.append(("too many items", [self.value(s.get("items") or {})] * (s["maxItems"] + 1)))
        if "minItems" in s and s["minItems"] > 0:
            out.append(("too few items", []))
        if "maxProperties" in s:
            extra = s.get("additionalProperties")
            item = self.value(extra if isinstance(extra, dict) else {"type": "string"})
            out.append(("too many properties", {f"k{i}": item for i in range(s["maxProperties"] + 1)}))
        return out


@functools.cache
def samples_for(model_id: str) -> tuple:
    page = published_for(model_id)
    ours = CONTRACTS["models"][model_id]
    found = Sampler(page.get("defs", {})).samples(page["input"]) + Sampler(CONTRACTS["defs"]).samples(ours["input"])
    unique = {json.dumps(value, sort_keys=True): (why, value) for why, value in found}
    return tuple(unique.values())


# --- the tests ----------------------------------------------------------------------------------------

# Catalog models whose page publishes no schema at all: there is nothing to agree with.
UNPUBLISHED = {"@cf/utter-project/eurollm-9b-it", "@cf/swiss-ai/apertus-v1.5-8b"}
CHECKED = [m for m in MODELS if m not in UNPUBLISHED]


def test_every_catalog_model_has_its_page_and_a_contract_or_is_named_unpublished():
    for model_id in MODELS:
        page = published_for(model_id)
        assert page is not None, f"{model_id}: no page in {PUBLISHED_DIR}"
        if model_id in UNPUBLISHED:
            assert page.get("schema_published") is False and contracts.contract_for(model_id) is None
        else:
            contract = contracts.contract_for(model_id)
            assert contract is not None, model_id
            assert (contract.doc, contract.commit) == (page["doc"], page["commit"]), model_id


@pytest.mark.parametrize("model_id", CHECKED)
def test_the_gateway_validator_agrees_with_the_published_schema(model_id):
    contract = contracts.contract_for(model_id)
    check = oracle(model_id)
    disagreements = []
    for why, value in samples_for(model_id):
        expected, ours = check.is_valid(value), not contracts.validate(contract.input, value)
        if expected != ours:
            disagreements.append((why, "published accepts" if expected else "published refuses", value))
    assert disagreements == [], disagreements[:5]
    assert any(check.is_valid(v) for _, v in samples_for(model_id)), "no valid sample: the sampler missed this schema"


def test_the_emulator_validator_agrees_with_the_published_schema(tmp_path):
    cases = [{"model": m, "value": v, "expected": oracle(m).is_valid(v)} for m in CHECKED for _, v in samples_for(m)]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = (
        "import { checkInput } from './scripts/local/contract-validate.mjs';"
        "import { readFileSync } from 'node:fs';"
        "const contracts = JSON.parse(readFileSync('src/gateway/model_contracts.json', 'utf8'));"
        f"const cases = JSON.parse(readFileSync({json.dumps(str(tmp_path / 'cases.json'))}, 'utf8'));"
        "console.log(JSON.stringify(cases.map((c) => checkInput(contracts, c.model, c.value).length === 0)));"
    )
    run = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    verdicts = json.loads(run.stdout)
    wrong = [(c["model"], c["expected"], c["value"]) for c, got in zip(cases, verdicts) if got != c["expected"]]
    assert wrong == [], wrong[:5]
    print(f"{len(cases)} samples over {len(CHECKED)} models: {sum(c['expected'] for c in cases)} valid, "
          f"{sum(not c['expected'] for c in cases)} invalid")


def test_the_samples_cover_both_verdicts_on_every_model():
    for model_id in CHECKED:
        verdicts = {oracle(model_id).is_valid(v) for _, v in samples_for(model_id)}
        assert verdicts == {True, False}, model_id


def test_a_deviation_is_named_and_the_oracle_sees_it():
    """The oracle is the published page plus the named deviations, no more: llama-3.3-70b's batch
    variant has no `required` on its page, so without the deviation a chat call matches twice."""
    model_id = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    deviations = CONTRACTS["models"][model_id]["deviations"]
    assert deviations and all(d["why"] for d in deviations)
    page = published_for(model_id)
    plain = jsonschema.Draft202012Validator(_as_jsonschema(page["input"], page.get("defs", {})))
    call = {"messages": [{"role": "user", "content": "hi"}]}
    assert not plain.is_valid(call) and oracle(model_id).is_valid(call)
