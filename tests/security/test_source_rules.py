"""Rules that hold for every line of the shipped code (vault, keys, api).

* No string is formatted with a secret: no f-string or ``format`` field names a variable
  called passphrase, codename, secret, token, seed or password, so no message, log line,
  URL or file name can carry one. The only exception is the ``Authorization: Bearer``
  header, where the token belongs.
* Randomness comes only from the operating system (``os.urandom``, ``secrets``): the
  ``random`` module (predictable) and ``uuid`` (time- and host-derived ids) are never
  imported.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vault", "keys", "api")
SECRET_FIELD = re.compile(
    r"\{(?:self\.)?_?(?:passphrase|codename|secret|mailbox_secret|token|seed|password|typed"
    r"|age_seed|auth_seed)\b[^}]*\}")
ALLOWED = {("vault/client.py", 'headers["Authorization"] = f"Bearer {self.token}"')}
WEAK_RANDOM = re.compile(r"^\s*(?:import|from)\s+(?:random|uuid|numpy\.random)\b", re.M)


def sources() -> list[Path]:
    found = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(found) > 50
    return found


def test_no_string_is_formatted_with_a_secret() -> None:
    offending = []
    for path in sources():
        relative = str(path.relative_to(ROOT))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if SECRET_FIELD.search(line) and (relative, line.strip()) not in ALLOWED:
                offending.append(f"{relative}:{number}: {line.strip()}")
    assert offending == []


def test_the_rule_sees_a_secret_in_a_message() -> None:
    assert SECRET_FIELD.search('raise KeysError(f"wrong passphrase {passphrase!r}")')
    assert SECRET_FIELD.search('log.info("box %s", f"{self._mailbox_secret.hex()}")')
    assert not SECRET_FIELD.search('f"a mailbox secret is {MIN_SECRET_BYTES} bytes"')


def test_randomness_comes_only_from_the_operating_system() -> None:
    offending = [str(p.relative_to(ROOT)) for p in sources()
                 if WEAK_RANDOM.search(p.read_text("utf-8"))]
    assert offending == []
    assert WEAK_RANDOM.search("import os\nfrom random import choice\n")
