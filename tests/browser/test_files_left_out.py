"""A file the witness chose is never left out without their decision: while a file that
cannot be cleaned is not ticked "send it anyway", the page refuses to send and says why,
and nothing reaches the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import catalog, require_browser_stack, run_scenario
from tests.workflows.conftest import World

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", ["en", "ug"])
def test_an_unticked_file_stops_the_sending(browser_world: World, artifacts: Path,
                                            tmp_path: Path, lang: str) -> None:
    require_browser_stack("chromium")
    recording = tmp_path / "recording.mp4"
    recording.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    before = browser_world.inbox("a")
    result = run_scenario("submit", {
        "browser": "chromium", "url": browser_world.url, "lang": lang,
        "statement": "This must not be sent without the recording.", "files": [str(recording)],
        "keepMetadata": False, "wantReply": False, "artifacts": str(artifacts),
        "timeout": 60000}, timeout=120)
    state = result["state"]
    assert not state["done"], state
    # The message as the catalog words it (numbers are bidi-isolated in right-to-left text).
    expected = catalog(lang)["msg.error.filesLeftOut"]["one"].split("{count}")[1].split(":")[0]
    assert state["error"] is not None and expected in state["error"], state
    assert "1" in state["error"]
    assert result["fileItems"] and result["fileItems"][0]["keep"], result["fileItems"]
    assert browser_world.inbox("a") == before
