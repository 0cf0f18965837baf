import pytest

from gateway import catalog
from gateway.catalog import BY_ID, CHAT, DEFAULT_ALIASES, DEFAULT_MODEL, EMBEDDINGS, MODELS, RETIRED, resolve
from gateway.config import parse_aliases
from gateway.errors import ApiError


def test_ids_are_unique_and_every_target_exists_with_the_right_task():
    assert len(BY_ID) == len(MODELS)
    for task, model_id in DEFAULT_MODEL.items():
        assert BY_ID[model_id].task == task
    for name, target in DEFAULT_ALIASES.items():
        assert target in BY_ID, name
    for old, new in RETIRED.items():
        assert new in BY_ID, old
        assert old not in BY_ID


def test_no_retired_model_is_served_as_current():
    assert all(catalog.retired_replacement(m.id) is None for m in MODELS)


def test_resolution_paths():
    aliases = parse_aliases(None)
    assert resolve("gpt-4o-mini", CHAT, aliases=aliases).via == "alias"
    assert resolve("@cf/meta/llama-3.1-8b-instruct-fast", CHAT, aliases=aliases).via == "id"
    short = resolve("llama-3.3-70b-instruct-fp8-fast", CHAT, aliases=aliases)
    assert short.model.id == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    retired = resolve("@hf/thebloke/llama-2-13b-chat-awq", CHAT, aliases=aliases)
    assert (retired.via, retired.model.id) == ("retired", DEFAULT_MODEL[CHAT])
    assert resolve(None, EMBEDDINGS, aliases=aliases).model.id == DEFAULT_MODEL[EMBEDDINGS]
    assert resolve("@cf/new/brand-new-model", CHAT, aliases=aliases).via == "passthrough"


def test_resolution_errors():
    aliases = parse_aliases(None)
    with pytest.raises(ApiError) as unknown:
        resolve("nope", CHAT, aliases=aliases)
    assert unknown.value.status == 404 and "nope" in unknown.value.message
    with pytest.raises(ApiError) as retired:
        resolve("@cf/microsoft/phi-2", CHAT, aliases=aliases, redirect_retired=False)
    assert retired.value.code == "model_retired" and DEFAULT_MODEL[CHAT] in retired.value.message
    with pytest.raises(ApiError) as wrong_task:
        resolve("@cf/baai/bge-m3", CHAT, aliases=aliases)
    assert wrong_task.value.status == 400


def test_model_aliases_setting():
    assert parse_aliases('{"house-model": "@cf/openai/gpt-oss-20b"}')["house-model"] == "@cf/openai/gpt-oss-20b"
    custom = parse_aliases("fast=@cf/meta/llama-3.2-1b-instruct, gpt-4o-mini=")
    assert custom["fast"] == "@cf/meta/llama-3.2-1b-instruct"
    assert "gpt-4o-mini" not in custom
    assert parse_aliases("{broken") == DEFAULT_ALIASES
