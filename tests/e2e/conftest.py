"""End-to-end fixtures: the real worker in workerd, the AI emulator, local R2.

Two gateways per session: `gateway` answers from the deterministic emulator;
`scripted_gateway` forwards every AI call to pytest-httpserver so a test can
script answers, delays and failures from Python.
"""

from __future__ import annotations

import httpx
import openai
import pytest
from pytest_httpserver import HTTPServer

from support.local_gateway import LocalGateway


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def gateway():
    local = LocalGateway(api_keys="sk-test-key,sk-second-key")
    yield local
    local.stop()


@pytest.fixture(scope="session")
def scripted_gateway(make_httpserver):
    # Tests script answers through the function-scoped `httpserver` fixture: the
    # same session-wide server, cleared before each test.
    local = LocalGateway(api_keys="sk-test-key", upstream=make_httpserver.url_for("/"))
    yield local
    local.stop()


@pytest.fixture(scope="session")
def make_httpserver():
    # Threaded, so a scripted slow answer never delays the next test's calls (or parallel calls).
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def http(gateway):
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest.fixture
def auth_headers(gateway):
    return {"Authorization": f"Bearer {gateway.api_key}"}


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0, timeout=30)
