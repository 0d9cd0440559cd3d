"""Tor Browser's "Safer" level in Firefox: the prefs take effect, and the page still works.

At Safer, Tor Browser turns off the JIT (Ion and Baseline), native regular expressions,
asm.js and WebAssembly; with privacy.resistFingerprinting the browser reports a spoofed
time zone. The page must seal and upload a large attachment regardless.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.browser.conftest import require_browser_stack, run_scenario
from tests.browser.support import assert_keeps_to_itself
from tests.workflows.conftest import World

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
WITNESS_ZONE = "Asia/Almaty"  # UTC+5 or +6: never offset 0


def test_safer_prefs_take_effect(browser_world: World) -> None:
    require_browser_stack("firefox")
    # On a blank page: the witness page's CSP refuses WebAssembly by itself.
    inputs = {"url": "about:blank", "env": {"TZ": WITNESS_ZONE}}
    safer = run_scenario("probe", {**inputs, "browser": "firefox-safer"}, timeout=120)
    plain = run_scenario("probe", {**inputs, "browser": "firefox"}, timeout=120)
    print(f"\nFirefox {safer['browser']}: a 20M-step typed-array loop took "
          f"{plain['loopWallMs']} ms with the JIT, {safer['loopWallMs']} ms at Safer")
    assert safer["prefs"]["javascript.options.wasm"] is False
    # WebAssembly is gone (or at least cannot compile anything).
    assert safer["webAssembly"] == "undefined" or safer["wasmCompiles"] is False, safer
    assert plain["webAssembly"] == "object" and plain["wasmCompiles"] is True, plain
    # resistFingerprinting: the witness's time zone is hidden behind offset 0.
    assert plain["timeZone"] == WITNESS_ZONE, plain["timeZone"]
    assert safer["timeZone"] != WITNESS_ZONE and safer["timezoneOffset"] == 0, safer
    # No JIT: the interpreter runs the same loop many times slower (about 40x here).
    assert safer["loopWallMs"] > 5 * plain["loopWallMs"], (safer["loopWallMs"],
                                                           plain["loopWallMs"])
    assert safer["loopResult"] == plain["loopResult"]


def test_safer_seals_and_uploads_10_mib(browser_world: World, artifacts: Path,
                                        tmp_path: Path) -> None:
    require_browser_stack("firefox")
    data = os.urandom(10 * MIB)
    path = tmp_path / "recording.bin"
    path.write_bytes(data)
    result = run_scenario("submit", {
        "browser": "firefox-safer", "url": browser_world.url, "lang": "en",
        "statement": "A recording from the day of the arrest.", "files": [str(path)],
        "keepMetadata": True, "wantReply": False, "artifacts": str(artifacts),
        "timeout": 420000}, timeout=480)
    marks = result["marks"]
    print(f"\nFirefox at Safer, 10 MiB: sealing seen from {marks['sealFirst']} ms, upload from "
          f"{marks['uploadFirst']} ms to {marks['uploadFull']} ms, done at {marks['done']} ms")
    assert result["state"]["done"] and result["state"]["error"] is None, result["state"]
    assert result["receiptVerifiedShown"]
    assert not result["codenameShown"], "no reply was asked for, yet a codename is shown"
    assert_keeps_to_itself(result, browser_world.url, what="the page at Safer")
    submission = (result["receiptId"] or "").strip()
    case = tmp_path / "case"
    browser_world.investigator("a", ["open", submission, "-o", str(case)])
    manifest = json.loads((case / "manifest.json").read_bytes())
    (entry,) = manifest["attachments"]
    assert entry["metadata_kept"] is True and entry["size"] == len(data)
    opened = (case / "attachments" / entry["name"]).read_bytes()
    assert hashlib.sha256(opened).digest() == hashlib.sha256(data).digest()
