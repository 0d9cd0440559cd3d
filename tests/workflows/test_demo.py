"""`amanat demo` runs the whole loop in a temporary directory, narrated, and cleans up."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.workflows.conftest import amanat, base_env


@pytest.mark.slow
def test_demo_runs_the_loop_and_cleans_up(tmp_path: Path) -> None:
    started = time.monotonic()
    result = amanat(["demo"], cwd=tmp_path, env=base_env(TMPDIR=str(tmp_path)))
    elapsed = time.monotonic() - started
    assert elapsed < 60
    out = result.stdout
    match = re.search(r"the whole loop in (\S+) \(removed", out)
    assert match is not None, out
    assert not Path(match.group(1)).exists()
    assert list(tmp_path.iterdir()) == []
    for expected in ("amanat org init", "amanat keys new", "amanat roster add",
                     "amanat serve", "amanat submit", "YOUR CODENAME", "amanat inbox",
                     "amanat open", "amanat reply", "amanat replies",
                     "Thank you. Your testimony reached us", "amanat audit verify",
                     "amanat demo: done"):
        assert expected in out, expected
    assert re.search(r"\bdemo-[0-9a-f]{16}\b", out + result.stderr) is None  # the passphrase
