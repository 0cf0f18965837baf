"""Claude Code (npm `@anthropic-ai/claude-code`, print mode) as a client of the gateway's Messages API.

`claude -p` runs offline against `ANTHROPIC_BASE_URL` with non-essential traffic off and a throwaway HOME,
so it never reads the user's config. Workers AI's answers are scripted from Python behind the emulator
(`scripted_gateway`): a plain answer, and a task where the model calls Claude Code's Write tool and then
answers, so Claude Code really runs the tool between two requests.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from support.anthropic_cases import openai_completion, openai_stream
from support.local_gateway import ROOT

CLAUDE = ROOT / "node_modules" / "@anthropic-ai" / "claude-code" / "bin" / "claude.exe"
WORKERS_AI_MODEL = "@cf/zai-org/glm-4.7-flash"


def run_claude(gateway, prompt: str, workdir: Path, *args: str, env: dict | None = None, timeout: float = 180) -> dict:
    """`claude -p PROMPT --output-format json` against the gateway; its JSON result."""
    home = workdir.parent / f"{workdir.name}-home"
    home.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_AUTH_TOKEN": gateway.api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # A failure shows at once instead of after minutes of retries.
        "CLAUDE_CODE_MAX_RETRIES": "0",
        **(env or {}),
    }
    done = subprocess.run([str(CLAUDE), "-p", prompt, "--output-format", "json", *args], cwd=workdir, env=environment,
                          capture_output=True, text=True, timeout=timeout)
    assert done.stdout.strip(), f"claude printed nothing (exit {done.returncode}):\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and not result.get("is_error"), (done.returncode, result.get("result"), done.stderr[-3000:])
    return result


def workers_ai_answer(model: str, inputs: dict, *, text: str | None = None, tool: tuple[str, dict] | None = None) -> Response:
    """What an OpenAI-shaped Workers AI chat model answers: a stream when asked for one, else a completion."""
    usage = {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}
    call = {"id": "call_scripted_1", "type": "function",
            "function": {"name": tool[0], "arguments": json.dumps(tool[1])}} if tool else None
    finish = "tool_calls" if call else "stop"
    if not inputs.get("stream"):
        return openai_completion(model, {"content": text or "", **({"tool_calls": [call]} if call else {})}, finish, usage)
    if call:
        return openai_stream(model, [{"role": "assistant", "content": None, "tool_calls": [{"index": 0, **call}]}], finish, usage)
    first, *rest = text.split(" ")
    return openai_stream(model, [{"role": "assistant", "content": first}, *({"content": " " + word} for word in rest)], finish, usage)


@pytest.fixture
def scripted(scripted_gateway, httpserver):
    return scripted_gateway


def sent_to_workers_ai(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log if request.path == "/ai/run"]


def test_claude_code_prints_the_scripted_answer(scripted, httpserver, tmp_path):
    answer = "Hello from a Workers AI model behind the gateway."

    def handler(request: Request) -> Response:
        sent = json.loads(request.get_data())
        return workers_ai_answer(sent["model"], sent["inputs"], text=answer)

    httpserver.expect_request("/ai/run", method="POST").respond_with_handler(handler)
    work = tmp_path / "work"
    work.mkdir()
    result = run_claude(scripted, "Say hello.", work)

    assert result["result"] == answer
    sent = sent_to_workers_ai(httpserver)
    assert len(sent) == 1
    # Claude Code asks for its default Claude model; the gateway's map picks a Workers AI model for it.
    assert sent[0]["model"].startswith("@cf/")
    messages = sent[0]["inputs"]["messages"]
    assert any("Say hello." in json.dumps(m.get("content")) for m in messages if m["role"] == "user")
    # Claude Code's system prompt (blocks with cache_control) reaches the model as a system message.
    assert messages[0]["role"] == "system" and "Claude" in json.dumps(messages[0]["content"])


def test_claude_code_runs_a_tool_the_model_calls(scripted, httpserver, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    target = work / "notes" / "hello.txt"
    target.parent.mkdir()
    final = "I wrote notes/hello.txt for you."

    def handler(request: Request) -> Response:
        sent = json.loads(request.get_data())
        inputs = sent["inputs"]
        if any(m["role"] == "tool" for m in inputs["messages"]):
            return workers_ai_answer(sent["model"], inputs, text=final)
        return workers_ai_answer(sent["model"], inputs,
                                 tool=("Write", {"file_path": str(target), "content": "written through the gateway\n"}))

    httpserver.expect_request("/ai/run", method="POST").respond_with_handler(handler)
    result = run_claude(scripted, "Create notes/hello.txt saying that it was written through the gateway.", work,
                        "--allowedTools", "Write", env={"ANTHROPIC_MODEL": WORKERS_AI_MODEL})

    assert target.read_text() == "written through the gateway\n"
    assert result["result"] == final
    assert result["num_turns"] == 2
    sent = sent_to_workers_ai(httpserver)
    assert [s["model"] for s in sent] == [WORKERS_AI_MODEL, WORKERS_AI_MODEL]
    # Claude Code's tools reach the model as functions, Write among them with its parameters.
    tools = {t["function"]["name"]: t["function"] for t in sent[0]["inputs"]["tools"]}
    assert {"Write", "Read", "Bash", "Edit"} <= set(tools)
    assert set(tools["Write"]["parameters"]["required"]) == {"file_path", "content"}
    # The second call carries the model's tool call and Claude Code's tool result, paired by id.
    second = sent[1]["inputs"]["messages"]
    asked = [m for m in second if m["role"] == "assistant" and m.get("tool_calls")]
    answered = [m for m in second if m["role"] == "tool"]
    assert len(asked) == 1 and len(answered) == 1
    assert asked[0]["tool_calls"][0]["function"]["name"] == "Write"
    assert json.loads(asked[0]["tool_calls"][0]["function"]["arguments"])["file_path"] == str(target)
    assert answered[0]["tool_call_id"] == asked[0]["tool_calls"][0]["id"]
    assert "hello.txt" in json.dumps(answered[0]["content"])
