"""The witness page in real browsers, against a real ``amanat serve`` on 127.0.0.1.

Debian's Chromium (playwright-core over CDP) and Firefox ESR (puppeteer-core over WebDriver
BiDi, with or without Tor Browser's "Safer" prefs) are driven by node scripts in
tests/browser/node: a test sends ``node run.mjs`` a JSON object on standard input (the
server's URL, the inputs; codenames only this way, never in argv) and reads JSON lines back
(progress events, then the result). The scenarios observe; the tests here assert.

A test skips, saying what is missing, when a browser, node, tests/browser/node/node_modules
(``make browser-deps``) or the built page (api/static/en/index.html, ``make web``) is
absent; with AMANAT_REQUIRE_BROWSERS=1 (set by .ci/run) it fails instead.

One organization, investigator pair, roster and server serve the whole session (made with
the real commands, as tests/workflows does); the resume test makes its own server.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.conftest import World, build_world

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
STATIC = ROOT / "api" / "static"
CHROMIUM = Path(os.environ.get("AMANAT_CHROMIUM", "/usr/bin/chromium"))
FIREFOX = Path(os.environ.get("AMANAT_FIREFOX", "/usr/bin/firefox-esr"))
LANGS = ("en", "ug", "kk", "ru", "zh", "tr")
REQUIRE_ENV = "AMANAT_REQUIRE_BROWSERS"


def _missing(what: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{what} is missing and {REQUIRE_ENV}=1", pytrace=False)
    pytest.skip(f"{what} is missing (set {REQUIRE_ENV}=1 to make this a failure)")


def require_browser_stack(*browsers: str) -> None:
    """Skip (or fail, under AMANAT_REQUIRE_BROWSERS=1) unless everything is there."""
    if shutil.which("node") is None:
        _missing("node")
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir() or \
            not (NODE_DIR / "node_modules" / "puppeteer-core").is_dir():
        _missing(f"{NODE_DIR / 'node_modules'} (run `make browser-deps`)")
    if not (STATIC / "en" / "index.html").is_file():
        _missing(f"the built witness page {STATIC / 'en' / 'index.html'} (run `make web`)")
    for browser in browsers:
        path = CHROMIUM if browser == "chromium" else FIREFOX
        if not os.access(path, os.X_OK):
            _missing(f"the browser {path} (Debian package "
                     f"{'chromium' if browser == 'chromium' else 'firefox-esr'})")


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


def catalog(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def browser_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An organization, investigators A and B, a roster naming the log, and a server,
    made with the real commands once for the browser tests."""
    require_browser_stack()
    yield from build_world(tmp_path_factory.mktemp("browser-world"))


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go; each test that makes one prints its path."""
    return tmp_path_factory.mktemp("browser-artifacts")
