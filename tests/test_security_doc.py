"""SECURITY.md names, for each guarantee, the tests that would fail if it broke. A renamed or
deleted test would leave a guarantee held by nothing while the document still says "held":
every test it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"`(tests/[A-Za-z0-9_/]+\.py)(?:::([A-Za-z0-9_]+))?`")


def references() -> list[tuple[str, str | None]]:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    return sorted(set(REFERENCE.findall(text)), key=lambda pair: (pair[0], pair[1] or ""))


def test_every_test_security_md_names_exists() -> None:
    found = references()
    assert len(found) > 100  # the pattern still matches what the document writes
    missing = []
    for path, name in found:
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name and not re.search(rf"^(?:async )?def {name}\(", source.read_text(
                encoding="utf-8"), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == []
