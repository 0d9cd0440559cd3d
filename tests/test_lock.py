"""The hash-pinned lock files install with the pip that `python3 -m venv` ships.

A newcomer's first `make test` runs `pip install --require-hashes` with the pip bundled by
ensurepip (23.2.1 on Python 3.11.7). That pip treats a dependency requested with extras
(`pytest-cov` asks for `coverage[toml]`) as a requirement of its own, which must then appear
in the lock *with* its extras, or it refuses the whole install ("all requirements must have
their versions pinned with =="). Newer pips do not mind, so a machine with an upgraded pip
hides the break. These checks catch it without a network: every line is pinned with `==`
and hashed, and every extra that an installed package asks of another is written in the
lock. `.ci/run` then installs the lock for real with the stock pip in a fresh venv.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements/dev.txt", "requirements/runtime.txt")
LINE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[(?P<extras>[^\]]+)\])?==(?P<version>\S+) \\$")


def _pins(lock: str) -> dict[str, tuple[set[str], str]]:
    """name -> (extras written in the lock, version), failing on anything not pinned."""
    pins: dict[str, tuple[set[str], str]] = {}
    text = (ROOT / lock).read_text("utf-8")
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw or raw[0] in " #":
            continue
        match = LINE.match(raw)
        assert match, f"{lock}:{number}: not an exact, hashed pin: {raw!r}"
        extras = {e.strip() for e in (match["extras"] or "").split(",") if e.strip()}
        pins[canonicalize_name(match["name"])] = (extras, match["version"])
    for block in re.split(r"\n(?=\S)", text):
        if block and block[0] not in "#":
            assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]} has no hash"
    return pins


@pytest.mark.parametrize("lock", LOCKS)
def test_every_line_is_an_exact_hashed_pin(lock: str) -> None:
    assert _pins(lock)


def test_extras_that_locked_packages_ask_for_are_in_the_lock() -> None:
    pins = _pins("requirements/dev.txt")
    missing = []
    for name in pins:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not for this platform (environment markers)
        for spec in requires:
            req = Requirement(spec)
            if not req.extras or (req.marker and not req.marker.evaluate({"extra": ""})):
                continue
            target = canonicalize_name(req.name)
            if target in pins and not req.extras <= pins[target][0]:
                missing.append(f"{name} needs {req.name}[{','.join(sorted(req.extras))}]")
    assert missing == [], "regenerate with `make lock` (uv --no-strip-extras): " + "; ".join(
        missing)


def test_the_venv_matches_the_lock() -> None:
    """What the tests run on is what the lock pins (no hand-installed upgrade hides a gap)."""
    wrong = []
    for name, (_, version) in _pins("requirements/dev.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed != version:
            wrong.append(f"{name} {installed} (lock: {version})")
    assert wrong == []
