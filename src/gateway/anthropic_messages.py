"""Anthropic's Messages API (`POST /v1/messages`) as a conversion of chat completions.

The request (`system`, `messages` of text / image / tool_use / tool_result blocks, `tools`,
`tool_choice`, `max_tokens`, `thinking`, ...) becomes a chat request; the chat pipeline runs it; its
`chat.completion` becomes a `message` (the stream: anthropic_stream.py). What the platform has no
counterpart for is handled here and said so:
- `stop_sequences` are applied to the answer here (the chat endpoint's own cut cannot say which
  sequence matched, and `stop_reason: stop_sequence` names it);
- `thinking` (enabled, adaptive) becomes the model's reasoning controls where its contract has them
  (`enable_thinking`, and `reasoning_effort` from `output_config.effort` or the budget); without it
  (Anthropic's default, thinking off) thinking is turned off where the contract allows. The model's
  reasoning comes back as `thinking` blocks with an empty `signature` (nothing signs it), empty with
  `display: omitted`; thinking blocks sent back are not model input and are left out;
- `system` turns among the messages (Claude Code sends them) join the system prompt;
- `cache_control` is accepted and ignored: the usage reports no cache writes, and as cache reads only
  what the model itself reported as cached;
- `metadata`, `context_management`, `service_tier`, `container` and other fields without a counterpart
  are accepted and unused; the answers carry the beta shape's extra fields (null), so one answer suits
  `/v1/messages` and Claude Code's `/v1/messages?beta=true`.
"""

from __future__ import annotations

import json
import re

from . import contracts, ids
from .chat_stops import cut_at_stop
from .errors import ApiError, bad_request
from .platform import is_blob

_ROLES = ("user", "assistant")
# Anthropic's pattern for tool_use ids; a model's call id outside it is rewritten the same way each
# time, so the tool_result that answers it names the same id.
_TOOL_ID_OUTSIDE = re.compile(r"[^a-zA-Z0-9_-]")
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
# Thinking budgets → reasoning_effort, for the models whose contract takes an effort instead of a budget.
_EFFORT_BY_BUDGET = ((4096, "low"), (16384, "medium"))


def message_id() -> str:
    return "msg_" + ids.hex_id(24)


def request_id() -> str:
    """The `request-id` header (and the error body's `request_id`) Anthropic's clients log."""
    return "req_" + ids.hex_id(24)


def tool_use_id(call_id) -> str:
    """Anthropic's form of a model's tool call id (`toolu_...`), the same each time for the same id."""
    if not isinstance(call_id, str) or not call_id:
        return "toolu_" + ids.hex_id(24)
    call_id = _TOOL_ID_OUTSIDE.sub("_", call_id)
    return call_id if call_id.startswith("toolu_") else "toolu_" + call_id


# --- request --------------------------------------------------------------------------------------

