"""The organization key's fingerprint: thirty digits a witness can compare by eye.

Protects design guarantee 5 where it is weakest: the witness's web page is delivered by the
server it protects against, and it names the organization key it pins. The page shows that
key's fingerprint, and the organization publishes the same digits elsewhere (its website, a
printed card, a trusted contact); a witness who compares them knows the page pins the
organization's own key. The admin sees it in ``amanat org init``, ``amanat roster show`` and
``amanat roster verify``.

Definition (docs/FORMAT.md §4)::

    d = SHA-256("amanat.org-fingerprint/v1" LF  vkey  LF)     vkey: the C2SP verifier key text
    for i in 0..5:  group_i = int(d[5i : 5i+5], big-endian) mod 100000, as 5 digits
    fingerprint = the six groups joined by single spaces     ("01234 56789 01234 56789 …")

Each group keeps about 16.6 of its 40 bits, so the fingerprint carries about 99.7 bits: a
second key with the same fingerprint costs about 2**99 tries. Western digits because every
script the page is offered in (Uyghur's Arabic script, Kazakh Cyrillic, Chinese …) reads
them, and groups of five can be read aloud and compared one at a time.
"""

from __future__ import annotations

import hashlib
from typing import Final

from keys.org import CLASSICAL_PREFIX

__all__ = ["FINGERPRINT_DOMAIN", "FINGERPRINT_GROUPS", "org_fingerprint"]

FINGERPRINT_DOMAIN: Final = b"amanat.org-fingerprint/v1\n"
FINGERPRINT_GROUPS: Final = 6
_GROUP_BYTES: Final = 5
_GROUP_MODULUS: Final = 100_000


def org_fingerprint(vkey: str) -> str:
    """The fingerprint of the organization verifier key ``vkey`` (its text exactly as
    published, without surrounding whitespace; a ``classical `` policy prefix is not part of
    the key): six groups of five digits."""
    vkey = vkey.removeprefix(CLASSICAL_PREFIX)
    digest = hashlib.sha256(FINGERPRINT_DOMAIN + vkey.encode("utf-8") + b"\n").digest()
    groups = (
        int.from_bytes(digest[_GROUP_BYTES * i : _GROUP_BYTES * (i + 1)], "big") % _GROUP_MODULUS
        for i in range(FINGERPRINT_GROUPS)
    )
    return " ".join(f"{group:05d}" for group in groups)
