"""Start and stop the local gateway (`node scripts/local/serve.mjs`) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Which Python Workers runtime the end-to-end tests run on: scripts/test.sh runs them on each.
RUNTIME = os.environ.get("GATEWAY_RUNTIME", "legacy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalGateway:
    def __init__(
        self,
        *,
        api_keys: str | None = "sk-test-key",
        upstream: str | None = None,
        extra_env: dict | None = None,
        runtime: str | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = (api_keys or "").split(",")[0] or None
        self.runtime = runtime or RUNTIME
        self._state = tempfile.TemporaryDirectory(prefix="gateway-state-")
        self._log = tempfile.TemporaryFile(mode="w+")
        env = {**os.environ, "PORT": str(self.port), "LOCAL_STATE_DIR": self._state.name, "GATEWAY_RUNTIME": self.runtime,
               # The tests' image servers listen on 127.0.0.1, which a deployed gateway refuses to fetch;
               # a test of that refusal passes its own value in extra_env.
               "IMAGE_FETCH_ALLOW_PRIVATE": "true"}
        if api_keys is not None:
            env["API_KEYS"] = api_keys
        if upstream:
            env["AI_EMULATOR_UPSTREAM"] = upstream
        env.update(extra_env or {})
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            ["node", "scripts/local/serve.mjs"], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.cold_start_seconds = self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local gateway exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    # "Gateway ready" is printed once the local D1 migrations are applied too.
                    if response.status == 200 and "Gateway ready" in self.log():
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the local gateway did not answer /health within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._state.cleanup()
        return self.process.returncode
