"""Settings, read once per request from the worker's vars and secrets.

The runtime adapter supplies `lookup(name) -> str | None`; everything here is
plain parsing so it can be unit-tested without a runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from .anthropic_models import DEFAULT_ANTHROPIC_MODEL_MAP
from .catalog import DEFAULT_ALIASES
from .errors import ApiError
from .languages import to_m2m100


def _split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _parsed(value: str | None, default, convert, accept):
    """`value` converted, or `default` when it is unset, malformed or outside what `accept` allows."""
    try:
        number = convert(value) if value and value.strip() else default
    except ValueError:
        return default
    return number if accept(number) else default


def _seconds(value: str | None, default: float) -> float:
    return _parsed(value, default, float, lambda seconds: 0 < seconds <= 900)


def _count(value: str | None, default: int | None) -> int | None:
    text = (value or "").strip().replace("_", "")
    return int(text) if text.isascii() and text.isdigit() else default


def _cache_seconds(value: str | None, default: float) -> float:
    return _parsed(value, default, float, lambda seconds: 0 <= seconds <= 86400)


def _bounded_count(value: str | None, default: int) -> int:
    return _parsed(value, default, int, lambda count: 1 <= count <= 100_000)


def _private_fetch_allowance(value: str | None) -> tuple[str, ...]:
    """IMAGE_FETCH_ALLOW_PRIVATE (tests only): `true` (or `*`) for every address, else `host:port` pairs."""
    if (value or "").strip().lower() in {"*", "1", "true", "yes", "on"}:
        return ("*",)
    return _split_list(value)


def parse_aliases(value: str | None, defaults: dict[str, str] = DEFAULT_ALIASES) -> dict[str, str]:
    """MODEL_ALIASES (and ANTHROPIC_MODEL_MAP): a JSON object or `name=model,name=model`, merged over
    the defaults.

    Mapping a name to an empty string removes a default alias.
    """
    aliases = dict(defaults)
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


def parse_translate_engines(model: str | None, pairs: str | None) -> tuple[tuple[str, str, str], ...]:
    """TRANSLATE_MODEL (every pair) and TRANSLATE_MODELS (`src-tgt=model` pairs, `*` for any
    language, DeepL or ISO codes: `en-ja=@cf/qwen/qwen3.8-27b,*-ko=gpt-4o-mini`) as (source,
    target, model) rules, the most specific first. A rule naming an unknown language is skipped."""
    rules = []
    for part in _split_list(pairs):
        pair, _, name = part.partition("=")
        source, _, target = pair.strip().partition("-")
        try:
            codes = [c if c == "*" else to_m2m100(c, "TRANSLATE_MODELS") for c in (source.strip(), target.strip())]
        except ApiError:
            print(f"TRANSLATE_MODELS: skipped {part!r} (unknown language)")
            continue
        if name.strip():
            rules.append((codes[0], codes[1], name.strip()))
    if model and model.strip():
        rules.append(("*", "*", model.strip()))
    # Exact pairs, then a source for any target, then any source into a target, then the default.
    return tuple(sorted(rules, key=lambda r: (r[0] == "*") * 2 + (r[1] == "*")))


def _ttl(value: str | None, default: int) -> int:
    """TRANSLATE_CACHE_TTL in seconds; 0 turns the cache off."""
    try:
        seconds = int(float(value)) if value and value.strip() else default
    except ValueError:
        return default
    return max(0, seconds)


def parse_budgets(value: str | None) -> dict[str, float]:
    """KEY_BUDGETS: daily neuron caps, `who=neurons` pairs or a JSON object. `who` is a key's id
    (the hash prefix /v1/usage shows, so the var holds no secret), the key itself, or `*` (every key)."""
    if not value or not value.strip():
        return {}
    text = value.strip()
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except ValueError:
            raw = {}
        pairs = list(raw.items()) if isinstance(raw, dict) else []
    else:
        pairs = [tuple(part.rsplit("=", 1)) for part in _split_list(text) if "=" in part]
    budgets = {}
    for who, cap in pairs:
        try:
            number = float(cap)
        except (TypeError, ValueError):
            continue
        if isinstance(who, str) and who.strip() and number >= 0:
            budgets[who.strip()] = number
    return budgets


def ai_gateway_options(gateway_id: str | None, cache_ttl: str | None, skip_cache: str | None) -> dict | None:
    """The binding's `options.gateway` settings (`id`, `cacheTtl` in seconds, `skipCache`), or None
    when no gateway is named. The per-call `metadata` is added where the credential is known
    (metering.MeteredAi). A malformed TTL is left out: the gateway's own default applies."""
    gateway_id = (gateway_id or "").strip()
    if not gateway_id:
        return None
    options: dict = {"id": gateway_id}
    ttl = _count(cache_ttl, None)
    if ttl is not None:
        options["cacheTtl"] = ttl
    if skip_cache is not None and skip_cache.strip():
        options["skipCache"] = _flag(skip_cache, False)
    return options


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
    # Seconds a translated line stays in the Cache API; 0 turns the translation cache off.
    translate_cache_ttl: int = 30 * 86400
    # Which model translates a language pair (parse_translate_engines); empty: m2m100 (and
    # indictrans2 for English into Indic languages). A chat model there is the LLM engine.
    translate_engines: tuple[tuple[str, str, str], ...] = ()
    # Daily neuron caps per key (see parse_budgets); empty: no caps.
    key_budgets: dict[str, float] = field(default_factory=dict, hash=False)
    # Keys that see every key's usage at /v1/usage.
    admin_keys: tuple[str, ...] = ()
    # Tests only: honour an `X-Test-Now` header (epoch seconds) as the clock. Never set in production.
    test_clock: bool = False
    # Characters a key may translate per UTC month on /translate and /v2/translate (DeepL's
    # `character_limit`, enforced with 456); None: no limit (reported as DeepL reports no limit).
    deepl_character_limit: int | None = None
    # Hand a model's stream to the client untouched when it already is what the gateway would
    # send (chat_stream.passthrough_safe); "false" re-frames every stream in Python.
    stream_passthrough: bool = True
    # How long the binding's live model list is kept per isolate (0: read it for every request that needs it).
    models_cache_seconds: float = 600.0
    # Workers AI calls one request may make (a translated line is one call); see request_caps.py.
    max_ai_calls_per_request: int = 200
    # How long fetching a remote input image (img2img `image_url`) may take in all.
    fetch_timeout_seconds: float = 10.0
    # Tests only: private addresses a remote image fetch may reach anyway (fetch_policy.refusal).
    image_fetch_allow_private: tuple[str, ...] = ()
    # AI_GATEWAY_ID (+ AI_GATEWAY_CACHE_TTL, AI_GATEWAY_SKIP_CACHE): every Workers AI call goes
    # through that AI Gateway, as the binding's `options.gateway` (see ai_gateway_options).
    ai_gateway: dict | None = field(default=None, hash=False)
    # Claude model names → Workers AI models for /v1/messages (anthropic_models.mapped_model).
    anthropic_model_map: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ANTHROPIC_MODEL_MAP), hash=False)
    # The most output tokens a /v1/messages call asks of a model: Claude Code asks 128 000 on every
    # turn, and a capped key reserves what that could cost (~27 500 neurons, past a Free-plan day).
    anthropic_max_tokens: int = 8192

    def translate_model_for(self, source: str, target: str) -> str | None:
        """The model TRANSLATE_MODEL(S) names for a language pair (m2m100 codes), or None."""
        for src, tgt, model in self.translate_engines:
            if src in ("*", source) and tgt in ("*", target):
                return model
        return None

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
            translate_cache_ttl=_ttl(lookup("TRANSLATE_CACHE_TTL"), 30 * 86400),
            translate_engines=parse_translate_engines(lookup("TRANSLATE_MODEL"), lookup("TRANSLATE_MODELS")),
            key_budgets=parse_budgets(lookup("KEY_BUDGETS")),
            admin_keys=_split_list(lookup("ADMIN_KEYS")),
            test_clock=_flag(lookup("TEST_CLOCK"), False),
            deepl_character_limit=_count(lookup("DEEPL_CHARACTER_LIMIT"), None),
            stream_passthrough=_flag(lookup("STREAM_PASSTHROUGH"), True),
            models_cache_seconds=_cache_seconds(lookup("MODELS_CACHE_SECONDS"), 600.0),
            max_ai_calls_per_request=_bounded_count(lookup("MAX_AI_CALLS_PER_REQUEST"), 200),
            fetch_timeout_seconds=_seconds(lookup("FETCH_TIMEOUT_SECONDS"), 10.0),
            image_fetch_allow_private=_private_fetch_allowance(lookup("IMAGE_FETCH_ALLOW_PRIVATE")),
            ai_gateway=ai_gateway_options(lookup("AI_GATEWAY_ID"), lookup("AI_GATEWAY_CACHE_TTL"),
                                          lookup("AI_GATEWAY_SKIP_CACHE")),
            anthropic_model_map=parse_aliases(lookup("ANTHROPIC_MODEL_MAP"), DEFAULT_ANTHROPIC_MODEL_MAP),
            anthropic_max_tokens=_parsed(lookup("ANTHROPIC_MAX_TOKENS"), 8192, int, lambda count: 1 <= count <= 1_000_000),
        )