def _text(block: dict, where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise bad_request(f"`{where}.text` must be a string.", param=f"{where}.text")
    return text


def _image_part(block: dict, where: str) -> dict:
    """An image block as a chat image part: a base64 source as a data: URL, a url source as it is;
    the chat endpoint fetches, checks and sizes both as it does its own images."""
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not media_type.startswith("image/") or not (isinstance(data, str) or is_blob(data)):
            raise bad_request(f"`{where}.source` needs an image `media_type` and base64 `data`.", param=f"{where}.source")
        # A long payload the runtime kept out of the body arrives as its data: URL already (a Blob).
        url = data if is_blob(data) else f"data:{media_type};base64,{data}"
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "url" and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    raise bad_request(f"`{where}.source.type` must be base64 or url (files are not stored here).",
                      param=f"{where}.source")


def _joined(parts: list[dict]):
    """Chat content: one string when there are only texts (every model takes that), else the parts."""
    if all(part["type"] == "text" for part in parts):
        return "\n\n".join(part["text"] for part in parts)
    return parts


def _tool_result(block: dict, where: str) -> tuple[dict, list[dict]]:
    """A tool_result block as a chat `tool` message, and the images it held (a tool message takes
    text only: they follow in a user message)."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise bad_request(f"`{where}.tool_use_id` is required.", param=f"{where}.tool_use_id")
    content = block.get("content")
    texts, images = [], []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(_text(part, f"{where}.content[{j}]"))
            elif kind == "image":
                images.append(_image_part(part, f"{where}.content[{j}]"))
            else:
                raise bad_request(f"`{where}.content[{j}]` must be a text or image block.", param=f"{where}.content")
    elif content is not None:
        raise bad_request(f"`{where}.content` must be a string or an array of blocks.", param=f"{where}.content")
    text = "\n\n".join(texts)
    if block.get("is_error") is True:
        # The chat format has no error flag on a tool's answer: the model reads it in the text.
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _user_turn(content: list, where: str) -> list[dict]:
    """A user turn's blocks as chat messages: its tool results first (they answer the assistant turn
    just before), then its text and images."""
    results: list[dict] = []
    parts: list[dict] = []
    for i, block in enumerate(content):
        at = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": _text(block, at)})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_result":
            message, images = _tool_result(block, at)
            results.append(message)
            parts.extend(images)
        elif kind == "document" and isinstance(block.get("source"), dict) and block["source"].get("type") == "text":
            parts.append({"type": "text", "text": str(block["source"].get("data") or "")})
        else:
            raise bad_request(f"`{at}`: {kind!r} blocks are not supported here in a user turn (text, image, "
                              "tool_result, text documents).", param=f"{at}.type")
    return results + ([{"role": "user", "content": _joined(parts)}] if parts else [])


def _assistant_turn(content: list, where: str) -> list[dict]:
    texts, calls = [], []
    for i, block in enumerate(content):
        at = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(_text(block, at))
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise bad_request(f"`{at}` needs `id` and `name`.", param=at)
            arguments = block.get("input", {})
            calls.append({"id": block["id"], "type": "function", "function": {
                "name": block["name"], "arguments": json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)}})
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the model's earlier reasoning: not an input Workers AI models take
        else:
            raise bad_request(f"`{at}`: {kind!r} blocks are not supported here in an assistant turn (text, "
                              "tool_use, thinking).", param=f"{at}.type")
    message: dict = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _system_text(system, where: str) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n\n".join(_text(block if isinstance(block, dict) else {}, f"{where}[{i}]") for i, block in enumerate(system))
    raise bad_request(f"`{where}` must be a string or an array of text blocks.", param=where)


def _messages(raw, system) -> list[dict]:
    """Chat messages; the system prompt, and the `system` turns Claude Code puts among the messages,
    as one leading system message (chat templates such as Qwen's refuse a system message after the
    first)."""
    systems = [_system_text(system, "system")] if system is not None else []
    out: list[dict] = []
    if not isinstance(raw, list) or not raw:
        raise bad_request("`messages` must be a non-empty array.", param="messages")
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            systems.append(_system_text(message.get("content"), f"{where}.content"))
            continue
        if role not in _ROLES:
            raise bad_request(f"`{where}.role` must be user or assistant.", param=f"{where}.role")
        content = message.get("content")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
        elif isinstance(content, list):
            turn = _user_turn if role == "user" else _assistant_turn
            out.extend(turn(content, where))
        else:
            raise bad_request(f"`{where}.content` must be a string or an array of content blocks.",
                              param=f"{where}.content")
    text = "\n\n".join(part for part in systems if part)
    return ([{"role": "system", "content": text}] if text else []) + out


def _tools(tools) -> list[dict]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad_request("`tools` must be an array.", param="tools")
    out = []
    for i, tool in enumerate(tools):
        kind = tool.get("type", "custom") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or kind not in ("custom", None) or not isinstance(tool.get("name"), str):
            raise bad_request(f"`tools[{i}]`: only custom tools (name, description, input_schema) are supported on "
                              f"Workers AI, not {kind!r} (Anthropic's server and computer-use tools run at Anthropic).",
                              param=f"tools[{i}]")
        schema = tool.get("input_schema")
        function = {"name": tool["name"], "parameters": schema if isinstance(schema, dict) else {"type": "object", "properties": {}}}
        if isinstance(tool.get("description"), str) and tool["description"]:
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice):
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise bad_request("`tool_choice.type` must be auto, any, tool (with `name`) or none.", param="tool_choice")


def stop_sequences(body: dict) -> list[str]:
    stops = body.get("stop_sequences")
    if stops is None:
        return []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise bad_request("`stop_sequences` must be an array of strings.", param="stop_sequences")
    return [s for s in stops if s]


def _max_tokens(body: dict) -> int:
    value = body.get("max_tokens")
    if value is None:
        raise bad_request("max_tokens: Field required", param="max_tokens")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request("`max_tokens` must be an integer of at least 1.", param="max_tokens")
    return value


_EFFORTS = ("low", "medium", "high")


def thinking(body: dict, max_tokens: int | None) -> tuple[bool, str | None]:
    """Whether thinking is on (off by default, as at Anthropic) and the effort asked for: from
    `output_config.effort`, else from `budget_tokens` (None: the model decides, as with `adaptive`);
    400 for a malformed `thinking`, as Anthropic refuses it."""
    value = body.get("thinking")
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    effort = effort if effort in _EFFORTS else None
    if value is None:
        return False, None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "disabled":
        return False, None
    if kind == "adaptive":
        return True, effort
    if kind != "enabled":
        raise bad_request("`thinking.type` must be enabled, disabled or adaptive.", param="thinking.type")
    budget = value.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024:
        raise bad_request("`thinking.budget_tokens` must be an integer of at least 1024.", param="thinking.budget_tokens")
    if max_tokens is not None and budget >= max_tokens:
        raise bad_request("`max_tokens` must be greater than `thinking.budget_tokens`.", param="max_tokens")
    return True, effort or next((name for limit, name in _EFFORT_BY_BUDGET if budget <= limit), "high")


def thinking_shown(body: dict) -> bool:
    """Whether the model's reasoning is returned as text (`thinking.display: omitted` asks for empty
    thinking blocks)."""
    value = body.get("thinking")
    return not (isinstance(value, dict) and value.get("display") == "omitted")


def _allowed(schema: dict | None, value) -> bool:
    if not isinstance(schema, dict):
        return False
    options = [v.get("enum") for v in contracts.variants(schema) if isinstance(v, dict)] or [schema.get("enum")]
    return any(enum is None or value in enum for enum in options)


def reasoning_controls(model_id: str, on: bool, effort: str | None) -> dict:
    """The chat parameters that turn the model's reasoning on (with an effort for the budget) or off,
    as far as its contract has them: `chat_template_kwargs.enable_thinking`, `reasoning_effort`."""
    contract = contracts.contract_for(model_id)
    if contract is None:
        return {}
    out: dict = {}
    kwargs = contract.prop("chat_template_kwargs", "messages")
    enable = contracts.resolve((kwargs or {}).get("properties", {}).get("enable_thinking") or {}) if kwargs else None
    if enable is not None and _allowed(enable, on):
        out["chat_template_kwargs"] = {"enable_thinking": on}
    effort_schema = contract.prop("reasoning_effort", "messages")
    if on and effort is not None and effort_schema is not None and _allowed(effort_schema, effort):
        out["reasoning_effort"] = effort
    return out


def chat_body(body: dict, model: str | None, model_id: str | None = None, *, for_counting: bool = False,
              max_tokens_cap: int | None = None) -> dict:
    """The chat request that answers this Messages request. `model`: the name the chat endpoint
    resolves; `model_id`: the Workers AI model it resolves to, whose contract says how thinking is
    turned on or off; `for_counting`: count_tokens, where `max_tokens` is not required;
    `max_tokens_cap`: the most the model is asked to write (ANTHROPIC_MAX_TOKENS), whatever the client asks."""
    chat: dict = {"messages": _messages(body.get("messages"), body.get("system"))}
    if model is not None:
        chat["model"] = model
    max_tokens = None if for_counting else _max_tokens(body)
    if max_tokens is not None:
        chat["max_tokens"] = max_tokens if max_tokens_cap is None else min(max_tokens, max_tokens_cap)
    on, effort = thinking(body, max_tokens)
    if model_id is not None:
        chat.update(reasoning_controls(model_id, on, effort))
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            chat[name] = body[name]
    tools = _tools(body.get("tools"))
    if tools:
        chat["tools"] = tools
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = _tool_choice(body["tool_choice"])
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("`stream` must be true or false.", param="stream")
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


# --- response -------------------------------------------------------------------------------------

def usage(chat_usage) -> dict:
    """Anthropic's usage from the chat usage: input tokens without the cached ones the model reported
    (Anthropic counts cache reads apart), no cache writes (nothing is cached on request)."""
    chat_usage = chat_usage if isinstance(chat_usage, dict) else {}
    prompt = chat_usage.get("prompt_tokens") or 0
    details = chat_usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) and not isinstance(cached, bool) and 0 <= cached <= prompt else 0
    return {"input_tokens": prompt - cached, "output_tokens": chat_usage.get("completion_tokens") or 0,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached,
            "cache_creation": None, "inference_geo": None, "output_tokens_details": None,
            "server_tool_use": None, "service_tier": "standard", "iterations": None, "speed": None}


def tool_input(arguments) -> dict:
    """A tool call's arguments (JSON text) as the object Anthropic's `input` is."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
    except ValueError:
        print("a model's tool call arguments are not JSON; sent as {}")
        return {}
    return value if isinstance(value, dict) else {}


