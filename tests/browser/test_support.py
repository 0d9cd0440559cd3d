"""The browser tests' own checks can fail: each is shown what it must catch (no browser)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import (
    assert_keeps_to_itself,
    foreign_requests,
    make_gps_jpeg,
    missing_key_messages,
    pixels,
    raw_keys,
)

CATALOG = {"safety.title": "Before you start", "msg.status.done": "Done.", "nav.replies": "x"}
BASE = "http://127.0.0.1:8000"


def test_raw_keys_finds_keys_and_placeholders_only() -> None:
    assert raw_keys(["Before you start", "Read amanat.example/help or 3.5 MB"], CATALOG) == []
    assert raw_keys(["Status: msg.status.done"], CATALOG) == ["msg.status.done"]
    # A key the catalog lacks, under a known prefix, is what a missing message looks like.
    assert raw_keys(["msg.error.newThing"], CATALOG) == ["msg.error.newThing"]
    assert raw_keys(["{count} files"], CATALOG) == ["{count}"]
    assert missing_key_messages({"consoleMessages": [
        {"type": "warning", "text": "i18n: missing key msg.x"}]}) == ["i18n: missing key msg.x"]


def test_foreign_requests() -> None:
    assert foreign_requests([f"{BASE}/en/", "data:font/woff2;base64,AA", "blob:x"], BASE) == []
    assert foreign_requests([f"{BASE}/en/", "http://127.0.0.1:8001/x",
                             "https://cdn.example/x.js"], BASE) == [
        "http://127.0.0.1:8001/x", "https://cdn.example/x.js"]


def _clean_result(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "records": {"requests": [f"{BASE}/en/"], "cspViolations": [], "consoleErrors": [],
                    "pageErrors": []},
        "storage": {"localStorage": [], "sessionStorage": [], "indexedDB": [], "caches": [],
                    "cookie": "", "serviceWorkers": 0},
        "location": f"{BASE}/en/"}
    for path, value in changes.items():
        section, key = path.split("__")
        result[section][key] = value
    return result


@pytest.mark.parametrize("change", [
    {"records__requests": [f"{BASE}/en/", "https://fonts.example/a.woff2"]},
    {"records__requests": [f"{BASE}/api/v1/mailbox?c=abandon+ability+able"]},
    {"storage__localStorage": ["draft"]},
    {"storage__indexedDB": ["keys"]},
    {"storage__caches": ["v1"]},
    {"storage__cookie": "a=1"},
    {"records__cspViolations": [{"directive": "img-src"}]},
    {"records__consoleErrors": ["TypeError"]},
])
def test_keeps_to_itself_fails_on_each_leak(change: dict[str, Any]) -> None:
    assert_keeps_to_itself(_clean_result(), BASE, secrets=("abandon ability able",))
    with pytest.raises(AssertionError):
        assert_keeps_to_itself(_clean_result(**change), BASE, secrets=("abandon ability able",))


def test_pixel_comparison_tells_a_reencoding() -> None:
    import io

    from PIL import Image

    original = make_gps_jpeg("canary")
    reencoded = io.BytesIO()
    Image.open(io.BytesIO(original)).save(reencoded, "JPEG", quality=90)
    assert pixels(original) == pixels(original)
    assert pixels(reencoded.getvalue()) != pixels(original)
