"""Whole-file behaviour: recipient rules, identity matching, input kinds, error classes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest

from vault import age
from vault.age import format as fmt
from vault.age.format import Stanza, b64encode

PQ = age.MLKEM768X25519Identity.generate()
PQ2 = age.MLKEM768X25519Identity.generate()
X = age.X25519Identity.generate()
X2 = age.X25519Identity.generate()


class FixedKeyIdentity:
    """A third-party identity that always 'recovers' a fixed key."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        self.calls = 0

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        self.calls += 1
        return self.key


class NonSeekable(io.RawIOBase):
    """A pipe-like input: no seek, no peek."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview | bytearray) -> int:  # type: ignore[override]
        return self._src.readinto(buf)

    def readline(self, size: int | None = -1) -> bytes:
        return self._src.readline(size)


class ReadOnly:
    """An input with only read() and readline(), returning short reads."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._src.read(size if size < 0 else min(size, 1000))

    def readline(self, size: int = -1) -> bytes:
        return self._src.readline(size)


def test_encrypt_refuses_empty_and_mixed_recipients() -> None:
    with pytest.raises(age.RecipientError, match="no recipients"):
        age.encrypt_bytes(b"x", [])
    with pytest.raises(age.RecipientError, match="mix post-quantum and classical"):
        age.encrypt_bytes(b"x", [PQ.recipient(), X.recipient()])
    with pytest.raises(ValueError):
        age.encrypt(io.BytesIO(b"x"), io.BytesIO(), [X.recipient(), PQ.recipient()])
    with pytest.raises(age.RecipientError, match="only recipient"):
        age.encrypt_bytes(b"x", [age.ScryptRecipient(b"p", 2), X.recipient()])


@pytest.mark.parametrize("pair", [(PQ, PQ2), (X, X2)], ids=["pq", "x25519"])
def test_several_recipients_each_can_decrypt(
    pair: tuple[age.MLKEM768X25519Identity | age.X25519Identity, ...],
) -> None:
    sealed = age.encrypt_bytes(b"testimony", [i.recipient() for i in pair])
    assert len(age.inspect_header(io.BytesIO(sealed)).stanzas) == 2
    for identity in pair:
        assert age.decrypt_bytes(sealed, [identity]) == b"testimony"


def test_identities_are_tried_in_turn() -> None:
    sealed = age.encrypt_bytes(b"data", [PQ.recipient()])
    assert age.decrypt_bytes(sealed, [X, PQ2, PQ]) == b"data"
    with pytest.raises(age.NoMatchError, match="no identity matched"):
        age.decrypt_bytes(sealed, [X, PQ2])
    with pytest.raises(age.NoMatchError, match="no identity given"):
        age.decrypt_bytes(sealed, [])


def test_third_party_identity_protocol() -> None:
    sealed = age.encrypt_bytes(b"data", [X.recipient()])
    declines = FixedKeyIdentity(None)
    assert age.decrypt_bytes(sealed, [declines, X]) == b"data"
    assert declines.calls == 1
    with pytest.raises(age.HeaderError, match="wrong length"):
        age.decrypt_bytes(sealed, [FixedKeyIdentity(bytes(17))])
    # A wrong 16-byte key is caught by the header MAC.
    with pytest.raises(age.HMACError):
        age.decrypt_bytes(sealed, [FixedKeyIdentity(bytes(16))])
    assert isinstance(X, age.Identity) and isinstance(X.recipient(), age.Recipient)


def _header_with(stanzas: list[Stanza], file_key: bytes) -> bytes:
    return fmt.encode_header(stanzas, file_key) + bytes(16) + bytes(16)


def test_malformed_native_stanza_fails_even_if_another_identity_matches() -> None:
    file_key = bytes(range(16))
    bad = Stanza("X25519", (b64encode(bytes(31)),), bytes(32))
    data = _header_with([*PQ.recipient().wrap(file_key), bad], file_key)
    matching = FixedKeyIdentity(file_key)
    with pytest.raises(age.HeaderError, match="X25519"):
        age.decrypt_bytes(data, [PQ, matching])
    assert matching.calls == 0


