"""Shared test helpers (import as `from tests.support import ...`).

Tests that need the outside vectors (../shared/vectors) or external tools (age, node,
chromium) skip with a reason when those are absent, unless AMANAT_REQUIRE_VECTORS=1 /
AMANAT_REQUIRE_INTEROP=1 (set by .ci/run), in which case a missing piece fails the run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(os.environ.get("AMANAT_VECTORS", ROOT.parent / "shared" / "vectors"))


def _missing(what: str, env: str) -> None:
    if os.environ.get(env) == "1":
        pytest.fail(f"{what} is missing and {env}=1", pytrace=False)
    pytest.skip(f"{what} is missing (set {env}=1 to make this a failure)")


def vectors_dir(sub: str) -> Path:
    """Return ../shared/vectors/<sub>, or skip/fail when absent."""
    path = VECTORS / sub
    if not path.is_dir():
        _missing(f"test vectors {path}", "AMANAT_REQUIRE_VECTORS")
    return path


def require_tool(name: str) -> str:
    """Return the path of an external tool, or skip/fail when absent."""
    found = shutil.which(name)
    if found is None:
        _missing(f"the `{name}` tool", "AMANAT_REQUIRE_INTEROP")
    assert found is not None
    return found


def require_path(path: Path, what: str) -> Path:
    if not path.exists():
        _missing(what, "AMANAT_REQUIRE_INTEROP")
    return path
