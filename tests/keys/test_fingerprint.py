"""The organization key's fingerprint (keys.fingerprint): digits a witness compares by eye."""

from __future__ import annotations

import hashlib
import re

from keys import org_fingerprint as exported
from keys.fingerprint import FINGERPRINT_DOMAIN, org_fingerprint
from keys.org import OrgKey

ORIGIN = "example.org/amanat"
VKEY = OrgKey(ORIGIN, bytes(range(32))).vkey()


def test_shape_is_six_groups_of_five_western_digits() -> None:
    text = org_fingerprint(VKEY)
    assert re.fullmatch(r"[0-9]{5}( [0-9]{5}){5}", text)
    assert exported is org_fingerprint


def test_pinned_value_follows_the_documented_construction() -> None:
    digest = hashlib.sha256(b"amanat.org-fingerprint/v1\n" + VKEY.encode() + b"\n").digest()
    groups = [int.from_bytes(digest[5 * i : 5 * i + 5], "big") % 100_000 for i in range(6)]
    assert org_fingerprint(VKEY) == " ".join(f"{g:05d}" for g in groups)
    assert FINGERPRINT_DOMAIN == b"amanat.org-fingerprint/v1\n"
    # Pinned: a change here changes what organizations have published.
    assert org_fingerprint("example.org/amanat+1a2b3c4d+AAAA") == (
        "23198 97598 82342 20881 22143 61438")


def test_leading_zeros_are_kept() -> None:
    # Search for a key whose fingerprint has a group below 10000: it still shows 5 digits.
    for n in range(2000):
        text = org_fingerprint(f"{ORIGIN}+{n:08x}+AAAA")
        if any(group.startswith("0") for group in text.split()):
            assert len(text) == 35
            return
    raise AssertionError("no group with a leading zero in 2000 keys")


def test_every_part_of_the_key_changes_it() -> None:
    other_key = OrgKey(ORIGIN, bytes(32)).vkey()
    other_name = OrgKey("example.net/amanat", bytes(range(32))).vkey()
    fingerprints = {org_fingerprint(v) for v in (VKEY, other_key, other_name, VKEY + " ")}
    assert len(fingerprints) == 4
