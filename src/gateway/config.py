"""Settings, read once per request from the worker's vars and secrets.

The runtime adapter supplies `lookup(name) -> str | None`; everything here is
plain parsing so it can be unit-tested without a runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from .catalog import DEFAULT_ALIASES


def _split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _seconds(value: str | None, default: float) -> float:
    try:
        seconds = float(value) if value and value.strip() else default
    except ValueError:
        return default
    return seconds if 0 < seconds <= 900 else default


def _count(value: str | None, default: int) -> int:
    try:
        count = int(value) if value and value.strip() else default
    except ValueError:
        return default
    return count if 1 <= count <= 100_000 else default


def parse_aliases(value: str | None) -> dict[str, str]:
    """MODEL_ALIASES: a JSON object or `name=model,name=model`, merged over the defaults.

    Mapping a name to an empty string removes a default alias.
    """
    aliases = dict(DEFAULT_ALIASES)
    if not value or not value.strip():
        return aliases
    text = value.strip()
    if text.startswith("{"):
        try:
            extra = json.loads(text)
        except ValueError:
            extra = {}
        pairs = [(k, v) for k, v in extra.items() if isinstance(k, str) and isinstance(v, str)] if isinstance(extra, dict) else []
    else:
        pairs = [tuple(part.split("=", 1)) for part in _split_list(text) if "=" in part]
    for name, target in pairs:
        name, target = name.strip(), target.strip()
        if target:
            aliases[name] = target
        else:
            aliases.pop(name, None)
    return aliases


@dataclass(frozen=True)
class Settings:
    api_keys: tuple[str, ...] = ()
    cors_allow_origins: tuple[str, ...] = ("*",)
    # Names of the bindings that are actually present, for /health.
    bindings: tuple[str, ...] = ()
    model_aliases: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES), hash=False)
    redirect_retired_models: bool = True
    # The secret for /translate and /v2/translate; when unset, any API key works there.
    translate_password: str | None = None
    # Image links are built from this (a custom domain) instead of the request's own origin.
    public_base_url: str | None = None
    # The guide's debug mode: GET /v1/images/generations?prompt=&model= answers with the image itself.
    image_debug: bool = False
    # How long a Workers AI call (and each pause inside a stream) may take before the client gets 504.
    ai_timeout_seconds: float = 120.0
    # Workers AI calls one request may make (a translated line is one call); see budget.py.
    max_ai_calls_per_request: int = 200
    # How long fetching a remote input image (img2img `image_url`) may take in all.
    fetch_timeout_seconds: float = 10.0

    @classmethod
    def from_lookup(cls, lookup: Callable[[str], str | None], bindings: tuple[str, ...] = ()) -> "Settings":
        return cls(
            api_keys=_split_list(lookup("API_KEYS")),
            cors_allow_origins=_split_list(lookup("CORS_ALLOW_ORIGINS")) or ("*",),
            bindings=bindings,
            model_aliases=parse_aliases(lookup("MODEL_ALIASES")),
            redirect_retired_models=_flag(lookup("REDIRECT_RETIRED_MODELS"), True),
            translate_password=(lookup("TRANSLATE_PASSWORD") or "").strip() or None,
            public_base_url=(lookup("PUBLIC_BASE_URL") or "").strip().rstrip("/") or None,
            image_debug=_flag(lookup("IMAGE_DEBUG"), False),
            ai_timeout_seconds=_seconds(lookup("AI_TIMEOUT_SECONDS"), 120.0),
            max_ai_calls_per_request=_count(lookup("MAX_AI_CALLS_PER_REQUEST"), 200),
            fetch_timeout_seconds=_seconds(lookup("FETCH_TIMEOUT_SECONDS"), 10.0),
        )
