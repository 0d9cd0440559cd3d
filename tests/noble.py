"""Running @noble code (web/node_modules, code nobody here wrote) from the tests: the skip
marker when node or the modules are absent, and one JSON-in, JSON-out call of a script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "web" / "node_modules"

needs_noble = pytest.mark.skipif(
    shutil.which("node") is None or not (MODULES / "@noble" / "post-quantum").is_dir(),
    reason="node and web/node_modules/@noble (npm ci in web/) are needed")


def run_node(script: Path, mode: str, payload: dict[str, object]) -> object:
    """``node script MODULES mode`` with ``payload`` as JSON on stdin; its JSON answer."""
    done = subprocess.run(["node", str(script), str(MODULES), mode], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)
