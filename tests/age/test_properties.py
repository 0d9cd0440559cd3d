"""Property tests: round trips at chunk boundaries, and every corruption is caught.

Identities are generated once per module (ML-KEM key generation is the slow part);
example counts are bounded to keep the file well under a few seconds.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault import age

CHUNK = 64 * 1024
BOUNDARY_SIZES = [
    0,
    1,
    15,
    16,
    17,
    CHUNK - 1,
    CHUNK,
    CHUNK + 1,
    2 * CHUNK - 1,
    2 * CHUNK,
    2 * CHUNK + 1,
    3 * CHUNK,
]

PQ = age.MLKEM768X25519Identity.generate()
CLASSICAL = age.X25519Identity.generate()
IDENTITIES = {"pq": PQ, "x25519": CLASSICAL}


def _seal_stream(
    data: bytes, identity: age.MLKEM768X25519Identity | age.X25519Identity, armor: bool
) -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(data), out, [identity.recipient()], armor=armor)
    return out.getvalue()


def _open_stream(
    sealed: bytes, identities: list[age.Identity], armored: bool | None = None
) -> bytes:
    out = io.BytesIO()
    age.decrypt(io.BytesIO(sealed), out, identities, armored=armored)
    return out.getvalue()


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
@pytest.mark.parametrize("kind", sorted(IDENTITIES))
@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_round_trip_at_chunk_boundaries(size: int, kind: str, armor: bool) -> None:
    identity = IDENTITIES[kind]
    data = os.urandom(size)
    streamed = _seal_stream(data, identity, armor)
    in_memory = age.encrypt_bytes(data, [identity.recipient()], armor=armor)
    assert len(streamed) == len(in_memory)
    for sealed in (streamed, in_memory):
        assert _open_stream(sealed, [identity]) == data
        assert age.decrypt_bytes(sealed, [identity]) == data
        assert _open_stream(sealed, [identity], armored=armor) == data
    chunks = max(1, -(-size // CHUNK))
    if not armor:
        header = age.inspect_header(io.BytesIO(streamed))
        assert len(streamed) == header.length + 16 + size + 16 * chunks


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=3 * CHUNK + 10),
    kind=st.sampled_from(sorted(IDENTITIES)),
    armor=st.booleans(),
)
def test_round_trip_any_plaintext(data: bytes, kind: str, armor: bool) -> None:
    identity = IDENTITIES[kind]
    sealed = age.encrypt_bytes(data, [identity.recipient()], armor=armor)
    assert age.decrypt_bytes(sealed, [identity]) == data
    assert _open_stream(sealed, [identity]) == data


def _expected_failures(sealed: bytes, position: int) -> tuple[type[age.AgeError], ...]:
    """Which error classes a flip at ``position`` of a binary file may produce."""
    header = age.inspect_header(io.BytesIO(sealed))
    version_end = sealed.index(b"\n") + 1
    mac_line_start = header.length - len(b"--- ") - 43 - 1
    if position < version_end:
        return (age.HeaderError,)
    if position < mac_line_start:
        # A stanza: its syntax breaks (header), it stops being recognised or stops
        # decrypting (no match), or it still decrypts and the MAC catches it.
        return (age.HeaderError, age.NoMatchError, age.HMACError)
    if position < header.length:
        return (age.HeaderError, age.HMACError)
    return (age.PayloadError,)


SEALED = {
    kind: age.encrypt_bytes(os.urandom(CHUNK + 100), [identity.recipient()])
    for kind, identity in IDENTITIES.items()
}


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(sorted(IDENTITIES)),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    header_only=st.booleans(),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_flipped_byte_is_detected(
    kind: str, where: float, header_only: bool, mask: int
) -> None:
    sealed = SEALED[kind]
    header_length = age.inspect_header(io.BytesIO(sealed)).length
    span = header_length + 16 if header_only else len(sealed)
    position = int(where * span)
    corrupted = bytearray(sealed)
    corrupted[position] ^= mask
    expected = _expected_failures(sealed, position)
    identity = IDENTITIES[kind]
    with pytest.raises(expected):
        age.decrypt_bytes(bytes(corrupted), [identity], armored=False)
    out = io.BytesIO()
    with pytest.raises(expected):
        age.decrypt(io.BytesIO(bytes(corrupted)), out, [identity], armored=False)
    if position >= header_length + 16 + CHUNK + 16:
        # Only the second chunk is damaged: the first was authenticated and released.
        assert out.getvalue() == age.decrypt_bytes(sealed, [identity])[:CHUNK]
    else:
        assert out.getvalue() == b""


@settings(max_examples=60, deadline=None)
@given(
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    replacement=st.sampled_from(b"A/+=- \r\n\t-x\x00\xff"),
)
def test_any_changed_armor_byte_is_detected(where: float, replacement: int) -> None:
    sealed = age.encrypt_bytes(b"testimony " * 50, [CLASSICAL.recipient()], armor=True)
    position = int(where * len(sealed))
    if sealed[position] == replacement:
        return
    corrupted = bytearray(sealed)
    corrupted[position] = replacement
    try:
        plaintext = age.decrypt_bytes(bytes(corrupted), [CLASSICAL], armored=True)
    except age.AgeError:
        return
    # The only harmless changes are whitespace swaps the spec allows around the block
    # and LF -> CRLF-like endings; the content must then be intact.
    assert plaintext == b"testimony " * 50
    assert corrupted[position] in b" \t\r\n" or sealed[position] in b" \t\r\n"


@pytest.mark.parametrize("kind", sorted(IDENTITIES))
def test_truncation_at_every_chunk_boundary_is_detected(kind: str) -> None:
    identity = IDENTITIES[kind]
    sealed = age.encrypt_bytes(os.urandom(2 * CHUNK), [identity.recipient()])
    start = age.inspect_header(io.BytesIO(sealed)).length + 16
    for cut in (start, start + CHUNK + 16, len(sealed) - 1, len(sealed) - 16):
        with pytest.raises(age.PayloadError):
            age.decrypt_bytes(sealed[:cut], [identity])
        with pytest.raises(age.PayloadError):
            _open_stream(sealed[:cut], [identity])
    with pytest.raises(age.PayloadError):
        _open_stream(sealed + b"\x00", [identity])
