"""The witness page in real browsers, against a real ``amanat serve`` on 127.0.0.1.

Debian's Chromium (playwright-core over CDP) and Firefox ESR (puppeteer-core over WebDriver
BiDi, with or without Tor Browser's "Safer" prefs) are driven by node scripts in
tests/browser/node: a test sends ``node run.mjs`` a JSON object on standard input (the
server's URL, the inputs; codenames only this way, never in argv) and reads JSON lines back
(progress events, then the result). The scenarios observe; the tests here assert.

A test skips, saying what is missing, when a browser, node, tests/browser/node/node_modules
(``make browser-deps``) or the built page (api/static/en/index.html, ``make web``) is
absent; with AMANAT_REQUIRE_BROWSERS=1 (set by .ci/run) it fails instead.

One organization, investigator pair, roster and server serve all the browser tests (made
with the real commands, as tests/workflows does); the resume test makes its own server.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.runner import CHROMIUM, FIREFOX, NODE_DIR, ScenarioFailed, run_scenario
from tests.workflows.conftest import World, build_world

__all__ = ["LANGS", "ScenarioFailed", "catalog", "require_browser_stack", "run_scenario"]

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "static"
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


def catalog(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="package")
def browser_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An organization, investigators A and B, a roster naming the log, and a server,
    made with the real commands once for the browser tests (stopped after the last)."""
    require_browser_stack()
    yield from build_world(tmp_path_factory.mktemp("browser-world"))


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go; each test that makes one prints its path."""
    return tmp_path_factory.mktemp("browser-artifacts")
