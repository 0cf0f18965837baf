"""scripts/smoke.py against the local worker: every endpoint passes with the key, nothing but /health without it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from support.local_gateway import ROOT, LocalGateway

SMOKE = ROOT / "scripts" / "smoke.py"
CHECKS = ["health", "models", "chat", "chat-stream", "completions", "responses", "embeddings", "image", "image-file",
          "transcription", "speech", "moderation", "deeplx", "deepl-v2", "deepl-usage"]
TRANSLATE_SECRET = "tr-smoke-secret"


def smoke(*args: str) -> tuple[int, dict[str, str], str]:
    """Exit code, each check's result column, and the whole output."""
    done = subprocess.run([sys.executable, str(SMOKE), *args], capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    results = {}
    for line in done.stdout.splitlines():
        found = re.match(r"^(\S+)\s+(GET|POST) .*?\s+(\d{3}|-)\s+\d+\s+(pass|FAIL)\b", line)
        if found:
            results[found.group(1)] = found.group(4)
    return done.returncode, results, output


def test_every_endpoint_passes(gateway):
    code, results, output = smoke(gateway.url, gateway.api_key)
    print(output)
    assert code == 0, output
    assert results == {name: "pass" for name in CHECKS}, output
    assert f"{len(CHECKS)} passed, 0 failed" in output
    # What the emulator answers shows through: the transcript of the generated WAV, a translated line.
    assert "Emulated transcript of" in output and "DE→EN: [de->en] Guten Morgen" in output
    assert ", live (" in output  # the model list came from the binding's models()


def test_a_wrong_key_fails(gateway):
    code, results, output = smoke(f"{gateway.url}/v1/", "sk-wrong")  # a pasted /v1 is forgiven
    assert code == 1, output
    assert results["health"] == "pass"  # public
    assert all(results[name] == "FAIL" for name in CHECKS if name != "health"), output
    assert "invalid_api_key" in output and f"1 passed, {len(CHECKS) - 1} failed" in output


@pytest.fixture(scope="module")
def with_translate_secret():
    local = LocalGateway(api_keys="sk-smoke-key", extra_env={"TRANSLATE_PASSWORD": TRANSLATE_SECRET})
    yield local
    local.stop()


def test_translate_secret_option(with_translate_secret):
    url, key = with_translate_secret.url, with_translate_secret.api_key
    code, results, output = smoke(url, key, "--translate-secret", TRANSLATE_SECRET)
    assert code == 0 and set(results.values()) == {"pass"}, output
    code, results, output = smoke(url, key)  # the API key does not open /translate then
    assert code == 1, output
    assert {name for name, result in results.items() if result == "FAIL"} == {"deeplx", "deepl-v2", "deepl-usage"}, output


def test_bad_arguments_are_a_usage_error():
    code, _, output = smoke("example.com", "sk-x")
    assert code == 2 and "must start with http" in output
