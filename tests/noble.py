"""Running @noble code (web/node_modules, code nobody here wrote) from the tests: the skip
marker when node or the modules are absent, and one JSON-in, JSON-out call of a script."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import require_path, require_tool

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "web" / "node_modules"


@pytest.fixture
def noble_modules() -> Path:
    """node and web/node_modules/@noble: skipped where absent, a failure under
    AMANAT_REQUIRE_INTEROP=1 (as every other outside piece)."""
    require_tool("node")
    require_path(MODULES / "@noble" / "post-quantum",
                 "web/node_modules/@noble (run `npm ci` in web/)")
    return MODULES


needs_noble = pytest.mark.usefixtures("noble_modules")


def run_node(script: Path, mode: str, payload: dict[str, object]) -> object:
    """``node script MODULES mode`` with ``payload`` as JSON on stdin; its JSON answer."""
    done = subprocess.run(["node", str(script), str(MODULES), mode], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)
