"""OpenAI's Responses API (`POST /v1/responses`) as a conversion of chat completions.

The request (`input` text or items, `instructions`, function `tools`, `text.format`,
`max_output_tokens`) becomes a chat request; the chat pipeline runs it; its
`chat.completion` (or its chunk stream) becomes a `response` object (or the
Responses stream: `response.created` ... `response.completed`). The gateway stores
nothing, so `previous_response_id` is refused and every response says `store: false`.
"""

from __future__ import annotations

import json
import time
from typing import Any, AsyncIterable, AsyncIterator

from . import ids, openai_params
from .errors import ApiError, bad_request
from .platform import is_blob

_ROLES = ("user", "assistant", "system", "developer")


def _id(prefix: str) -> str:
    return f"{prefix}_{ids.hex_id(32)}"


# --- request --------------------------------------------------------------------------------------

# The string field that holds each kind of text part's text.
_TEXT_FIELDS = {"input_text": "text", "output_text": "text", "text": "text", "refusal": "refusal"}


def _content(content, where: str) -> Any:
    """Responses content at `where` (a string or input_text/output_text/refusal/input_image parts)
    → chat content."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"`{where}` must be a string or an array of content parts.", param=where)
    parts = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(kind, str):
            kind = None  # an object or array as `type` (found by the generated requests) names no part
        text_field = _TEXT_FIELDS.get(kind)
        if text_field is not None:
            text = part.get(text_field)
            if not isinstance(text, str):
                raise bad_request(f"`{where}[{i}].{text_field}` must be a string.", param=f"{where}[{i}].{text_field}")
            parts.append({"type": "text", "text": text})
        elif kind == "input_image":
            url = part.get("image_url")
            if not (isinstance(url, str) or is_blob(url)):
                raise bad_request(f"`{where}[{i}].image_url` must be the image's URL (a `file_id` is not supported here).",
                                  param=f"{where}[{i}].image_url")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise bad_request(
                f"`{where}[{i}]`: only input_text, output_text, refusal and input_image (by URL) parts are supported"
                f"{'' if kind is None else f', not {kind}'}.", param=f"{where}[{i}].type",
            )
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _messages(items, instructions) -> list[dict]:
    messages: list[dict] = []
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad_request("`instructions` must be a string.", param="instructions")
        messages.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    if not isinstance(items, list) or not items:
        raise bad_request("`input` is required: a string, or an array of input items.", param="input")
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"`{where}` must be an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise bad_request(f"`{where}.role` must be one of {', '.join(_ROLES)}.", param=f"{where}.role")
            messages.append({"role": role, "content": _content(item.get("content"), f"{where}.content")})
        elif kind == "function_call":
            arguments = item.get("arguments")
            if arguments is not None and not isinstance(arguments, str):
                raise bad_request(f"`{where}.arguments` must be a string (the arguments as JSON text).",
                                  param=f"{where}.arguments")
            call = {"id": item.get("call_id") or item.get("id"), "type": "function",
                    "function": {"name": item.get("name"), "arguments": arguments or "{}"}}
            if not isinstance(call["id"], str) or not isinstance(call["function"]["name"], str):
                raise bad_request(f"`{where}` needs `call_id` and `name`.", param=where)
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and last.get("tool_calls") and not last.get("content"):
                last["tool_calls"].append(call)  # parallel calls of one turn
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            if not isinstance(item.get("call_id"), str):
                raise bad_request(f"`{where}.call_id` is required.", param=f"{where}.call_id")
            text = output if isinstance(output, str) else _content(output, f"{where}.output") if isinstance(output, list) else json.dumps(output)
            messages.append({"role": "tool", "tool_call_id": item["call_id"],
                             "content": text if isinstance(text, str) else json.dumps(text)})
        elif kind == "reasoning":
            continue  # the model's own earlier reasoning: not an input Workers AI models take
        else:
            raise bad_request(f"`{where}.type` {kind!r} is not supported here (message, function_call, "
                              f"function_call_output).", param=f"{where}.type")
    return messages


def _tools(tools) -> list[dict]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad_request("`tools` must be an array.", param="tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("name"), str):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise bad_request(f"`tools[{i}]`: only function tools are supported on Workers AI, not {kind!r}.",
                              param=f"tools[{i}]")
        function = {"name": tool["name"], "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice):
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise bad_request("`tool_choice` must be none, auto, required or {type: function, name}.", param="tool_choice")


def _response_format(text):
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        schema = {"name": fmt.get("name") or "response", "schema": fmt["schema"]}
        if "strict" in fmt:
            schema["strict"] = fmt["strict"]
        return {"type": "json_schema", "json_schema": schema}
    raise bad_request("`text.format.type` must be text, json_object or json_schema (with `schema`).", param="text.format")


def chat_body(body: dict) -> dict:
    """The chat request that answers this Responses request."""
    previous = body.get("previous_response_id")
    if previous is not None:
        raise ApiError(
            400,
            f"Previous response with id '{previous}' not found: this gateway stores no responses. "
            "Send the earlier turns in `input` instead (the output items of a response can be passed back as input items).",
            param="previous_response_id", code="previous_response_not_found",
        )
    if body.get("conversation") is not None:
        raise bad_request("`conversation` is not supported: this gateway stores no conversations.", param="conversation")
    if body.get("background"):
        raise bad_request("`background` is not supported: responses are answered while you wait.", param="background")
    # Here, so a refusal names the Responses API's parameter and bound (max_output_tokens from 16).
    openai_params.checked(body, openai_params.RESPONSES)
    chat: dict = {"messages": _messages(body.get("input"), body.get("instructions"))}
    for name in ("model", "temperature", "top_p", "stream", "user"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    tools = _tools(body.get("tools"))
    if tools:
        chat["tools"] = tools
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = _tool_choice(body["tool_choice"])
    response_format = _response_format(body.get("text"))
    if response_format:
        chat["response_format"] = response_format
    if chat.get("stream") is True:
        chat["stream_options"] = {"include_usage": True}
    return chat


# --- response -------------------------------------------------------------------------------------

def _usage(usage: dict | None) -> dict | None:
    if not isinstance(usage, dict):
        return None
    out = {
        "input_tokens": usage.get("prompt_tokens", 0),
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.get("completion_tokens", 0),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.get("total_tokens", 0),
    }
    if usage.get("estimated"):
        out["estimated"] = True
    return out


def _echoed_tools(tools) -> list:
    """The request's tools as a response names them: a function tool always carries `parameters`
    and `strict` (both required there, null allowed); `strict` is what the client sent, else the
    Responses API's default, true."""
    echoed = []
    for tool in tools or []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            tool = {**tool, "parameters": tool.get("parameters"), "strict": tool.get("strict", True)}
        echoed.append(tool)
    return echoed


