"""The k-of-n cosigning policy: how many of the roster's cosigners must have cosigned a
checkpoint before anyone relies on it.

Protects against a split view shown to someone who keeps no state: a log key in the wrong
hands can sign a second history (a fork) or an older one (a rollback) for one witness or one
auditor, and only someone who remembers an earlier checkpoint would notice. A cosigner
(``amanat cosigner``, C2SP tlog-witness) cosigns a checkpoint only if it provably extends
everything it has cosigned of that log, so a checkpoint carrying valid cosignatures from k of
the n cosigners the organization named is one that k independent parties saw as the one
history. A client needs no state to check that.

A cosigner is one name with two keys, Ed25519 (type 0x04) and ML-DSA-44 (type 0x06); it counts
towards k only when both of its cosignatures on the checkpoint verify. A cosignature line that
names a listed key but does not verify is a forgery and refuses the checkpoint outright
(``vault.tlog.cosignature.cosignatures_in_note``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vault.tlog.cosignature import (
    ALG_COSIGNATURE_V1,
    ALG_MLDSA44,
    CosignatureError,
    CosignerVerifier,
    cosignatures_in_note,
)

__all__ = [
    "MAX_COSIGNERS",
    "Cosigner",
    "CosigningPolicy",
    "NotCosignedError",
    "url_problem",
]

MAX_COSIGNERS = 16
"""The most cosigners one roster names (each adds two signature lines to a checkpoint)."""

MAX_URL_LENGTH = 200
# One spelling: scheme and host in lower case, an optional port, an optional path without a
# final slash, nothing else (no user, query or fragment).
_URL = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:]+\])(?::[1-9][0-9]{0,4})?"
    r"(?:/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-])?"
)


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a cosigner address in its one spelling, or None."""
    if len(url) > MAX_URL_LENGTH or not _URL.fullmatch(url):
        return (
            f"a cosigner address is http:// or https://, a lower-case host, an optional port "
            f"and path, no final slash, at most {MAX_URL_LENGTH} characters (not {url[:80]!r})"
        )
    return None


class NotCosignedError(CosignatureError):
    """Fewer than k of the named cosigners have (validly) cosigned the checkpoint."""

    def __init__(self, found: int, quorum: int) -> None:
        super().__init__(
            f"not yet cosigned: {found} of {quorum} required; fetch again later"
        )
        self.found = found
        self.quorum = quorum


@dataclass(frozen=True)
class Cosigner:
    """One cosigner as a roster names it: its Ed25519 and ML-DSA-44 verifier keys (one name)
    and the address of its C2SP tlog-witness endpoint."""

    ed25519: CosignerVerifier
    mldsa44: CosignerVerifier
    url: str

    def __post_init__(self) -> None:
        problem = url_problem(self.url)
        if problem is not None:
            raise CosignatureError(problem)
        if self.ed25519.alg != ALG_COSIGNATURE_V1 or self.mldsa44.alg != ALG_MLDSA44:
            raise CosignatureError(
                "a cosigner has an Ed25519 key (type 0x04) then an ML-DSA-44 key (type 0x06)"
            )
        if self.ed25519.name != self.mldsa44.name:
            raise CosignatureError(
                f"a cosigner's two keys carry one name, not {self.ed25519.name!r} and "
                f"{self.mldsa44.name!r}"
            )

    @property
    def name(self) -> str:
        return self.ed25519.name

    @classmethod
    def from_vkeys(cls, ed25519_vkey: str, mldsa44_vkey: str, url: str) -> Cosigner:
        return cls(CosignerVerifier.from_vkey(ed25519_vkey),
                   CosignerVerifier.from_vkey(mldsa44_vkey), url)

    def verifiers(self) -> tuple[CosignerVerifier, CosignerVerifier]:
        return self.ed25519, self.mldsa44


@dataclass(frozen=True)
class CosigningPolicy:
    """``quorum`` (k) of ``cosigners`` (n, distinct names) must cosign a checkpoint."""

    quorum: int
    cosigners: tuple[Cosigner, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.cosigners) <= MAX_COSIGNERS:
            raise CosignatureError(f"a policy names 1 to {MAX_COSIGNERS} cosigners")
        if not 1 <= self.quorum <= len(self.cosigners):
            raise CosignatureError(
                f"the quorum must be between 1 and the number of cosigners "
                f"({len(self.cosigners)}), not {self.quorum}"
            )
        names = [cosigner.name for cosigner in self.cosigners]
        if len(set(names)) != len(names):
            raise CosignatureError("two cosigners carry the same name")

    def verifiers(self) -> list[CosignerVerifier]:
        return [key for cosigner in self.cosigners for key in cosigner.verifiers()]

    def _times(self, signed_checkpoint: str | bytes) -> dict[str, int]:
        """Each cosigner whose two cosignatures verify, in the policy's order, with the
        earlier of their two times."""
        found = {(c.name, c.key_id): c.timestamp
                 for c in cosignatures_in_note(signed_checkpoint, self.verifiers())}
        times: dict[str, int] = {}
        for cosigner in self.cosigners:
            mine = [found.get((key.name, key.key_id)) for key in cosigner.verifiers()]
            if None not in mine:
                times[cosigner.name] = min(t for t in mine if t is not None)
        return times

    def cosigned_by(self, signed_checkpoint: str | bytes) -> list[str]:
        """The names of the cosigners whose two cosignatures on this signed checkpoint both
        verify, in the policy's order. CosignatureError on a forged line by a listed key."""
        return list(self._times(signed_checkpoint))

    def cosigned_as_of(self, signed_checkpoint: str | bytes) -> int:
        """The time (seconds since the Epoch) as of which ``quorum`` cosigners vouch for this
        checkpoint: the k-th newest of their times. Each cosigner's time says this was the
        largest tree of the log it had seen then, so a checkpoint cosigned long ago may be an
        old view shown to someone who keeps no state. NotCosignedError when fewer than
        ``quorum`` cosigned it."""
        times = sorted(self._times(signed_checkpoint).values(), reverse=True)
        if len(times) < self.quorum:
            raise NotCosignedError(len(times), self.quorum)
        return times[self.quorum - 1]

    def check(self, signed_checkpoint: str | bytes) -> list[str]:
        """The cosigners' names (at least ``quorum`` of them) that cosigned the checkpoint;
        NotCosignedError when fewer did."""
        names = self.cosigned_by(signed_checkpoint)
        if len(names) < self.quorum:
            raise NotCosignedError(len(names), self.quorum)
        return names

    def is_cosigned(self, signed_checkpoint: str | bytes) -> bool:
        """Whether ``quorum`` cosigners validly cosigned it (a forged line counts as no)."""
        try:
            return len(self.cosigned_by(signed_checkpoint)) >= self.quorum
        except CosignatureError:
            return False
