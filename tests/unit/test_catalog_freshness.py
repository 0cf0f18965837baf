"""The freshness guard: every catalog id must be a model the locked @cloudflare/workers-types names.

`npm update @cloudflare/workers-types` then `python3 scripts/catalog_diff.py` shows what changed.
"""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("catalog_diff", ROOT / "scripts" / "catalog_diff.py")
catalog_diff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalog_diff)


def test_the_types_package_is_pinned_and_installed():
    package = json.loads((ROOT / "package.json").read_text())
    pinned = package["devDependencies"]["@cloudflare/workers-types"]
    assert pinned[0].isdigit(), "pin an exact version so the guard checks a known map"
    assert catalog_diff.types_version() == pinned
    assert len(catalog_diff.types_model_ids()) > 50


def test_every_catalog_id_is_in_the_workers_types_model_map():
    result = catalog_diff.diff()
    assert result["catalog_not_in_types"] == [], "catalog ids unknown to @cloudflare/workers-types"
    assert result["no_longer_missing"] == [], "the types name these now: drop them from NOT_IN_TYPES"


def test_the_guard_fails_for_an_id_the_types_do_not_name(monkeypatch):
    from gateway import catalog

    monkeypatch.setattr(catalog, "MODELS", catalog.MODELS + (catalog.Model("@cf/made-up/not-a-model", catalog.CHAT),))
    assert catalog_diff.diff()["catalog_not_in_types"] == ["@cf/made-up/not-a-model"]


def test_the_emulator_copy_of_the_catalog_is_up_to_date():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalog_export.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