class Shell:
    """The fields every response object of one request shares, echoed from the request."""

    def __init__(self, body: dict, model: str):
        self.id = _id("resp")
        self.created_at = int(time.time())
        self.body = body
        self.model = model

    def response(self, status: str, output: list, usage=None, *, incomplete: str | None = None, error=None) -> dict:
        body = self.body
        fmt = body.get("text", {}).get("format") if isinstance(body.get("text"), dict) else None
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": False,
            "temperature": body.get("temperature"),
            "text": {"format": fmt or {"type": "text"}},
            "tool_choice": body.get("tool_choice") or "auto",
            "tools": _echoed_tools(body.get("tools")),
            "top_p": body.get("top_p"),
            "truncation": "disabled",
            "usage": _usage(usage),
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }


def _message_item(item_id: str, text: str, status: str = "completed") -> dict:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if text or status == "completed" else []}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments, "status": status}


def _reasoning_item(item_id: str, text: str) -> dict:
    return {"type": "reasoning", "id": item_id, "summary": [], "content": [{"type": "reasoning_text", "text": text}]}


def response_object(chat: dict, body: dict) -> dict:
    """A `response` object from a `chat.completion` object."""
    shell = Shell(body, chat["model"])
    choice = chat["choices"][0]
    message = choice["message"]
    output = []
    if message.get("reasoning_content"):
        output.append(_reasoning_item(_id("rs"), message["reasoning_content"]))
    if message.get("content"):
        output.append(_message_item(_id("msg"), message["content"]))
    for call in message.get("tool_calls") or []:
        output.append(_call_item(_id("fc"), call["id"], call["function"]["name"], call["function"]["arguments"]))
    if not output:
        output.append(_message_item(_id("msg"), ""))
    incomplete = "max_output_tokens" if choice.get("finish_reason") == "length" else None
    return shell.response("incomplete" if incomplete else "completed", output, chat.get("usage"), incomplete=incomplete)


# --- stream ---------------------------------------------------------------------------------------

