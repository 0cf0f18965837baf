"""Requests generated from OpenAI's and DeepL's own descriptions (schemathesis: valid and invalid
examples, a bounded number per operation) for the operations the gateway implements. Every answer
is held to the same rules as `test_conformance.py`: no status of 500 or more, a success that matches
the described schema, an error in the vendor's envelope; only its EXCEPTIONS are allowed."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from support import api_specs
from test_conformance import check

EXAMPLES_PER_OPERATION = 25
OPENAI_OPERATIONS = ["createChatCompletion", "createCompletion", "createEmbedding", "listModels", "retrieveModel",
                     "createImage", "createModeration", "createResponse"]
DEEPL_OPERATIONS = ["translateText", "getUsage", "getLanguagesV2"]
RUN: Counter = Counter()


def _schema(spec: api_specs.ApiSpec, operations: list[str], path_regex: str):
    schema = schemathesis.openapi.from_dict(spec.document).include(operation_id=operations, path_regex=path_regex)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema


OPENAI = _schema(api_specs.openai(), OPENAI_OPERATIONS, r".")
# The gateway implements DeepL v2 (v3 paths hold other operations of similar names).
DEEPL = _schema(api_specs.deepl(), DEEPL_OPERATIONS, r"^/v2/")
SETTINGS = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True, database=None)


def _call_and_check(case, spec: api_specs.ApiSpec, base_url: str, headers: dict) -> None:
    if case.method.upper() != case.operation.method.upper():
        # A negative case may send another method: not an operation of the description (workerd itself
        # answers 501 to methods it does not know, such as TRACE, before the worker runs).
        if case.method.upper() in {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}:
            response = case.call(base_url=base_url, headers=headers, timeout=60)
            assert response.status_code < 500, (case.method, case.operation.path, response.status_code)
        return
    response = case.call(base_url=base_url, headers=headers, timeout=60)
    RUN[case.operation.label] += 1
    assert response.status_code < 500, (case.operation.label, response.status_code, response.text[:300],
                                        json.dumps(case.body, default=str)[:1500])
    listed = str(response.status_code) in spec.statuses(case.operation.path, case.method)
    # OpenAI's description lists successes only; its errors are ErrorResponse everywhere (checked in `check`).
    assert listed or spec.name == "openai", (case.operation.label, response.status_code, "not a status it lists")
    flat = {name: value if isinstance(value, str) else ", ".join(value) for name, value in response.headers.items()
            if name.lower() != "content-encoding"}  # the content is already decoded
    answer = httpx.Response(response.status_code, headers=flat, content=response.content)
    check(spec, "generated:" + case.operation.definition.raw["operationId"], case.operation.path, case.method, answer)


@OPENAI.parametrize()
@SETTINGS
def test_generated_openai_requests(case, gateway):
    _call_and_check(case, api_specs.openai(), f"{gateway.url}/v1", {"Authorization": f"Bearer {gateway.api_key}"})


@DEEPL.parametrize()
@SETTINGS
def test_generated_deepl_requests(case, gateway):
    _call_and_check(case, api_specs.deepl(), gateway.url, {"Authorization": f"DeepL-Auth-Key {gateway.api_key}"})


def test_the_generated_run_was_big_enough():
    print(f"FIGURE generated conformance: requests per operation: {dict(sorted(RUN.items()))}")
    assert len(RUN) == len(OPENAI_OPERATIONS) + len(DEEPL_OPERATIONS)
    assert min(RUN.values()) >= 10
