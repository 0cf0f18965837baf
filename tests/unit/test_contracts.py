"""The model contracts: data in sync, every catalog model covered, the validator and fit()."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import catalog, contracts
from gateway.errors import ApiError

ROOT = Path(__file__).resolve().parents[2]


def test_generated_module_matches_the_json():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/contracts.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_contract_names_its_source_commit():
    doc = json.loads((ROOT / "src/gateway/model_contracts.json").read_text())
    for model_id, contract in doc["models"].items():
        assert len(contract["commit"]) == 40, model_id
        assert contract["doc"].endswith(".json"), model_id
        assert contracts.contract_for(model_id).source.startswith("https://github.com/cloudflare/cloudflare-docs/blob/")


def test_refs_resolve():
    doc = json.loads((ROOT / "src/gateway/model_contracts.json").read_text())

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                assert node["$ref"] in doc["defs"], node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)


def test_validator_names_the_field():
    flux = contracts.contract_for("@cf/black-forest-labs/flux-1-schnell")
    assert contracts.validate(flux.input, {"prompt": "a cat", "steps": 4}) == []
    problems = contracts.validate(flux.input, {"prompt": "a cat", "seed": 3})
    assert any("/seed" in p for p in problems)
    problems = contracts.validate(flux.input, {"prompt": "a cat", "steps": 9})
    assert any("/steps" in p for p in problems)


def test_chat_message_without_content_breaks_the_contract():
    problems = contracts.check_input(
        "@cf/meta/llama-3.1-8b-instruct-fast",
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": []}]},
    )
    assert problems and "/messages/1" in problems[0]


def test_fit_drops_clamps_and_refuses():
    flux = contracts.contract_for("@cf/black-forest-labs/flux-1-schnell")
    inputs = {"prompt": "x", "steps": 4, "seed": 1, "negative_prompt": "y", "guidance": 3}
    notes = contracts.fit(flux, inputs, "prompt")
    assert inputs == {"prompt": "x", "steps": 4}
    assert set(notes.dropped) == {"seed", "negative_prompt", "guidance"}

    phoenix = contracts.contract_for("@cf/leonardo/phoenix-1.0")
    inputs = {"prompt": "x", "guidance": 1, "num_steps": 25}
    notes = contracts.fit(phoenix, inputs, "prompt")
    assert inputs["guidance"] == 2 and notes.clamped == ["guidance"]

    aura = contracts.contract_for("@cf/deepgram/aura-1")
    with pytest.raises(ApiError) as caught:
        contracts.fit(aura, {"text": "hi", "speaker": "bogus"}, "text", names={"speaker": "voice"})
    assert caught.value.param == "voice"


def test_embedding_batch_limits_come_from_the_contracts():
    assert contracts.contract_for("@cf/qwen/qwen3-embedding-0.6b").max_items("text") == 32
    assert contracts.contract_for("@cf/baai/bge-m3").max_items("text") == 100


def test_binary_output_types():
    assert contracts.contract_for("@cf/leonardo/phoenix-1.0").output_content_type() == "image/jpeg"
    assert contracts.contract_for("@cf/stabilityai/stable-diffusion-xl-base-1.0").output_content_type() == "image/png"


# Catalog models whose page publishes no schema (tests/data/workers-ai-models/ keeps the page's facts).
NO_PUBLISHED_SCHEMA = {"@cf/utter-project/eurollm-9b-it", "@cf/swiss-ai/apertus-v1.5-8b"}


def test_every_catalog_model_has_a_contract():
    assert {m.id for m in catalog.MODELS if contracts.contract_for(m.id) is None} == NO_PUBLISHED_SCHEMA


# (Catalog ids against @cloudflare/workers-types: tests/unit/test_catalog_freshness.py.)
