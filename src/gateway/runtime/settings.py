"""The worker's settings (vars, secrets, which bindings exist), read from `env` once per isolate."""

from __future__ import annotations

from ..config import Settings

_BINDING_NAMES = ("AI", "IMAGES")

_settings_cache: list[Settings] = []


def settings(env) -> Settings:
    """Read once per isolate: vars and secrets cannot change without a new isolate, and
    reading them crossed into JS for every name on every request (~27 µs)."""
    if not _settings_cache:
        _settings_cache.append(_read_settings(env))
    return _settings_cache[0]


def read_already() -> Settings | None:
    """The settings a request of this isolate has read, or None before the first."""
    return _settings_cache[0] if _settings_cache else None


def _read_settings(env) -> Settings:
    def lookup(name: str) -> str | None:
        value = getattr(env, name, None)
        return value if isinstance(value, str) else None

    present = tuple(name for name in _BINDING_NAMES if getattr(env, name, None) is not None)
    return Settings.from_lookup(lookup, bindings=present)
