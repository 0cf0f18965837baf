import pytest

from fakes import make_platform, run
from gateway import live_catalog
from gateway.catalog import CHAT

ENTRY = {"name": "@cf/x/new", "task": {"name": "Text Generation"}, "properties": [{"property_id": "require_workers_paid", "value": "true"}]}


class ModelsAi:
    def __init__(self, pages=None, error=None):
        self.pages = pages or [[ENTRY]]
        self.error = error
        self.calls = []

    async def run(self, model, inputs, options=None):
        raise AssertionError("not used")

    async def models(self, params=None):
        self.calls.append(params)
        if self.error:
            raise self.error
        page = params.get("page", 1)
        return self.pages[page - 1] if page <= len(self.pages) else []


@pytest.fixture(autouse=True)
def fresh_cache():
    live_catalog.reset()
    yield
    live_catalog.reset()


def test_parses_the_typed_shape_and_caches_per_isolate():
    ai = ModelsAi()
    platform = make_platform(ai, models_cache_seconds=600)
    models = run(live_catalog.live_models(platform, now=1000))
    assert models["@cf/x/new"].task == CHAT and models["@cf/x/new"].paid
    run(live_catalog.live_models(platform, now=1500))
    assert len(ai.calls) == 1
    run(live_catalog.live_models(platform, now=1601))
    assert len(ai.calls) == 2


def test_reads_every_page():
    full = [dict(ENTRY, name=f"@cf/x/m{i}") for i in range(live_catalog.PAGE_SIZE)]
    ai = ModelsAi(pages=[full, [ENTRY]])
    models = run(live_catalog.live_models(make_platform(ai), now=0))
    assert len(models) == live_catalog.PAGE_SIZE + 1
    assert [c["page"] for c in ai.calls] == [1, 2]


def test_a_failure_falls_back_and_is_retried_later():
    ai = ModelsAi(error=RuntimeError("binding down"))
    platform = make_platform(ai, models_cache_seconds=600)
    assert run(live_catalog.live_models(platform, now=0)) is None
    assert run(live_catalog.live_models(platform, now=10)) is None
    assert len(ai.calls) == 1  # not hammered
    ai.error = None
    assert run(live_catalog.live_models(platform, now=10 + live_catalog.RETRY_AFTER_FAILURE_SECONDS)) is not None


def test_no_binding_or_no_models_method_means_fallback():
    assert run(live_catalog.live_models(make_platform(None), now=0)) is None
    assert run(live_catalog.live_models(make_platform(ModelsAi(pages=[[]])), now=0)) is None
