"""Neuron economy figures (issue 20), against the real worker in workerd with the AI emulator.

1. Translation cache replay: a small site (the sections of this repository's documentation as pages,
   each with the same navigation bar and footer, as Immersive Translate sends a page: its
   paragraphs in one `text_list`) is read once, then every page again. Prints the cache hit rate
   (lines answered from the cache / lines to translate) and the neurons saved, from the gateway's
   own accounting (GET /v1/usage), for the first reading and for both.
2. Accounting latency: the same chat request, alternating between a gateway with the D1 binding
   (accounting on), one without (off), and one with a budget set (a reservation before the AI call);
   prints p50/p90 per gateway and the difference.

    uv run --frozen --no-sync python bench/neuron_economy.py [--requests 300]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.local_gateway import LocalGateway  # noqa: E402

KEY = "sk-bench-economy"
CHAT = {"model": "@cf/meta/llama-3.1-8b-instruct-fast", "messages": [{"role": "user", "content": "Tell me about the sea in twenty words"}]}
FOOTER = ["Workers AI gateway", "Licensed under the MIT licence.", "Questions? Open an issue on the repository."]


def site() -> list[list[str]]:
    """Pages made of the documentation's sections (README, then docs/ by name): navigation (every
    section title), the section's paragraphs, a footer."""
    text = "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    titles = [section.splitlines()[0].strip() for section in sections]
    pages = []
    for section in sections:
        body, in_code, paragraph = [], False, []
        for line in section.splitlines()[1:]:
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code or line.startswith("<"):
                continue
            stripped = line.strip()
            # Table cells and list items are elements of their own, translated one by one.
            if stripped.startswith("|") or re.match(r"^([-*]|\d+\.) ", stripped):
                if paragraph:
                    body.append(" ".join(paragraph))
                    paragraph = []
                if stripped.startswith("|"):
                    body += [cell.strip() for cell in stripped.strip("|").split("|") if cell.strip().strip("-:")]
                else:
                    body.append(re.sub(r"^([-*]|\d+\.) ", "", stripped))
                continue
            if stripped:
                paragraph.append(stripped)
            elif paragraph:
                body.append(" ".join(paragraph))
                paragraph = []
        if paragraph:
            body.append(" ".join(paragraph))
        # Immersive Translate sends each paragraph as one text; the gateway translates it line by line.
        pages.append(titles + [p[:1500] for p in body if len(p) > 1] + FOOTER)
    return pages


def translate_page(client: httpx.Client, url: str, page: list[str]) -> None:
    for start in range(0, len(page), 100):
        response = client.post(f"{url}/translate", json={"text_list": page[start:start + 100], "source_lang": "EN", "target_lang": "DE"},
                               headers={"Authorization": f"Bearer {KEY}"})
        response.raise_for_status()


def day_usage(client: httpx.Client, url: str, expect_requests: int) -> dict:
    deadline = time.monotonic() + 15
    while True:
        body = client.get(f"{url}/v1/usage?days=1", headers={"Authorization": f"Bearer {KEY}"}).json()
        days = body["keys"][0]["days"] if body["keys"] else {}
        today = next(iter(days.values()), {})
        if today.get("requests", 0) >= expect_requests or time.monotonic() > deadline:
            return today
        time.sleep(0.2)


def replay() -> None:
    pages = site()
    lines = sum(len(page) for page in pages)
    gateway = LocalGateway(api_keys=KEY)
    try:
        with httpx.Client(timeout=120) as client:
            requests = 0
            for page in pages:
                translate_page(client, gateway.url, page)
                requests += -(-len(page) // 100)
            first = day_usage(client, gateway.url, requests)
            for page in pages:
                translate_page(client, gateway.url, page)
                requests += -(-len(page) // 100)
            both = day_usage(client, gateway.url, requests)
    finally:
        gateway.stop()

    def rate(u: dict) -> float:
        return u["cache_hits"] / max(1, u["cache_hits"] + u["ai_calls"])

    print(f"Replay: {len(pages)} pages, {lines} texts per reading (navigation of {len(pages)} titles + footer on every page)")
    print("| reading | lines to translate | from cache | AI calls | hit rate | neurons spent | neurons saved | saved share |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    second = {k: both[k] - first[k] for k in ("cache_hits", "ai_calls", "neurons", "neurons_saved")}
    for name, u in (("first (shared navigation)", first), ("second (same pages again)", second), ("both", both)):
        total = u["cache_hits"] + u["ai_calls"]
        print(f"| {name} | {total} | {u['cache_hits']} | {u['ai_calls']} | {rate(u):.1%} | {u['neurons']:.1f} | "
              f"{u['neurons_saved']:.1f} | {u['neurons_saved'] / max(1e-9, u['neurons'] + u['neurons_saved']):.1%} |")


def latency(requests: int, gap_ms: float) -> None:
    gateways = {
        "accounting off (no D1)": LocalGateway(api_keys=KEY, extra_env={"LOCAL_NO_D1": "1"}),
        "accounting on": LocalGateway(api_keys=KEY),
        "accounting on + budget": LocalGateway(api_keys=KEY, extra_env={"KEY_BUDGETS": "*=100000000"}),
    }
    timings: dict[str, list[float]] = {name: [] for name in gateways}
    try:
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as client:
            for name, gateway in gateways.items():  # warm up each isolate
                for _ in range(30):
                    client.post(f"{gateway.url}/v1/chat/completions", json=CHAT).raise_for_status()
            for _ in range(requests):
                for name, gateway in gateways.items():  # alternating, so drift hits all alike
                    started = time.perf_counter()
                    client.post(f"{gateway.url}/v1/chat/completions", json=CHAT).raise_for_status()
                    timings[name].append((time.perf_counter() - started) * 1000)
                    # With a gap, the deferred write is over before the next request: what remains
                    # is the accounting's cost on the answer's own path.
                    time.sleep(gap_ms / 1000)
    finally:
        for gateway in gateways.values():
            gateway.stop()
    base = statistics.median(timings["accounting off (no D1)"])
    print(f"\nAccounting latency: {requests} sequential chat requests per gateway, interleaved, {gap_ms:g} ms between requests")
    print("| gateway | p50 ms | p90 ms | p50 added |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in timings.items():
        p50, p90 = statistics.median(values), statistics.quantiles(values, n=10)[8]
        print(f"| {name} | {p50:.2f} | {p90:.2f} | {p50 - base:+.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=0.0, help="pause after each request (lets deferred writes finish)")
    parser.add_argument("--only", choices=["replay", "latency"])
    args = parser.parse_args()
    if args.only in (None, "replay"):
        replay()
    if args.only in (None, "latency"):
        latency(args.requests, args.gap_ms)


if __name__ == "__main__":
    main()
