"""The profiling tool keeps working as the gateway changes (bench/profile/node-profile.mjs runs the
real `serve()` in node's Pyodide: a rename in the adapter breaks it, as it once broke the probe
entry unnoticed)."""

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def node() -> str:
    bundled = ROOT / "node_modules" / ".bin" / "node"
    return str(bundled) if bundled.exists() else shutil.which("node") or "node"


def test_node_profile_serves_every_endpoint_and_reports_the_split():
    for endpoint in ("chat", "translate", "embeddings"):
        run = subprocess.run([node(), "bench/profile/node-profile.mjs", endpoint, "--requests", "20", "--top", "50"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
        # The script stops with an error when the empty handler, the floor or the gateway answers other than 200.
        assert run.returncode == 0, run.stderr[-2000:]
        figures = dict(re.findall(r"^  (empty|floor|gateway) +([\d.]+)$", run.stdout, re.M))
        assert set(figures) == {"empty", "floor", "gateway"}, run.stdout
        assert all(float(us) > 0 for us in figures.values())
        # Each module of the adapter package is a row of its own: with enough rows, one of them shows.
        assert "by module:" in run.stdout and "gateway/runtime/" in run.stdout.split("by module:", 1)[1]


def test_node_profile_refuses_an_unknown_endpoint():
    run = subprocess.run([node(), "bench/profile/node-profile.mjs", "speech"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "usage:" in run.stderr
