"""Claude model names → Workers AI models (ANTHROPIC_MODEL_MAP), and models in Anthropic's list shape.

Claude Code and the Anthropic SDKs name Claude models: a main model (`claude-sonnet-4-5-20250929`,
`claude-opus-4-1-20250805`, ...) and a small fast one (`claude-haiku-4-5-20251001`,
`claude-3-5-haiku-20241022`). Each name is looked up in the map: the name itself, then the longest
key it extends at a `-` or `.` (`claude-sonnet-4-5` for its dated names), then its family word
(`opus`, `sonnet`, `haiku`), then `claude` for any other Claude name. Names that are not Claude's
(Workers AI ids, the gateway's aliases) are left to the chat endpoint's own resolution.

The defaults are chat models with tool calling (Claude Code is driven by tools), chosen from the
catalog so that Claude Code works on the Free plan as it comes: the Free plan's agentic model with
vision and reasoning for opus and sonnet (Claude Code 2.1's default main model is opus), a fast one
for haiku (titles, summaries, command checks). On Workers Paid, `opus=@cf/moonshotai/kimi-k2.7-code`
names the platform's coding model.
"""

from __future__ import annotations

from .catalog import family_alias
from .limits import is_header_safe

DEFAULT_ANTHROPIC_MODEL_MAP: dict[str, str] = {
    "opus": "@cf/qwen/qwen3.8-27b",
    "sonnet": "@cf/qwen/qwen3.8-27b",
    "haiku": "@cf/zai-org/glm-4.7-flash",
    "claude": "@cf/qwen/qwen3.8-27b",
}

FAMILIES = ("opus", "sonnet", "haiku")
# The Claude names listed by GET /v1/models (with `anthropic-version`), besides the map's own full
# names: what Claude Code offers in its model picker and sends by default.
LISTED_CLAUDE_NAMES = (
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-opus-4-1-20250805",
    "claude-opus-4-20250514",
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-20250514",
    "claude-haiku-4-5-20251001",
    "claude-3-5-haiku-20241022",
)


def is_claude_name(name) -> bool:
    return isinstance(name, str) and name.lower().startswith("claude")


def mapped_model(name, model_map: dict[str, str]) -> str | None:
    """The Workers AI model `model_map` names for a Claude model name; None for any other name (and
    for a name unfit to echo in X-Requested-Model, which the chat endpoint then refuses)."""
    if not isinstance(name, str) or not name or not is_header_safe(name):
        return None
    if name in model_map:
        return model_map[name]
    if not is_claude_name(name):
        return None
    # `claude` is the last resort, not a family every Claude name extends.
    family = family_alias(name, {key: value for key, value in model_map.items() if key != "claude"})
    if family is not None:
        return model_map[family]
    words = name.lower().replace(".", "-").split("-")
    for word in FAMILIES:
        if word in words and word in model_map:
            return model_map[word]
    return model_map.get("claude")


# Anthropic's model objects carry a release time; these are the gateway's own entries, dated the
# day the catalog was written (as GET /v1/models does for OpenAI's shape).
CREATED_AT = "2025-11-25T00:00:00Z"


def model_info(model_id: str, display_name: str) -> dict:
    """A ModelInfo object. The capability table and token limits are Anthropic's per-model facts the
    gateway does not know for Workers AI models, so they are null (the schema allows it)."""
    return {"type": "model", "id": model_id, "display_name": display_name, "created_at": CREATED_AT,
            "capabilities": None, "max_input_tokens": None, "max_tokens": None}


def claude_entries(model_map: dict[str, str]) -> list[dict]:
    """ModelInfo for each Claude name a client may send, naming the Workers AI model that answers it."""
    names = [key for key in model_map if is_claude_name(key) and key != "claude"] + list(LISTED_CLAUDE_NAMES)
    entries = []
    for name in dict.fromkeys(names):
        target = mapped_model(name, model_map)
        if target:
            entries.append(model_info(name, f"{name} (answered by {target})"))
    return entries


def page(entries: list[dict], *, limit=None, after_id=None, before_id=None) -> dict:
    """One page of Anthropic's list shape (`data`, `first_id`, `last_id`, `has_more`): `limit` 1-1000
    (default 20) entries after `after_id` or before `before_id`."""
    from .errors import bad_request

    try:
        size = 20 if limit in (None, "") else int(limit)
    except ValueError:
        size = 0
    if not 1 <= size <= 1000:
        raise bad_request("`limit` must be an integer from 1 to 1000.", param="limit")
    ids = [entry["id"] for entry in entries]
    if after_id:
        start = ids.index(after_id) + 1 if after_id in ids else len(ids)
        chosen = entries[start:start + size]
        more = start + size < len(entries)
    elif before_id:
        end = ids.index(before_id) if before_id in ids else 0
        chosen = entries[max(0, end - size):end]
        more = end - size > 0
    else:
        chosen = entries[:size]
        more = size < len(entries)
    return {"data": chosen, "first_id": chosen[0]["id"] if chosen else None,
            "last_id": chosen[-1]["id"] if chosen else None, "has_more": more}
