"""What one page costs with each translation engine (issue 31), against the real worker in workerd
with the AI emulator: m2m100 (one line a call) and the LLM engine (TRANSLATE_MODEL, many lines a
call). For the same 200-line page, sent as Immersive Translate sends it (one `text_list`), prints
the Workers AI calls and neurons the gateway accounted (GET /v1/usage: the pricing data applied to
the tokens the emulator reports), the wall time and the CPU time of the worker's processes.

    uv run --frozen --no-sync python bench/translation_engines.py [--runtime legacy|production]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

sys.path.insert(0, str(ROOT / "src"))

from support.local_gateway import LocalGateway  # noqa: E402
from gateway import llm_translation, pricing  # noqa: E402
from gateway.llm_translation import Instructions  # noqa: E402

KEY = "sk-bench-engines"
ENGINES = {
    "m2m100 (default)": None,
    "LLM: llama-3.3-70b-fp8-fast": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "LLM: granite-4.0-h-micro": "@cf/ibm-granite/granite-4.0-h-micro",
    "LLM: gpt-oss-20b": "@cf/openai/gpt-oss-20b",
}


def page(lines: int = 200) -> list[str]:
    """Distinct lines of prose and labels, the documentation's own (README, then docs/ by name), without markdown."""
    out = []
    for raw in "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]).splitlines():
        text = re.sub(r"[`*_#>|\[\]()]", "", raw).strip()
        if len(text) > 3 and text not in out:
            out.append(text[:300])
        if len(out) == lines:
            break
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (Linux /proc)."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total


def priced(model: str | None, lines: list[str]) -> float:
    """Neurons at real lengths, from the pricing data: each answer as long as its source (the
    emulator's answers are not), the LLM's prompts as the engine writes them."""
    if model is None:
        return sum(pricing.translation_neurons("@cf/meta/m2m100-1.2b", line, line) for line in lines)
    total = 0.0
    for group in llm_translation.batches(lines):
        batch = [lines[i] for i in group]
        body = llm_translation.chat_body(model, batch, "en", "de", Instructions())
        prompt = sum(pricing.tokens(m["content"]) + 4 for m in body["messages"]) + 16
        answer = pricing.tokens('{"translations": ' + str(batch) + "}")
        total += pricing.neurons(pricing._text_generation_usd(pricing.price_for(model), prompt, answer))
    return total


def usage(client: httpx.Client, url: str) -> dict:
    deadline = time.monotonic() + 15
    while True:
        body = client.get(f"{url}/v1/usage?days=1", headers={"Authorization": f"Bearer {KEY}"}).json()
        today = next(iter(body["keys"][0]["days"].values()), {}) if body["keys"] else {}
        if today.get("requests", 0) >= 1 or time.monotonic() > deadline:
            return today
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", default=None)
    args = parser.parse_args()
    lines = page()
    chars = sum(len(line) for line in lines)
    print(f"page: {len(lines)} lines, {chars} characters, EN → DE, translation cache off\n")
    print("| engine | AI calls | neurons (emulator's tokens) | neurons at real lengths | wall s | worker CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, model in ENGINES.items():
        env = {"TRANSLATE_CACHE_TTL": "0", **({"TRANSLATE_MODEL": model} if model else {})}
        gateway = LocalGateway(api_keys=KEY, extra_env=env, runtime=args.runtime)
        try:
            with httpx.Client(timeout=300) as client:
                client.post(f"{gateway.url}/translate", json={"text_list": ["warm up"], "source_lang": "EN", "target_lang": "FR"},
                            headers={"Authorization": f"Bearer {KEY}"}).raise_for_status()
                before_cpu, before_usage, start = cpu_seconds(gateway.process.pid), usage(client, gateway.url), time.monotonic()
                response = client.post(f"{gateway.url}/translate", json={"text_list": lines, "source_lang": "EN", "target_lang": "DE"},
                                       headers={"Authorization": f"Bearer {KEY}"})
                response.raise_for_status()
                wall, cpu = time.monotonic() - start, cpu_seconds(gateway.process.pid) - before_cpu
                time.sleep(0.5)
                after = usage(client, gateway.url)
                calls = after.get("ai_calls", 0) - before_usage.get("ai_calls", 0)
                neurons = after.get("neurons", 0) - before_usage.get("neurons", 0)
                print(f"| {name} | {calls} | {neurons:.1f} | {priced(model, lines):.1f} | {wall:.2f} | {cpu:.2f} |")
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
