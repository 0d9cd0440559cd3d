"""`amanat replies` reads the mailboxes of both codename derivations (vault.witness):
merged oldest first, each reply opened only with its own version's key, and the memory bound
counted over all of them before anything is downloaded."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

import pytest

from vault import age
from vault.client import ReplyInfo
from vault.codename import derive
from vault.replytext import pad_reply
from vault.witness import MAX_REPLIES_BYTES, WitnessError, codename_keys, fetch_replies

CODENAME = "legal winner thank year wave sausage worth useful legal winner thank yellow"
KEYS = {version: derive(CODENAME, version) for version in (2, 1)}  # version 1 is slow: once
BOTH = [KEYS[2], KEYS[1]]


class FakeMailboxes:
    """A server's mailboxes: mailbox secret → [(info, sealed bytes)]; records downloads."""

    def __init__(self) -> None:
        self.boxes: dict[bytes, list[tuple[ReplyInfo, bytes]]] = {}
        self.downloaded: list[str] = []

    def put(self, version: int, number: int, received: str, message: str,
            size: int | None = None) -> None:
        keys = KEYS[version]
        sealed = age.encrypt_bytes(pad_reply(message), [keys.reply_identity.recipient()])
        info = ReplyInfo(f"{version}{number:031x}", hashlib.sha256(sealed).hexdigest(),
                         len(sealed) if size is None else size, received, number)
        self.boxes.setdefault(keys.mailbox_secret, []).append((info, sealed))

    def replies(self, secret: bytes) -> list[ReplyInfo]:
        return [info for info, _ in self.boxes.get(secret, [])]

    def fetch_reply(self, secret: bytes, reply_id: str, dst: BinaryIO, size: int) -> str:
        self.downloaded.append(reply_id)
        sealed = next(data for info, data in self.boxes[secret] if info.id == reply_id)
        dst.write(sealed)
        return hashlib.sha256(sealed).hexdigest()


def test_keys_of_both_versions_newest_first() -> None:
    keys = codename_keys(CODENAME.upper())
    assert [k.version for k in keys] == [2, 1]
    assert [k.mailbox_id for k in keys] == [KEYS[2].mailbox_id, KEYS[1].mailbox_id]


def test_replies_of_both_mailboxes_are_merged_oldest_first() -> None:
    server = FakeMailboxes()
    server.put(2, 1, "2026-11-20T10:00Z", "new address, later hour")
    server.put(2, 2, "2026-11-19T08:00Z", "new address, same hour")
    server.put(1, 1, "2026-11-19T08:00Z", "old address, same hour")
    server.put(1, 2, "2026-11-18T23:00Z", "old address, earliest")
    read = fetch_replies(server, BOTH)  # type: ignore[arg-type]
    assert [r.text for r in read] == ["old address, earliest", "old address, same hour",
                                      "new address, same hour", "new address, later hour"]
    # One version's keys read only that version's mailbox.
    only_new = fetch_replies(server, KEYS[2])  # type: ignore[arg-type]
    assert [r.text for r in only_new] == ["new address, later hour", "new address, same hour"]


def test_a_reply_is_opened_only_with_its_own_versions_key() -> None:
    server = FakeMailboxes()
    server.put(2, 1, "2026-11-20T10:00Z", "fine")
    # A reply sealed to the version 2 recipient but left in the version 1 mailbox.
    v1_secret = KEYS[1].mailbox_secret
    misplaced = server.boxes[KEYS[2].mailbox_secret][0]
    server.boxes[v1_secret] = [(ReplyInfo("1" * 32, misplaced[0].sha256, misplaced[0].size,
                                          misplaced[0].received, 9), misplaced[1])]
    with pytest.raises(WitnessError, match="cannot be opened with this codename"):
        fetch_replies(server, BOTH)  # type: ignore[arg-type]


def test_the_memory_bound_counts_every_mailbox_before_any_download() -> None:
    server = FakeMailboxes()
    half = MAX_REPLIES_BYTES // 2 + 1
    server.put(2, 1, "2026-11-20T10:00Z", "x", size=half)
    server.put(1, 1, "2026-11-20T10:00Z", "y", size=half)
    for one in BOTH:  # each alone is within the bound
        assert sum(i.size for i in server.replies(one.mailbox_secret)) < MAX_REPLIES_BYTES
    with pytest.raises(WitnessError, match="more than replies take"):
        fetch_replies(server, BOTH)  # type: ignore[arg-type]
    assert server.downloaded == []
