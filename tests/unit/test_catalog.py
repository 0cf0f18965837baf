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


def test_todays_models_and_retirements():
    aliases = parse_aliases(None)
    # gemma-3-12b-it was retired on 2026-05-30; Cloudflare points to gemma-4-26b-a4b-it.
    gemma = resolve("@cf/google/gemma-3-12b-it", CHAT, aliases=aliases)
    assert (gemma.via, gemma.model.id) == ("retired", "@cf/google/gemma-4-26b-a4b-it")
    assert "@cf/google/gemma-3-12b-it" not in BY_ID
    # kimi-k2.5 is answered by kimi-k2.6, as Cloudflare itself does.
    assert resolve("@cf/moonshotai/kimi-k2.5", CHAT, aliases=aliases).model.id == "@cf/moonshotai/kimi-k2.6"
    # The -lora variants remain active: served as themselves.
    for lora in ("@cf/google/gemma-2b-it-lora", "@cf/google/gemma-7b-it-lora",
                 "@cf/mistral/mistral-7b-instruct-v0.2-lora", "@cf/meta-llama/llama-2-7b-chat-hf-lora"):
        resolved = resolve(lora, CHAT, aliases=aliases)
        assert (resolved.via, resolved.model.id) == ("id", lora)
    # llama-3.1-8b-instruct-fp8 has no retirement notice; llama-guard is a classifier, never redirected.
    assert resolve("@cf/meta/llama-3.1-8b-instruct-fp8", CHAT, aliases=aliases).via == "id"
    guard = resolve("@cf/meta/llama-guard-3-8b", catalog.MODERATION, aliases=aliases)
    assert (guard.via, guard.model.id) == ("id", "@cf/meta/llama-guard-3-8b")
    for new in ("@cf/zai-org/glm-5.2", "@cf/zai-org/glm-5.3", "@cf/zai-org/glm-5.3-flash", "@cf/moonshotai/kimi-k2.6",
                "@cf/moonshotai/kimi-k2.7-code", "@cf/deepseek-ai/deepseek-v4-flash-0731",
                "@cf/deepseek-ai/deepseek-v4-pro-0813", "@cf/qwen/qwen3.8-27b", "@cf/nvidia/nemotron-3-120b-a12b",
                "@cf/aisingapore/gemma-sea-lion-v4-27b-it"):
        assert BY_ID[new].task == CHAT
    paid = {m.id for m in MODELS if m.paid}
    assert {"@cf/moonshotai/kimi-k2.6", "@cf/moonshotai/kimi-k2.7-code", "@cf/zai-org/glm-5.2"} <= paid
    assert "@cf/nvidia/nemotron-3-120b-a12b" not in paid and "@cf/zai-org/glm-4.7-flash" not in paid
    assert BY_ID["@cf/black-forest-labs/flux-2-dev"].limits["input"] == "multipart"
    assert BY_ID["@cf/deepgram/nova-3"].task == catalog.SPEECH_TO_TEXT
    assert {BY_ID["@cf/deepgram/aura-2-en"].task, BY_ID["@cf/deepgram/aura-2-es"].task} == {catalog.TEXT_TO_SPEECH}
    assert BY_ID["@cf/pfnet/plamo-embedding-1b"].task == EMBEDDINGS
    assert BY_ID["@cf/ai4bharat/indictrans2-en-indic-1B"].task == catalog.TRANSLATION


