"""Platform options (issue 30): parameters handed on or reported dropped, per-message length,
LoRA adapters, the AI Gateway option, usage details and FLUX.2 reference images."""

from __future__ import annotations

import json

import pytest

from fakes import FakeAi, make_platform, make_request, run
from gateway import chat_contract, images
from gateway.app import handle
from gateway.catalog import BY_ID
from gateway.config import Settings, ai_gateway_options
from gateway.endpoints.common import split_adapter
from gateway.errors import ApiError
from gateway.usage import key_hash

NEW_MODEL = "@cf/zai-org/glm-4.7-flash"  # takes reasoning_effort and chat_template_kwargs
OLD_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # takes neither, nor lora
LORA_MODEL = "@cf/google/gemma-2b-it-lora"
# A -lora model whose page still caps a message (gemma-2b-it-lora's newer page dropped the cap).
CAPPED_LORA_MODEL = "@cf/google/gemma-7b-it-lora"
FAST_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"
KEY = "sk-unit"


class RecordingAi(FakeAi):
    """A binding that keeps the options of every call (and may be configured with a gateway)."""

    def __init__(self, result, gateway=None):
        super().__init__(result)
        self.gateway = gateway
        self.options: list = []

    async def run(self, model, inputs, options=None, *, vectors_key=None):
        self.options.append(options)
        return await super().run(model, inputs, options, vectors_key=vectors_key)


def openai_answer(model, inputs):
    return {"id": "x", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                      "prompt_tokens_details": {"cached_tokens": 4},
                      "completion_tokens_details": {"reasoning_tokens": 3}}}


