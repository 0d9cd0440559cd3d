"""An in-memory log and organization for the `vault.audit` unit tests.

`FakeLog` implements `vault.audit.LogSource` like a server would: a signed roster, a signed
checkpoint over an in-memory tree, entries (which a test may tamper with separately from the
tree, as an attacker editing the database would) and consistency proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from keys.org import OrgKey
from keys.roster import DEFAULT_VALIDITY_DAYS, Roster, expiry_after, sign_roster
from vault.audit import receipt_file_text
from vault.events import access_event, submission_event
from vault.holdings import LogHoldings
from vault.tlog.checkpoint import Checkpoint, sign_checkpoint
from vault.tlog.merkle import InMemoryTree, leaf_hash
from vault.tlog.note import Signer
from vault.tlog.proof import Receipt


def submission(number: int) -> bytes:
    """A canonical submission event, distinct for each ``number``."""
    sha = hashlib.sha256(str(number).encode()).hexdigest()
    return submission_event(f"{number:032x}", sha, 1000 + number).encode()


def access(number: int) -> bytes:
    return access_event(f"{number:032x}", "0123456789abcdef").encode()


class Org:
    """An organization key and the rosters it signs."""

    def __init__(self, origin: str = "example.org") -> None:
        self.key = OrgKey.generate(origin)
        self.vkey = self.key.vkey()
        self.roster = Roster.empty(self.key.origin)

    def sign(self, log_vkey: str | None) -> str:
        """Sign the next roster version, naming ``log_vkey`` (or no log)."""
        if log_vkey is None:
            roster = Roster(self.roster.origin, self.roster.version + 1)
        else:
            roster = self.roster.with_log(log_vkey)
        roster = roster.with_expiry(expiry_after(DEFAULT_VALIDITY_DAYS))
        self.roster = roster
        return sign_roster(roster, *self.key.signers())


class FakeLog:
    """A log server in memory. ``served`` is what `entries` returns; ``tree`` what is signed."""

    def __init__(
        self,
        signer: Signer,
        roster_text: str,
        entries: Sequence[bytes] = (),
        *,
        max_page: int = 1000,
    ) -> None:
        self.signer = signer
        self.roster = roster_text
        self.max_page = max_page
        self.tree = InMemoryTree()
        self.served: list[bytes] = []
        self.signed = ""
        self.calls: list[tuple[str, int, int]] = []
        self.refuse_proofs = False
        self.dropped: set[str] = set()  # submission ids the server no longer holds
        self.append(*entries)

    def append(self, *entries: bytes) -> None:
        self.tree.extend(leaf_hash(e) for e in entries)
        self.served.extend(entries)
        self.signed = sign_checkpoint(
            Checkpoint(self.signer.name, self.tree.size, self.tree.root()), self.signer
        )

    # --- LogSource ---
    def roster_text(self) -> str:
        return self.roster

    def checkpoint(self) -> str:
        return self.signed

    def entries(self, start: int, end: int) -> list[bytes]:
        self.calls.append(("entries", start, end))
        return self.served[start : min(end, start + self.max_page)]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        self.calls.append(("consistency", old, new))
        if self.refuse_proofs:
            raise ConnectionError("refused")
        return self.tree.consistency_proof(old, new)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self.calls.append(("inclusion", index, size))
        return self.tree.inclusion_proof(index, size)

    def held(self, start: int, end: int) -> tuple[int, set[str]]:
        """Like the server: the logged submissions in the range, minus deleted and dropped."""
        self.calls.append(("held", start, end))
        end = min(end, start + self.max_page, len(self.served))
        holdings = LogHoldings.of(self.served)
        return end, {item.id for item in holdings.live_in(start, end)} - self.dropped


def new_log(org: Org, count: int, name: str = "log.example") -> FakeLog:
    """A log of ``count`` submissions whose key the organization's next roster names."""
    signer = Signer.generate(name)
    return FakeLog(signer, org.sign(signer.vkey()), [submission(i) for i in range(count)])


def server_receipt(log: FakeLog, index: int) -> str:
    """What the server's AuditLog.receipt returns: a tlog-proof without extra data."""
    proof = log.tree.inclusion_proof(index)
    return Receipt(index, tuple(proof), log.signed).format()


def receipt_file(log: FakeLog, index: int) -> str:
    """The receipt file a witness keeps for entry ``index``."""
    return receipt_file_text(log.served[index].decode(), server_receipt(log, index))
