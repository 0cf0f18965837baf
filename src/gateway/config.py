"""Settings, read once per request from the worker's vars and secrets.

The runtime adapter supplies `lookup(name) -> str | None`; everything here is
plain parsing so it can be unit-tested without a runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def _split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    api_keys: tuple[str, ...] = ()
    cors_allow_origins: tuple[str, ...] = ("*",)
    # Names of the bindings that are actually present, for /health.
    bindings: tuple[str, ...] = ()

    @classmethod
    def from_lookup(cls, lookup: Callable[[str], str | None], bindings: tuple[str, ...] = ()) -> "Settings":
        return cls(
            api_keys=_split_list(lookup("API_KEYS")),
            cors_allow_origins=_split_list(lookup("CORS_ALLOW_ORIGINS")) or ("*",),
            bindings=bindings,
        )
