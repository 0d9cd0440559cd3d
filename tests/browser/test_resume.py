"""A dropped upload resumes: the server dies mid-upload and comes back.

Chromium's network is slowed (DevTools network conditions) so that the upload of a large
attachment takes seconds; when ``#upload-progress`` is partway, the server is killed with
SIGKILL and started again on the same port and data directory. The page keeps retrying,
asks the server how much it has, sends the rest, and verifies its receipt; ``amanat open``
reads the attachment whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import require_browser_stack, run_scenario
from tests.e2e.conftest import start_server
from tests.workflows.conftest import World, build_world

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
ATTACHMENT_MIB = 6
UPLOAD_BYTES_PER_SECOND = 1 * MIB


@pytest.fixture(scope="module")
def own_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A world of its own: this test kills its server."""
    require_browser_stack("chromium")
    worlds = build_world(tmp_path_factory.mktemp("resume-world"))
    world = next(worlds)
    try:
        yield world
    finally:
        world.server.stop()  # the restarted server, if the test made one
        next(worlds, None)  # stops the first


def test_upload_resumes_after_the_server_is_killed(own_world: World, artifacts: Path,
                                                   tmp_path: Path) -> None:
    data = os.urandom(ATTACHMENT_MIB * MIB)
    path = tmp_path / "video.bin"
    path.write_bytes(data)
    killed: dict[str, Any] = {}
    old = own_world.server

    def on_event(event: dict[str, Any]) -> None:
        upload = event.get("upload") or {}
        value, maximum = upload.get("value"), upload.get("max")
        if killed or event.get("event") != "progress" or not value or not maximum:
            return
        if not 0.1 <= value / maximum <= 0.7:
            return
        killed["at"] = value / maximum
        os.kill(old.pid, signal.SIGKILL)
        old.process.wait(timeout=10)
        killed["down"] = time.monotonic()
        restarted = start_server(tmp_path / "restarted-dir", dev=False, data_dir=old.data_dir,
                                 port=old.port,
                                 extra_args=("--host", "127.0.0.1", "--org", own_world.org_vkey))
        killed["up_after"] = time.monotonic() - killed["down"]
        own_world.server = restarted

    (tmp_path / "restarted-dir").mkdir()
    result = run_scenario("submit", {
        "browser": "chromium", "url": own_world.url, "lang": "en",
        "statement": "The upload of this testimony is cut and resumed.", "files": [str(path)],
        "keepMetadata": True, "wantReply": False, "throttleUpload": UPLOAD_BYTES_PER_SECOND,
        "artifacts": str(artifacts), "timeout": 240000}, timeout=300, on_event=on_event)
    assert killed, ("the server was never killed: the upload was not seen partway "
                    f"(progress marks {result['marks']})")
    print(f"\nkilled at {killed['at']:.0%} of the upload; the server was back after "
          f"{killed['up_after']:.1f} s; the page finished at {result['marks']['done']} ms")
    assert result["state"]["error"] is None, f"the page gave up: {result['state']}"
    assert result["state"]["done"], result["state"]
    assert result["receiptVerifiedShown"], "#receipt-verified is not shown after the resume"
    submission = (result["receiptId"] or "").strip()
    case = tmp_path / "case"
    own_world.investigator("a", ["open", submission, "-o", str(case)])
    manifest = json.loads((case / "manifest.json").read_bytes())
    (entry,) = manifest["attachments"]
    opened = (case / "attachments" / entry["name"]).read_bytes()
    assert hashlib.sha256(opened).digest() == hashlib.sha256(data).digest()
