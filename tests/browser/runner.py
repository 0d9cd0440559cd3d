"""Runs a node scenario (tests/browser/node/run.mjs) and reads its JSON answer.

Used by the browser tests and by bench/web_bench.py; needs nothing but the standard
library.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"
CHROMIUM = Path(os.environ.get("AMANAT_CHROMIUM", "/usr/bin/chromium"))
FIREFOX = Path(os.environ.get("AMANAT_FIREFOX", "/usr/bin/firefox-esr"))


class ScenarioFailed(AssertionError):
    pass


def run_scenario(scenario: str, inputs: dict[str, Any], *, timeout: float = 300.0,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run tests/browser/node/run.mjs with ``{"scenario": ..., **inputs}`` on stdin.

    Returns the scenario's result; raises ScenarioFailed with the page's error, its text, a
    screenshot path and what it recorded. ``on_event`` sees each progress event as it comes
    (the resume test kills the server from there). Bounded by ``timeout`` seconds.
    """
    payload = json.dumps({"scenario": scenario, **inputs}).encode("utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["AMANAT_CHROMIUM"] = str(CHROMIUM)
    env["AMANAT_FIREFOX"] = str(FIREFOX)
    env.update(inputs.get("env", {}))
    process = subprocess.Popen(["node", "run.mjs"], cwd=NODE_DIR, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               start_new_session=True)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(payload)
    process.stdin.close()
    deadline = time.monotonic() + timeout
    buffer = b""
    final: dict[str, Any] | None = None
    try:
        while final is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ScenarioFailed(f"scenario {scenario} gave no answer in {timeout:.0f} s")
            ready, _, _ = select.select([process.stdout], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer and final is None:
                line, buffer = buffer.split(b"\n", 1)
                if not line.strip():
                    continue
                message = json.loads(line)
                if "event" in message:
                    if on_event is not None:
                        on_event(message)
                else:
                    final = message
        process.wait(timeout=max(5.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
    stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    if final is None:
        raise ScenarioFailed(f"scenario {scenario} ended without an answer "
                             f"(exit {process.returncode}):\n{stderr[-4000:]}")
    if "error" in final:
        records = final.get("records") or {}
        raise ScenarioFailed(
            f"scenario {scenario} failed: {final['error']}\n"
            f"screenshot: {final.get('screenshot')}\n"
            f"page text: {(final.get('pageText') or '')[:2000]}\n"
            f"console errors: {records.get('consoleErrors')}\n"
            f"page errors: {records.get('pageErrors')}\n"
            f"stack: {final.get('stack')}\nstderr: {stderr[-2000:]}")
    result: dict[str, Any] = final["result"]
    return result