def legacy_answer(model, inputs):
    return {"response": "ok", "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def chat(ai, body, **settings):
    platform = make_platform(ai=ai, **settings)
    request = make_request("POST", "/v1/chat/completions", body=body,
                           headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    return run(handle(request, platform))


def data_of(response):
    return response.data if hasattr(response, "data") else json.loads(response.body)


def message(text="hi"):
    return [{"role": "user", "content": text}]


# --- parameters handed on where the contract takes them, else named as dropped --------------------


def test_reasoning_parameters_reach_a_model_whose_contract_takes_them():
    ai = RecordingAi(openai_answer)
    response = chat(ai, {"model": NEW_MODEL, "messages": message(), "reasoning_effort": "low",
                         "chat_template_kwargs": {"enable_thinking": False}})
    assert response.status == 200
    _, inputs = ai.calls[0]
    assert inputs["reasoning_effort"] == "low"
    assert inputs["chat_template_kwargs"] == {"enable_thinking": False}
    assert "X-Dropped-Params" not in response.headers


def test_parameters_a_model_does_not_take_are_named_as_dropped():
    ai = RecordingAi(legacy_answer)
    response = chat(ai, {"model": OLD_MODEL, "messages": message(), "reasoning_effort": "low",
                         "chat_template_kwargs": {"enable_thinking": False}, "lora": "my-adapter"})
    assert response.status == 200
    _, inputs = ai.calls[0]
    assert not {"reasoning_effort", "chat_template_kwargs", "lora"} & set(inputs)
    assert set(response.headers["X-Dropped-Params"].split(",")) == {"reasoning_effort", "chat_template_kwargs", "lora"}


def test_stream_options_go_only_where_the_contract_takes_them_and_are_never_reported_dropped():
    inputs = {"messages": message(), "stream": True}
    plan = chat_contract.adapt(OLD_MODEL, inputs, stream=True, body={"stream_options": {"include_usage": True}})
    assert "stream_options" not in inputs and "stream_options" not in plan.notes.dropped
    props = {"stream_options": {}}
    inputs = {}
    notes = chat_contract.Notes()
    chat_contract._hand_on({"stream_options": {"include_usage": True}}, inputs, props, notes, stream=True, lora=None)
    assert inputs == {"stream_options": {"include_usage": True}}


def test_reasoning_effort_is_handed_on_as_given():
    inputs = {"messages": message()}
    chat_contract.adapt(NEW_MODEL, inputs, stream=False, body={"reasoning_effort": "high"})
    assert inputs["reasoning_effort"] == "high"


# --- usage details ---------------------------------------------------------------------------------


def test_cached_and_reasoning_token_counts_are_carried_into_usage():
    response = chat(RecordingAi(openai_answer), {"model": NEW_MODEL, "messages": message()})
    usage = data_of(response)["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 4}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 3}


def test_usage_without_details_gains_none():
    usage = data_of(chat(RecordingAi(legacy_answer), {"model": OLD_MODEL, "messages": message()}))["usage"]
    assert "prompt_tokens_details" not in usage and "completion_tokens_details" not in usage


# --- per-message maxLength -------------------------------------------------------------------------


@pytest.mark.parametrize("model", [FAST_MODEL, CAPPED_LORA_MODEL])
def test_a_message_over_the_contracts_max_length_is_refused_naming_it(model):
    ai = RecordingAi(legacy_answer)
    body = {"model": model, "messages": [{"role": "system", "content": "short"},
                                         {"role": "user", "content": "a" * 131_073}]}
    response = chat(ai, body)
    assert response.status == 400
    error = data_of(response)["error"]
    assert error["param"] == "messages[1].content"
    assert "131072" in error["message"]
    assert ai.calls == []


def test_a_message_at_the_max_length_is_taken():
    ai = RecordingAi(legacy_answer)
    assert chat(ai, {"model": FAST_MODEL, "messages": message("a" * 131_072)}).status == 200


def test_text_parts_joined_into_one_string_are_measured_too():
    parts = [{"type": "text", "text": "a" * 70_000}, {"type": "text", "text": "b" * 70_000}]
    with pytest.raises(ApiError) as raised:
        chat_contract.adapt(CAPPED_LORA_MODEL, {"messages": [{"role": "user", "content": parts}]}, stream=False)
    assert raised.value.param == "messages[0].content"


# --- LoRA --------------------------------------------------------------------------------------------


def test_lora_reaches_a_lora_model():
    ai = RecordingAi(legacy_answer)
    response = chat(ai, {"model": LORA_MODEL, "messages": message(), "lora": "cf-public-magicoder"})
    assert response.status == 200
    assert ai.calls[0][1]["lora"] == "cf-public-magicoder"


def test_the_model_shorthand_names_the_adapter_and_x_model_reports_both():
    ai = RecordingAi(legacy_answer)
    response = chat(ai, {"model": f"{LORA_MODEL}:cf-public-magicoder", "messages": message()})
    assert response.status == 200
    model, inputs = ai.calls[0]
    assert model == LORA_MODEL and inputs["lora"] == "cf-public-magicoder"
    assert response.headers["X-Model"] == f"{LORA_MODEL}:cf-public-magicoder"
    assert response.headers["X-Requested-Model"] == f"{LORA_MODEL}:cf-public-magicoder"


def test_a_lora_in_the_body_wins_over_the_shorthand():
    ai = RecordingAi(legacy_answer)
    chat(ai, {"model": f"{LORA_MODEL}:from-name", "messages": message(), "lora": "from-body"})
    assert ai.calls[0][1]["lora"] == "from-body"


def test_split_adapter_keeps_whole_names_it_knows():
    aliases = {"odd:alias": OLD_MODEL}
    assert split_adapter("odd:alias", aliases) == ("odd:alias", None)
    assert split_adapter(LORA_MODEL, aliases) == (LORA_MODEL, None)
    assert split_adapter(f"{LORA_MODEL}:a:b", aliases) == (f"{LORA_MODEL}:a", "b")
    assert split_adapter("model:", aliases) == ("model:", None)
    assert split_adapter(None, aliases) == (None, None)
    assert not any(":" in model_id for model_id in BY_ID)


def test_an_adapter_on_a_model_without_lora_is_reported_dropped():
    ai = RecordingAi(legacy_answer)
    response = chat(ai, {"model": f"{OLD_MODEL}:my-adapter", "messages": message()})
    assert response.status == 200
    assert "lora" not in ai.calls[0][1]
    assert response.headers["X-Dropped-Params"] == "lora"


# --- AI Gateway --------------------------------------------------------------------------------------


def test_gateway_settings_are_parsed():
    assert ai_gateway_options(None, "60", "true") is None
    assert ai_gateway_options(" my-gw ", None, None) == {"id": "my-gw"}
    assert ai_gateway_options("my-gw", "3600", "true") == {"id": "my-gw", "cacheTtl": 3600, "skipCache": True}
    assert ai_gateway_options("my-gw", "soon", "no") == {"id": "my-gw", "skipCache": False}
    lookup = {"AI_GATEWAY_ID": "gw", "AI_GATEWAY_CACHE_TTL": "120"}.get
    assert Settings.from_lookup(lookup).ai_gateway == {"id": "gw", "cacheTtl": 120}
    assert Settings.from_lookup({}.get).ai_gateway is None


def test_every_call_goes_through_the_gateway_with_the_keys_hash_never_the_key():
    ai = RecordingAi(legacy_answer, gateway={"id": "gw", "cacheTtl": 60})
    assert chat(ai, {"model": OLD_MODEL, "messages": message()}).status == 200
    (options,) = ai.options
    assert options == {"gateway": {"id": "gw", "cacheTtl": 60, "metadata": {"key": key_hash(KEY)}}}
    assert KEY not in json.dumps(options)


def test_without_a_gateway_no_options_are_added():
    ai = RecordingAi(legacy_answer)
    chat(ai, {"model": OLD_MODEL, "messages": message()})
    assert ai.options == [None]


# --- FLUX.2 reference images -------------------------------------------------------------------------

FLUX2 = BY_ID["@cf/black-forest-labs/flux-2-dev"]
PNG = "data:image/png;base64,iVBORw0KGgo="


def test_flux2_takes_as_many_reference_images_as_its_contract_names():
    assert images.reference_image_limit(FLUX2.id) == 4
    assert images.reference_image_limit("@cf/black-forest-labs/flux-1-schnell") == 0


def test_every_reference_image_of_a_chat_goes_to_flux2():
    parts = [{"type": "text", "text": "a cat"}] + [{"type": "image_url", "image_url": {"url": PNG + str(i)}} for i in range(2)]
    job = images.from_chat({"messages": [{"role": "user", "content": parts}]}, FLUX2)
    assert [job.image_url, *job.references] == [PNG + "0", PNG + "1"]
    assert job.mask_url is None


def test_more_reference_images_than_flux2_takes_are_refused_naming_the_field():
    parts = [{"type": "text", "text": "a cat"}] + [{"type": "image_url", "image_url": {"url": PNG}}] * 5
    body = {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": parts}]}
    with pytest.raises(ApiError) as raised:
        images.from_chat(body, FLUX2)
    assert raised.value.param == "messages[1].content"
    with pytest.raises(ApiError) as raised:
        images.from_images_api({"prompt": "a cat", "image": [PNG] * 5}, FLUX2)
    assert raised.value.param == "image"


def test_an_image_array_on_the_images_api_becomes_flux2_references():
    job, _, _ = images.from_images_api({"prompt": "a cat", "image": [PNG + "0", PNG + "1", PNG + "2"]}, FLUX2)
    assert [job.image_url, *job.references] == [PNG + "0", PNG + "1", PNG + "2"]


class FakeBlob:
    def __init__(self, name):
        self.name = name

    def runtime_bytes(self):
        return self.name


def test_the_form_carries_each_reference_image_in_its_own_field():
    job, _, _ = images.from_images_api({"prompt": "a cat"}, FLUX2)
    form = images.multipart_inputs(job, [FakeBlob("first"), FakeBlob("second")])["multipart"]
    assert form.fields["input_image_0"] == "first" and form.fields["input_image_1"] == "second"
