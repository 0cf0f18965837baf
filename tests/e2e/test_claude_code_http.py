"""Claude Code (npm `@anthropic-ai/claude-code`, print mode) as a client of the gateway's Messages API.

`claude -p` runs offline against `ANTHROPIC_BASE_URL` with non-essential traffic off and a throwaway HOME,
so it never reads the user's config. Workers AI's answers are scripted from Python behind the emulator
(`scripted_gateway`): a plain answer after some reasoning, a task where the model calls Claude Code's Write
tool and then answers (so Claude Code really runs the tool between two requests), and Workers AI out of
capacity, which Claude Code must report as Anthropic's overload.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from support.anthropic_cases import ai_error, openai_completion, openai_stream
from support.local_gateway import ROOT, LocalGateway

CLAUDE = ROOT / "node_modules" / "@anthropic-ai" / "claude-code" / "bin" / "claude.exe"
WORKERS_AI_MODEL = "@cf/zai-org/glm-4.7-flash"


def run_claude(gateway, prompt: str, workdir: Path, *args: str, env: dict | None = None, key_variable="ANTHROPIC_AUTH_TOKEN",
               fails: bool = False, timeout: float = 180) -> dict:
    """`claude -p PROMPT --output-format json` against the gateway, its key in `key_variable` (ANTHROPIC_AUTH_TOKEN
    is sent as a Bearer token, ANTHROPIC_API_KEY as `x-api-key`); its JSON result (a success unless `fails`)."""
    # The native binary comes in an optional platform package that the package's postinstall links here.
    assert CLAUDE.exists(), f"{CLAUDE} is missing: run `npm ci` (with optional dependencies and install scripts)"
    home = workdir.parent / f"{workdir.name}-home"
    home.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": gateway.url,
        key_variable: gateway.api_key,
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
    succeeded = done.returncode == 0 and not result.get("is_error")
    assert succeeded is not fails, (done.returncode, result.get("result"), done.stderr[-3000:])
    return result


def workers_ai_answer(model: str, inputs: dict, *, text: str | None = None, tool: tuple[str, dict] | None = None,
                      reasoning: str | None = None) -> Response:
    """What an OpenAI-shaped Workers AI chat model answers: a stream when asked for one, else a completion."""
    usage = {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}
    call = {"id": "call_scripted_1", "type": "function",
            "function": {"name": tool[0], "arguments": json.dumps(tool[1])}} if tool else None
    finish = "tool_calls" if call else "stop"
    if not inputs.get("stream"):
        message = {"content": text or "", **({"tool_calls": [call]} if call else {}),
                   **({"reasoning_content": reasoning} if reasoning else {})}
        return openai_completion(model, message, finish, usage)
    deltas = [{"role": "assistant", "reasoning_content": reasoning}] if reasoning else []
    if call:
        deltas.append({"content": None, "tool_calls": [{"index": 0, **call}]})
    else:
        first, *rest = text.split(" ")
        deltas += [{"content": first}, *({"content": " " + word} for word in rest)]
    if not reasoning:
        deltas[0] = {"role": "assistant", **deltas[0]}
    return openai_stream(model, deltas, finish, usage)


@pytest.fixture
def scripted(scripted_gateway, httpserver):
    return scripted_gateway


def sent_to_workers_ai(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log if request.path == "/ai/run"]


def test_claude_code_prints_the_scripted_answer(scripted, httpserver, tmp_path):
    answer = "Hello from a Workers AI model behind the gateway."

    def handler(request: Request) -> Response:
        sent = json.loads(request.get_data())
        return workers_ai_answer(sent["model"], sent["inputs"], text=answer, reasoning="The user wants a greeting.")

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
    # Claude Code's system prompt (blocks with cache_control) and the system turns it puts among the
    # messages reach the model as one leading system message.
    assert messages[0]["role"] == "system" and "Primary working directory" in json.dumps(messages[0]["content"])
    assert [m["role"] for m in messages].count("system") == 1
    # Its adaptive thinking turns the model's reasoning on.
    assert sent[0]["inputs"].get("chat_template_kwargs", {}).get("enable_thinking") is True or sent[0]["inputs"].get("reasoning_effort")


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
        return workers_ai_answer(sent["model"], inputs, reasoning="A Write call will do.",
                                 tool=("Write", {"file_path": str(target), "content": "written through the gateway\n"}))

    httpserver.expect_request("/ai/run", method="POST").respond_with_handler(handler)
    # This time the key goes as `x-api-key` (ANTHROPIC_API_KEY) and the model is a Workers AI id.
    result = run_claude(scripted, "Create notes/hello.txt saying that it was written through the gateway.", work,
                        "--allowedTools", "Write",
                        env={"ANTHROPIC_MODEL": WORKERS_AI_MODEL}, key_variable="ANTHROPIC_API_KEY")

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


def test_claude_code_reports_workers_ai_out_of_capacity_as_an_overload(scripted, httpserver, tmp_path):
    httpserver.expect_request("/ai/run", method="POST").respond_with_response(
        ai_error(3040, "Capacity temporarily exceeded, please try again.", 429))
    work = tmp_path / "work"
    work.mkdir()
    result = run_claude(scripted, "Say hello.", work, fails=True)
    assert result["api_error_status"] == 529
    assert "529" in result["result"]


def test_claude_code_reports_a_wrong_key(scripted, httpserver, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = run_claude(scripted, "Say hello.", work, env={"ANTHROPIC_AUTH_TOKEN": "sk-not-a-gateway-key"}, fails=True)
    assert result["api_error_status"] == 401
    assert not [request for request, _ in httpserver.log if request.path == "/ai/run"], "nothing ran"


@pytest.fixture(scope="module")
def capped_gateway(make_httpserver):
    """A gateway whose key may spend the Free plan's 10 000 neurons a day."""
    local = LocalGateway(api_keys="sk-capped-key", upstream=make_httpserver.url_for("/"), extra_env={"KEY_BUDGETS": "*=10000"})
    yield local
    local.stop()


def test_claude_code_on_a_capped_key_as_it_comes(capped_gateway, httpserver, tmp_path):
    """Claude Code asks for max_tokens 128000 a turn; what a capped key reserves for that is more than a
    Free-plan day. The gateway asks the model for ANTHROPIC_MAX_TOKENS (8192) at most, so Claude Code
    runs on such a key with no setting of its own."""
    answer = "Served within the cap."

    def handler(request: Request) -> Response:
        sent = json.loads(request.get_data())
        return workers_ai_answer(sent["model"], sent["inputs"], text=answer)

    httpserver.expect_request("/ai/run", method="POST").respond_with_handler(handler)
    work = tmp_path / "work"
    work.mkdir()
    result = run_claude(capped_gateway, "Say hello.", work)
    assert result["result"] == answer
    assert sent_to_workers_ai(httpserver)[0]["inputs"]["max_tokens"] == 8192