class _Events:
    def __init__(self):
        self.sequence = 0

    def __call__(self, kind: str, **fields) -> str:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def response_events(chat_events: AsyncIterable[str], body: dict, model: str) -> AsyncIterator[str]:
    """The chat pipeline's SSE events re-shaped as the Responses API's stream.

    Text, reasoning and each tool call become output items with their `added`/`delta`/`done`
    events; the stream ends with `response.completed` (or `response.incomplete` when the token
    limit cut it), or `response.failed` when the model's stream broke off.
    """
    shell = Shell(body, model)
    event = _Events()
    yield event("response.created", response=shell.response("in_progress", []))
    yield event("response.in_progress", response=shell.response("in_progress", []))

    finished: dict[int, dict] = {}  # output index → finished item
    open_item: dict | None = None  # {"kind", "index", "id", "text"/"args", ...}
    calls: dict[int, dict] = {}  # chat tool-call index → open function_call state
    usage = None
    finish = None

    def close_open() -> list[str]:
        nonlocal open_item
        if open_item is None:
            return []
        item, open_item = open_item, None
        index, item_id, text = item["index"], item["id"], item["text"]
        if item["kind"] == "message":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            done = _message_item(item_id, text)
            finished[index] = done
            return [
                event("response.output_text.done", item_id=item_id, output_index=index, content_index=0, text=text, logprobs=[]),
                event("response.content_part.done", item_id=item_id, output_index=index, content_index=0, part=part),
                event("response.output_item.done", output_index=index, item=done),
            ]
        done = _reasoning_item(item_id, text)
        finished[index] = done
        return [
            event("response.reasoning_text.done", item_id=item_id, output_index=index, content_index=0, text=text),
            event("response.output_item.done", output_index=index, item=done),
        ]

    def next_index() -> int:
        return len(finished) + (1 if open_item else 0) + len(calls)

    async for raw in chat_events:
        payload = raw[6:].rstrip("\n") if raw.startswith("data: ") else raw
        if payload == "[DONE]":
            break
        chunk = json.loads(payload)
        if "error" in chunk:
            for text in close_open():
                yield text
            error = {"code": "server_error", "message": chunk["error"].get("message", "The model's stream broke off.")}
            output = [finished[i] for i in sorted(finished)]
            yield event("response.failed", response=shell.response("failed", output, usage, error=error))
            return
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            finish = choice.get("finish_reason") or finish
            reasoning, text = delta.get("reasoning_content"), delta.get("content")
            for kind, piece in (("reasoning", reasoning), ("message", text)):
                if not piece:
                    continue
                if open_item is None or open_item["kind"] != kind:
                    for closing in close_open():
                        yield closing
                    index = next_index()
                    open_item = {"kind": kind, "index": index, "id": _id("msg" if kind == "message" else "rs"), "text": ""}
                    if kind == "message":
                        yield event("response.output_item.added", output_index=index, item=_message_item(open_item["id"], "", "in_progress"))
                        yield event("response.content_part.added", item_id=open_item["id"], output_index=index, content_index=0,
                                    part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
                    else:
                        yield event("response.output_item.added", output_index=index,
                                    item={"type": "reasoning", "id": open_item["id"], "summary": [], "content": []})
                open_item["text"] += piece
                if kind == "message":
                    yield event("response.output_text.delta", item_id=open_item["id"], output_index=open_item["index"],
                                content_index=0, delta=piece, logprobs=[])
                else:
                    yield event("response.reasoning_text.delta", item_id=open_item["id"], output_index=open_item["index"],
                                content_index=0, delta=piece)
            for call in delta.get("tool_calls") or []:
                position = call.get("index", 0)
                function = call.get("function") or {}
                state = calls.get(position)
                if state is None:
                    for closing in close_open():
                        yield closing
                    state = {"index": next_index(), "id": _id("fc"), "call_id": call.get("id") or _id("call"),
                             "name": function.get("name") or "", "args": ""}
                    calls[position] = state
                    yield event("response.output_item.added", output_index=state["index"],
                                item=_call_item(state["id"], state["call_id"], state["name"], "", "in_progress"))
                if function.get("arguments"):
                    state["args"] += function["arguments"]
                    yield event("response.function_call_arguments.delta", item_id=state["id"], output_index=state["index"],
                                delta=function["arguments"])

    for text in close_open():
        yield text
    for state in calls.values():
        done = _call_item(state["id"], state["call_id"], state["name"], state["args"])
        yield event("response.function_call_arguments.done", item_id=state["id"], output_index=state["index"],
                    name=state["name"], arguments=state["args"])
        yield event("response.output_item.done", output_index=state["index"], item=done)
        finished[state["index"]] = done
    output = [finished[i] for i in sorted(finished)]
    if finish == "length":
        yield event("response.incomplete", response=shell.response("incomplete", output, usage, incomplete="max_output_tokens"))
    else:
        yield event("response.completed", response=shell.response("completed", output, usage))
