"""What `npm run deploy` uploads starts on the production runtime.

From compatibility date 2026-04-21 the runtime imports the `workers` SDK from the upload's own
python_modules/ before src/entry.py runs; an upload without it dies at startup.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from support.local_gateway import ROOT, RUNTIME, LocalGateway


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deploy")
    done = subprocess.run(
        ["node", "scripts/deploy.mjs", "--dry-run", "--outdir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_dry_run_uploads_the_sources_and_the_locked_sdk(dry_run):
    uploaded = _files(dry_run)
    sources = {str(p.relative_to(ROOT / "src")) for p in (ROOT / "src").rglob("*.py") if "__pycache__" not in p.parts}
    assert sources <= uploaded
    assert "python_modules/workers/__init__.py" in uploaded
    assert "python_modules/workers/workflows.js" in uploaded
    # The SDK version uv.lock pins, not whatever the runtime happens to carry.
    lock = (ROOT / "uv.lock").read_text()
    block = lock.split('name = "workers-runtime-sdk"\nversion = "', 1)[1]
    version = block.split('"', 1)[0]
    assert f"python_modules/workers_runtime_sdk-{version}.dist-info/METADATA" in uploaded
    # Nothing else: no tests, scripts or local state.
    assert not [name for name in uploaded if not (name.endswith(".py") or name.startswith("python_modules/") or name == "README.md")]


@pytest.mark.skipif(RUNTIME != "production", reason="starts the production runtime: runs in the production pass")
def test_dry_run_output_starts_on_the_production_runtime(dry_run):
    gateway = LocalGateway(runtime="production", extra_env={"LOCAL_WORKER_BUNDLE": str(dry_run)})
    try:
        health = httpx.get(f"{gateway.url}/health", timeout=30).json()
        assert health["runtime"] == "modern"  # Default(WorkerEntrypoint).fetch answered
        chat = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {gateway.api_key}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]},
            timeout=30,
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["choices"][0]["message"]["content"]
    finally:
        gateway.stop()