@pytest.mark.parametrize(
    "name, task, model_id, via",
    [
        ("gpt-4o-transcribe", catalog.SPEECH_TO_TEXT, "@cf/deepgram/nova-3", "alias"),
        ("gpt-4o-mini-transcribe", catalog.SPEECH_TO_TEXT, "@cf/openai/whisper-large-v3-turbo", "alias"),
        ("gpt-4o-mini-tts", catalog.TEXT_TO_SPEECH, "@cf/deepgram/aura-2-en", "alias"),
        ("gpt-4-turbo", CHAT, "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "alias"),
        ("gpt-5", CHAT, "@cf/openai/gpt-oss-120b", "alias"),
        ("gpt-5-mini", CHAT, "@cf/openai/gpt-oss-20b", "alias"),
        ("o3-mini", CHAT, "@cf/openai/gpt-oss-20b", "alias"),
        ("o4-mini", CHAT, "@cf/openai/gpt-oss-20b", "alias"),
        # Dated or suffixed names resolve by their longest family prefix.
        ("gpt-4o-2024-08-06", CHAT, "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "family"),
        ("gpt-4o-mini-2024-07-18", CHAT, "@cf/meta/llama-3.1-8b-instruct-fast", "family"),
        ("gpt-4-turbo-2024-04-09", CHAT, "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "family"),
        ("o3-mini-2025-01-31", CHAT, "@cf/openai/gpt-oss-20b", "family"),
        ("gpt-5.1", CHAT, "@cf/openai/gpt-oss-120b", "family"),
        ("gpt-5-mini-2025-08-07", CHAT, "@cf/openai/gpt-oss-20b", "family"),
        ("gpt-4o-mini-tts-2025-03-20", catalog.TEXT_TO_SPEECH, "@cf/deepgram/aura-2-en", "family"),
        ("omni-moderation-2024-09-26", catalog.MODERATION, "@cf/meta/llama-guard-3-8b", "family"),
    ],
)
def test_openai_names_map_to_the_nearest_current_model_of_the_same_kind(name, task, model_id, via):
    resolved = resolve(name, task, aliases=parse_aliases(None))
    assert (resolved.model.id, resolved.via) == (model_id, via)


def test_family_prefixes_stop_at_a_boundary():
    aliases = parse_aliases(None)
    with pytest.raises(ApiError):
        resolve("gpt-4oops", CHAT, aliases=aliases)
    # A name of another kind is refused, not answered by a model of the wrong kind.
    with pytest.raises(ApiError) as wrong:
        resolve("gpt-4o-transcribe", CHAT, aliases=aliases)
    assert wrong.value.code == "model_task_mismatch"


def test_the_live_list_wins_over_the_table():
    aliases = parse_aliases(None)
    live = {
        "@cf/new/vendor-model": catalog.LiveModel("@cf/new/vendor-model", "Text Generation",
                                                  {"function_calling": "true", "require_workers_paid": "true"}),
        "@cf/new/embedder": catalog.LiveModel("@cf/new/embedder", "Text Embeddings"),
        "@cf/meta/llama-3-8b-instruct": catalog.LiveModel("@cf/meta/llama-3-8b-instruct", "Text Generation"),
        "@cf/new/classifier": catalog.LiveModel("@cf/new/classifier", "Text Classification"),
    }
    served = resolve("@cf/new/vendor-model", CHAT, aliases=aliases, live=live)
    assert (served.via, served.model.task, served.model.paid, "tools" in served.model.capabilities) == ("live", CHAT, True, True)
    assert resolve("vendor-model", CHAT, aliases=aliases, live=live).model.id == "@cf/new/vendor-model"
    with pytest.raises(ApiError) as wrong_task:
        resolve("@cf/new/embedder", CHAT, aliases=aliases, live=live)
    assert wrong_task.value.code == "model_task_mismatch"
    with pytest.raises(ApiError):
        resolve("@cf/new/classifier", CHAT, aliases=aliases, live=live)
    # Still listed live: served, although the table calls it retired; not listed: redirected.
    assert resolve("@cf/meta/llama-3-8b-instruct", CHAT, aliases=aliases, live=live).via == "live"
    assert resolve("@cf/meta/llama-3-8b-instruct", CHAT, aliases=aliases, live={}).via == "retired"
    assert catalog.needs_live_list("@cf/new/vendor-model", aliases)
    assert not catalog.needs_live_list("gpt-4o", aliases) and not catalog.needs_live_list(DEFAULT_MODEL[CHAT], aliases)


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
