import pytest

from gateway import moderation
from gateway.errors import ApiError, UpstreamError


def test_verdicts_in_both_published_shapes():
    assert moderation.verdict({"response": "safe"}) is None
    assert moderation.verdict({"response": "unsafe\nS1,S10"}) == ["S1", "S10"]
    assert moderation.verdict({"response": {"safe": False, "categories": ["S11"]}}) == ["S11"]
    assert moderation.verdict({"response": {"safe": True, "categories": []}}) is None
    with pytest.raises(UpstreamError):
        moderation.verdict({"response": "I cannot tell"})


def test_categories_map_to_openai_names_and_scores_are_marked():
    result = moderation.result_object(["S1", "S7"])
    assert result["flagged"] is True
    assert result["categories"]["violence"] and result["categories"]["illicit/violent"]
    assert not result["categories"]["hate"]
    assert result["category_scores"]["violence"] == 1.0 and result["category_scores"]["sexual"] == 0.0
    assert result["category_scores_from_model"] is False
    # Privacy (S7) has no OpenAI category, but still flags the input and is named.
    assert {"code": "S7", "name": "Privacy"} in result["llama_guard_categories"]
    assert set(result["categories"]) == set(moderation.OPENAI_CATEGORIES)
    assert moderation.result_object(None)["flagged"] is False


def test_inputs():
    assert moderation.parse_inputs({"input": "x"}) == ["x"]
    assert moderation.parse_inputs({"input": ["a", {"type": "text", "text": "b"}]}) == ["a", "b"]
    for bad in ({}, {"input": []}, {"input": 3}, {"input": [{"type": "image_url", "image_url": {"url": "data:,"}}]},
                {"input": ["x"] * (moderation.MAX_INPUTS + 1)}):
        with pytest.raises(ApiError) as error:
            moderation.parse_inputs(bad)
        assert error.value.status == 400 and error.value.param == "input"


def test_paid_plan_refusal_is_a_clear_403():
    from gateway.errors import from_upstream

    error = from_upstream(UpstreamError("5035: upgrade required", 5035), "@cf/moonshotai/kimi-k2.6", 0)
    assert (error.status, error.code, error.param) == (403, "requires_workers_paid", "model")
    assert "Workers Paid" in error.message