def test_scrypt_stanza_must_be_alone_whatever_the_identity() -> None:
    file_key = bytes(range(16))
    stanzas = [*age.ScryptRecipient(b"p", 2).wrap(file_key), *X.recipient().wrap(file_key)]
    with pytest.raises(age.HeaderError, match="only stanza"):
        age.decrypt_bytes(_header_with(stanzas, file_key), [X])


def test_unknown_stanzas_are_ignored() -> None:
    file_key = bytes(range(16))
    stanzas = [Stanza("example.com/grease", ("a",), b"junk"), *X.recipient().wrap(file_key)]
    out = io.BytesIO()
    header = fmt.encode_header(stanzas, file_key)
    payload = io.BytesIO()
    from vault.age.stream import encrypt_payload

    encrypt_payload(file_key, bytes(16), io.BytesIO(b"hello"), payload)
    age.decrypt(io.BytesIO(header + payload.getvalue()), out, [X])
    assert out.getvalue() == b"hello"


@pytest.mark.parametrize("armor", [False, True])
@pytest.mark.parametrize("source", [NonSeekable, ReadOnly, io.BytesIO])
def test_input_kinds(armor: bool, source: type) -> None:
    data = bytes(range(256)) * 600
    sealed = age.encrypt_bytes(data, [X.recipient()], armor=armor)
    out = io.BytesIO()
    age.decrypt(source(sealed), out, [X])
    assert out.getvalue() == data
    sealed_stream = io.BytesIO()
    age.encrypt(source(data), sealed_stream, [X.recipient()], armor=armor)
    assert age.decrypt_bytes(sealed_stream.getvalue(), [X]) == data


def test_buffered_input_is_peeked() -> None:
    sealed = age.encrypt_bytes(b"abc", [X.recipient()], armor=True)
    out = io.BytesIO()
    age.decrypt(io.BufferedReader(io.BytesIO(sealed)), out, [X])  # type: ignore[arg-type]
    assert out.getvalue() == b"abc"


@pytest.mark.parametrize("armored", [True, False])
def test_explicit_armor_setting_is_enforced(armored: bool) -> None:
    sealed = age.encrypt_bytes(b"abc", [X.recipient()], armor=not armored)
    expected = age.ArmorError if armored else age.HeaderError
    with pytest.raises(expected):
        age.decrypt_bytes(sealed, [X], armored=armored)
    with pytest.raises(expected):
        age.decrypt(io.BytesIO(sealed), io.BytesIO(), [X], armored=armored)


def test_missing_nonce_is_a_header_error() -> None:
    sealed = age.encrypt_bytes(b"abc", [X.recipient()])
    length = age.inspect_header(io.BytesIO(sealed)).length
    for cut in (length, length + 15):
        with pytest.raises(age.HeaderError, match="nonce"):
            age.decrypt_bytes(sealed[:cut], [X])
        with pytest.raises(age.HeaderError, match="nonce"):
            age.decrypt(io.BytesIO(sealed[:cut]), io.BytesIO(), [X])


def test_empty_input() -> None:
    with pytest.raises(age.HeaderError, match="empty"):
        age.decrypt_bytes(b"", [X])
    with pytest.raises(age.HeaderError, match="empty"):
        age.decrypt(NonSeekable(b""), io.BytesIO(), [X])  # type: ignore[arg-type]


def test_fresh_file_key_and_nonce_each_time() -> None:
    a = age.encrypt_bytes(b"same", [X.recipient()])
    b = age.encrypt_bytes(b"same", [X.recipient()])
    assert a != b
    la = age.inspect_header(io.BytesIO(a)).length
    lb = age.inspect_header(io.BytesIO(b)).length
    assert a[la : la + 16] != b[lb : lb + 16]
