"""The page's JavaScript core modules (web/src) pass their node unit tests (`npm test` in
web/), which check them against the shared vectors in tests/web/vectors/ written from the
Python implementation: codename keys, fingerprints, PADMÉ lengths, canonical manifests and
byte-identical bundles, rosters, receipts, replies and proof-of-work solutions.

Skips when node or web/node_modules (`npm ci` in web/) is absent, unless
AMANAT_REQUIRE_INTEROP=1, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import ROOT, require_path, require_tool

pytestmark = pytest.mark.interop

WEB = ROOT / "web"


def test_npm_test_passes() -> None:
    require_tool("node")
    npm = require_tool("npm")
    require_path(WEB / "node_modules" / "age-encryption", "web/node_modules (run `npm ci` in web/)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NODE_")}
    result = subprocess.run(
        [npm, "test", "--silent"], cwd=WEB, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )
    report = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"npm test failed:\n{report}"
    assert "# fail 0" in result.stdout, report
    assert "# pass " in result.stdout, report
    # The vectors are part of the repository: a test skipped for want of them is a failure.
    assert "python -m tests.web.make_vectors" not in result.stdout, report
