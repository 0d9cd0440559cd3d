"""The page solves the server's proof of work, at Tor Browser's Safer level too.

The server is restarted with a floor for the difficulty (``AMANAT_WORK_MIN_BITS``), so every
new upload needs a solved puzzle however quiet the server is. A witness's page, in Firefox at
Safer and in Chromium, must fetch the puzzle when refused (428), solve it with the JIT off,
and get its testimony through; the investigator then lists it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import require_browser_stack, run_scenario
from tests.e2e.conftest import start_server
from tests.workflows.conftest import World, build_world

pytestmark = pytest.mark.slow

BITS = 14  # about 16,000 hashes: seconds at Safer, as a busy server would ask


@pytest.fixture(scope="module")
def paying_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A world whose server asks every anonymous write for BITS bits of work."""
    require_browser_stack("chromium", "firefox")
    root = tmp_path_factory.mktemp("work-world")
    worlds = build_world(root)
    world = next(worlds)
    first = world.server
    first.stop()
    (root / "paying").mkdir()
    world.server = start_server(root / "paying", dev=False, data_dir=first.data_dir,
                                port=first.port,
                                extra_args=("--host", "127.0.0.1", "--org", world.org_vkey),
                                env={"AMANAT_WORK_MIN_BITS": str(BITS)})
    try:
        yield world
    finally:
        world.server.stop()
        next(worlds, None)


@pytest.mark.parametrize("browser", ["firefox-safer", "chromium"])
def test_the_page_solves_the_proof_of_work(paying_world: World, browser: str,
                                           artifacts: Path) -> None:
    url = paying_world.url
    assert httpx.post(url + "/api/v1/uploads", timeout=10).status_code == 428
    assert httpx.get(url + "/api/v1/work", timeout=10).json()["bits"] == BITS
    before = {line[0] for line in paying_world.inbox("a")}
    started = time.monotonic()
    result = run_scenario("submit", {
        "browser": browser, "url": url, "lang": "en",
        "statement": f"Sent through a busy server from {browser}.", "files": [],
        "wantReply": False, "artifacts": str(artifacts), "timeout": 300000}, timeout=360)
    print(f"\n{browser}: {BITS} bits of work, done in {time.monotonic() - started:.1f} s "
          f"(marks {result['marks']})")
    assert result["state"]["error"] is None, result["state"]
    assert result["state"]["done"] and result["receiptVerifiedShown"], result["state"]
    submission = (result["receiptId"] or "").strip()
    after = {line[0] for line in paying_world.inbox("a")}
    assert after - before == {submission}