def thinking_block(text: str) -> dict:
    return {"type": "thinking", "thinking": text, "signature": ""}


def text_block(text: str) -> dict:
    return {"type": "text", "text": text, "citations": None}


def tool_use_block(call_id, name: str, arguments) -> dict:
    return {"type": "tool_use", "id": tool_use_id(call_id), "name": name, "input": tool_input(arguments),
            "caller": {"type": "direct"}}


def shell(model: str, content: list, stop_reason, stop_sequence, usage_out: dict, message: str | None = None) -> dict:
    return {"id": message or message_id(), "type": "message", "role": "assistant", "content": content, "model": model,
            "stop_reason": stop_reason, "stop_sequence": stop_sequence, "stop_details": None, "container": None,
            "usage": usage_out, "context_management": None, "diagnostics": None}


def message_object(chat: dict, stops: list[str], show_thinking: bool = True) -> dict:
    """A `message` from a `chat.completion` object."""
    choice = chat["choices"][0]
    message = choice.get("message") or {}
    content: list[dict] = []
    if message.get("reasoning_content"):
        content.append(thinking_block(message["reasoning_content"] if show_thinking else ""))
    text, matched = cut_at_stop(message.get("content") or "", stops)
    if text:
        content.append(text_block(text))
    # A stop sequence ends the answer where it stands: nothing the model wrote after it is kept.
    calls = (message.get("tool_calls") or []) if matched is None else []
    for call in calls:
        function = call.get("function") or {}
        content.append(tool_use_block(call.get("id"), function.get("name") or "", function.get("arguments")))
    if matched is not None:
        stop_reason = "stop_sequence"
    elif calls:
        stop_reason = "tool_use"
    else:
        stop_reason = STOP_REASONS.get(choice.get("finish_reason"), "end_turn")
    return shell(chat.get("model") or "", content, stop_reason, matched, usage(chat.get("usage")))


def error_from_openai(status: int, body) -> ApiError:
    """An error answer of the chat endpoint (OpenAI's envelope) as the ApiError it was made from."""
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    return ApiError(status, str(error.get("message") or "The request failed."), type=error.get("type") or "api_error",
                    code=error.get("code"), param=error.get("param"))
