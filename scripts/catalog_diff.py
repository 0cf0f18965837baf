#!/usr/bin/env python3
"""The catalog beside the `AiModels` map of the locked `@cloudflare/workers-types`.

    python3 scripts/catalog_diff.py        # prints the differences; exit 1 if a catalog id is unknown to the types

After `npm update @cloudflare/workers-types` this shows which models Cloudflare added
(in the types, not in the catalog) and which catalog ids the types no longer name.
`tests/unit/test_catalog_freshness.py` runs the same check in CI.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gateway import catalog  # noqa: E402

TYPES_DIR = ROOT / "node_modules" / "@cloudflare" / "workers-types"

# Current models the locked types do not name, each with the evidence that it is current.
# The freshness test fails when one of these appears in the types (drop it here then).
NOT_IN_TYPES: dict[str, str] = {
    "@cf/meta/llama-3.1-8b-instruct-fast": "model page llama-3.1-8b-instruct-fast.json; 'remain active' in the 2026-05-08 notice",
    "@cf/runwayml/stable-diffusion-v1-5-img2img": "model page stable-diffusion-v1-5-img2img.json; no retirement notice",
    "@cf/cloudflare/clef": "model page clef.json (0ae61c0b7257); 2026-10-01 changelog",
    "@cf/cloudflare/clef-flash": "model page clef-flash.json (0ae61c0b7257); 2026-10-01 changelog",
    "@cf/cloudflare/clef-omni": "model page clef-omni.json (db7f9affd470)",
    "@cf/baai/omni-bge-base-en-v1.5": "model page omni-bge-base-en-v1.5.json (bc81a021)",
    "@cf/utter-project/eurollm-9b-it": "model page eurollm-9b-it.json (e0daf8d94342)",
    "@cf/swiss-ai/apertus-v1.5-8b": "model page apertus-v1.5-8b.json (448f84563481)",
}


def types_version() -> str:
    return json.loads((TYPES_DIR / "package.json").read_text())["version"]


def types_model_ids() -> set[str]:
    """The keys of `interface AiModels { ... }` in the package's index.d.ts."""
    text = (TYPES_DIR / "index.d.ts").read_text()
    start = text.index("interface AiModels {")
    body = text[start : text.index("\n}", start)]
    return set(re.findall(r'^\s*"([^"]+)"\s*:', body, re.M))


def diff() -> dict[str, list[str]]:
    in_types = types_model_ids()
    ours = {m.id for m in catalog.MODELS}
    return {
        # Catalog ids the types do not name (and no evidence says they are current): stale entries.
        "catalog_not_in_types": sorted(ours - in_types - set(NOT_IN_TYPES)),
        # Listed as missing from the types, but the types name them now: drop from NOT_IN_TYPES.
        "no_longer_missing": sorted(set(NOT_IN_TYPES) & in_types),
        # Models the types name that the catalog neither serves nor redirects: candidates to add.
        "types_not_in_catalog": sorted(i for i in in_types - ours if catalog.retired_replacement(i) is None),
        # Retired ids the types still name (the types keep old models for a while; informational).
        "retired_still_in_types": sorted(i for i in in_types if catalog.retired_replacement(i) is not None),
    }


def main() -> int:
    result = diff()
    print(f"@cloudflare/workers-types {types_version()}: {len(types_model_ids())} models; catalog: {len(catalog.MODELS)} models")
    for key, ids in result.items():
        print(f"\n{key} ({len(ids)}):")
        for model_id in ids:
            print(f"  {model_id}")
    return 1 if result["catalog_not_in_types"] or result["no_longer_missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
