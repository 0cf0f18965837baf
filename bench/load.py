"""Load: N concurrent clients against the local worker for a fixed time, mixing chat (stream and
not), embeddings and DeepLX translate; prints requests, errors, p50/p99 per kind and the workerd
process's memory before, at the end of the load and after it settles.

    uv run --frozen --no-sync python bench/load.py --clients 200 --seconds 10 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.local_gateway import LocalGateway  # noqa: E402

KEY = "sk-load"
CHAT = {"model": "@cf/meta/llama-3.1-8b-instruct-fast", "messages": [{"role": "user", "content": "Tell me about the sea in twenty words"}]}


def workerd_memory_kib(node_pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of the workerd child of the local run."""
    for child in Path(f"/proc/{node_pid}/task").glob("*/children"):
        for pid in child.read_text().split():
            status = Path(f"/proc/{pid}/status").read_text()
            if "workerd" in Path(f"/proc/{pid}/cmdline").read_text():
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}
    return {}


async def one(client: httpx.AsyncClient, kind: str) -> None:
    if kind == "chat":
        response = await client.post("/v1/chat/completions", json=CHAT)
        response.raise_for_status()
        assert response.json()["choices"][0]["message"]["content"]
    elif kind == "stream":
        async with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
            response.raise_for_status()
            last = ""
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    last = line[6:]
            assert last == "[DONE]", last
    elif kind == "embeddings":
        response = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["a", "b", "c"]})
        response.raise_for_status()
        assert len(response.json()["data"]) == 3
    else:
        response = await client.post(f"/translate?password={KEY}", json={"text": "Guten Morgen\nWie geht es?", "source_lang": "auto", "target_lang": "EN"})
        response.raise_for_status()
        assert response.json()["code"] == 200


async def client_loop(base: str, index: int, deadline: float, latencies: dict, errors: dict, kinds: tuple[str, ...]) -> None:
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60, limits=limits) as client:
        n = index
        while time.monotonic() < deadline:
            kind = kinds[n % len(kinds)]
            n += 1
            started = time.perf_counter()
            try:
                await one(client, kind)
                latencies[kind].append(time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors[kind].append(f"{type(exc).__name__}: {exc}"[:200])


async def run(clients: int, seconds: float, only: tuple[str, ...], rounds: int) -> dict:
    gateway = LocalGateway(api_keys=KEY)
    kinds = ("chat", "stream", "embeddings", "translate")
    latencies = {k: [] for k in kinds}
    errors = {k: [] for k in kinds}
    memory = []
    try:
        await asyncio.sleep(1)
        heap = httpx.get(f"{gateway.url}/health").json()["python_heap_mib"]
        memory.append((f"before (python heap {heap} MiB)", workerd_memory_kib(gateway.process.pid)))
        # Several rounds on one worker: memory that keeps climbing round after round is a leak,
        # memory that settles is the runtime's heap sizing.
        for round_ in range(1, rounds + 1):
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(client_loop(gateway.url, i, deadline, latencies, errors, only or kinds) for i in range(clients)))
            await asyncio.sleep(3)
            heap = httpx.get(f"{gateway.url}/health").json()["python_heap_mib"]
            memory.append((f"after round {round_} (python heap {heap} MiB)", workerd_memory_kib(gateway.process.pid)))
    finally:
        gateway.stop()
    seconds *= rounds

    def pct(values, q):
        return round(statistics.quantiles(values, n=100)[q - 1] * 1000, 1) if len(values) >= 2 else None

    rows = {k: {"requests": len(latencies[k]) + len(errors[k]), "errors": len(errors[k]), "p50_ms": pct(latencies[k], 50),
                "p99_ms": pct(latencies[k], 99)} for k in kinds if latencies[k] or errors[k]}
    total = sum(r["requests"] for r in rows.values())
    return {"clients": clients, "seconds": seconds, "requests": total, "requests_per_second": round(total / seconds, 1),
            "errors": sum(r["errors"] for r in rows.values()), "by_kind": rows,
            "workerd_rss_mib": {label: round(kib.get("VmRSS", 0) / 1024) for label, kib in memory},
            "error_samples": {k: v[:3] for k, v in errors.items() if v}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--only", default="", help="comma-separated kinds to send (chat,stream,embeddings,translate)")
    parser.add_argument("--rounds", type=int, default=3, help="load rounds on the same worker")
    args = parser.parse_args()
    result = asyncio.run(run(args.clients, args.seconds, tuple(k for k in args.only.split(",") if k), args.rounds))
    print(f"{'kind':<12}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, row in result["by_kind"].items():
        print(f"{kind:<12}{row['requests']:>10}{row['errors']:>8}{row['p50_ms']!s:>10}{row['p99_ms']!s:>10}")
    print(json.dumps({k: v for k, v in result.items() if k != "by_kind"}, indent=2))


if __name__ == "__main__":
    main()
