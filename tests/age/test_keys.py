"""Parsing key strings and age key files (-R / -i formats)."""

from __future__ import annotations

import pytest

from vault import age

PQ = age.MLKEM768X25519Identity.generate()
X = age.X25519Identity.generate()


def test_parse_recipient_dispatch() -> None:
    assert age.parse_recipient(str(PQ.recipient())) == PQ.recipient()
    assert age.parse_recipient(str(X.recipient())) == X.recipient()
    with pytest.raises(age.KeyFormatError, match="unknown recipient type"):
        age.parse_recipient("ssh-ed25519 AAAA")
    with pytest.raises(ValueError):  # KeyFormatError is a ValueError
        age.parse_recipient(str(X.recipient()).upper())


def test_parse_identity_dispatch() -> None:
    parsed = age.parse_identity(str(PQ))
    assert isinstance(parsed, age.MLKEM768X25519Identity) and parsed.seed == PQ.seed
    assert str(age.parse_identity(str(X))) == str(X)
    with pytest.raises(age.KeyFormatError, match="unknown identity type"):
        age.parse_identity("AGE-PLUGIN-YUBIKEY-1QQQQ")


def test_recipients_file() -> None:
    text = f"# team\n\n{PQ.recipient()}\n  {X.recipient()}  \r\n# end\n"
    assert age.parse_recipients_file(text) == [PQ.recipient(), X.recipient()]


def test_recipients_file_errors() -> None:
    with pytest.raises(age.KeyFormatError, match="no recipients"):
        age.parse_recipients_file("# nothing\n\n")
    with pytest.raises(age.KeyFormatError, match="line 3"):
        age.parse_recipients_file(f"# a\n{X.recipient()}\nage1bogus\n")


def test_identities_file_in_age_keygen_format() -> None:
    text = (
        f"# created: 2026-01-01T00:00:00Z\n# public key: {PQ.recipient()}\n{PQ}\n\n# second\n{X}\n"
    )
    identities = age.parse_identities_file(text)
    assert [str(i) for i in identities] == [str(PQ), str(X)]


def test_identities_file_errors_name_the_line_not_the_key() -> None:
    with pytest.raises(age.KeyFormatError, match="no identities"):
        age.parse_identities_file("")
    secret = str(X)
    broken = secret[:-3] + "QQQ"
    with pytest.raises(age.KeyFormatError, match="line 2") as info:
        age.parse_identities_file(f"# x\n{broken}\n")
    assert secret[15:] not in str(info.value) and broken[15:] not in str(info.value)


def test_is_post_quantum() -> None:
    assert age.is_post_quantum(PQ.recipient())
    assert not age.is_post_quantum(X.recipient())
    assert not age.is_post_quantum(age.ScryptRecipient(b"x", 2))

    class Plugin:
        def wrap(self, file_key: bytes) -> list[age.Stanza]:
            return []

    assert not age.is_post_quantum(Plugin())
