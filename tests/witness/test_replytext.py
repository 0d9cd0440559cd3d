"""The reply plaintext (vault/replytext.py): padded to its PADMÉ length, read back exactly,
whatever the message's bytes; v1 replies (unpadded) still read."""

from __future__ import annotations

import pytest

from vault.padding import padme_length
from vault.replytext import REPLY_HEADER, ReplyFormatError, pad_reply, read_reply


@pytest.mark.parametrize("message", ["", "x", "Thank you.\n", "ends in zeros\x00\x00",
                                     "ends in the marker \x80", "é" * 500, "ئامانەت " * 3000])
def test_padded_to_padme_and_read_back_exactly(message: str) -> None:
    padded = pad_reply(message)
    body = len(REPLY_HEADER) + len(message.encode("utf-8")) + 1
    assert padded.startswith(REPLY_HEADER) and len(padded) == padme_length(body)
    assert read_reply(padded) == message


def test_lengths_in_one_bucket_pad_alike() -> None:
    assert len(pad_reply("a" * 113)) == len(pad_reply("b" * 123)) == 144


def test_an_unpadded_v1_reply_reads_as_it_is() -> None:
    assert read_reply(b"Thank you.\x00") == "Thank you.\x00"


def test_broken_padding_is_refused() -> None:
    with pytest.raises(ReplyFormatError, match="no end marker"):
        read_reply(REPLY_HEADER + b"text" + bytes(11))
