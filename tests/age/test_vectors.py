"""Conformance: every C2SP CCTV age vector, with the exact error class it expects.

Each vector is decrypted three ways (streaming with the armor setting the vector names,
streaming with armor auto-detection, and in memory); success must reproduce the payload
hash. For payload failures, what was written before the error must be exactly some
leading run of chunks that an independent STREAM decryption (from the vector's file key)
authenticates: no unauthenticated plaintext is ever released.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from tests.support import vectors_dir
from vault import age
from vault.age.stream import payload_key

pytestmark = pytest.mark.vectors

EXPECTED_COUNT = 143
EXPECT_CLASSES: dict[str, type[age.AgeError] | None] = {
    "success": None,
    "no match": age.NoMatchError,
    "HMAC failure": age.HMACError,
    "header failure": age.HeaderError,
    "payload failure": age.PayloadError,
    "armor failure": age.ArmorError,
}
KNOWN_KEYS = {
    "expect",
    "payload",
    "file key",
    "identity",
    "passphrase",
    "armored",
    "compressed",
    "comment",
}


@dataclass
class Vector:
    name: str
    expect: str
    body: bytes
    identities: list[age.Identity] = field(default_factory=list)
    identity_lines: list[str] = field(default_factory=list)  # as written in the vector
    passphrases: list[str] = field(default_factory=list)
    payload_sha256: str | None = None
    file_key: bytes | None = None
    armored: bool = False
    unknown_keys: set[str] = field(default_factory=set)


def load_vector(path: Path) -> Vector:
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the vector header"
    vector = Vector(path.name, "", body)
    compressed = False
    for line in head.decode("utf-8").split("\n"):
        key, _, value = line.partition(": ")
        if key == "expect":
            vector.expect = value
        elif key == "payload":
            vector.payload_sha256 = value
        elif key == "file key":
            vector.file_key = bytes.fromhex(value)
        elif key == "identity":
            vector.identities.append(age.parse_identity(value))
            vector.identity_lines.append(value)
        elif key == "passphrase":
            vector.identities.append(age.ScryptIdentity(value.encode()))
            vector.passphrases.append(value)
        elif key == "armored":
            vector.armored = value == "yes"
        elif key == "compressed":
            assert value == "zlib", f"{path.name}: unknown compression {value}"
            compressed = True
        elif key != "comment":
            vector.unknown_keys.add(key)
    if compressed:
        vector.body = zlib.decompress(vector.body)
    return vector


def vector_paths() -> list[Path]:
    directory = vectors_dir("age")
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name != "SOURCE")


def vector_params() -> list[Path]:
    try:
        return vector_paths()
    except pytest.skip.Exception:
        return []


def test_vector_set_is_complete() -> None:
    vectors = [load_vector(p) for p in vector_paths()]
    assert len(vectors) == EXPECTED_COUNT
    assert not [v.name for v in vectors if v.unknown_keys]
    assert {v.expect for v in vectors} == set(EXPECT_CLASSES)


def _decrypt_stream(vector: Vector, armored: bool | None) -> tuple[bytes, age.AgeError | None]:
    out = io.BytesIO()
    try:
        age.decrypt(io.BytesIO(vector.body), out, vector.identities, armored=armored)
    except age.AgeError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def _check_outcome(vector: Vector, plaintext: bytes, error: age.AgeError | None) -> None:
    expected = EXPECT_CLASSES[vector.expect]
    if expected is None:
        assert error is None, f"{vector.name}: {type(error).__name__}: {error}"
        assert hashlib.sha256(plaintext).hexdigest() == vector.payload_sha256
    else:
        assert type(error) is expected, f"{vector.name}: got {type(error).__name__}: {error}"


def _reference_chunks(vector: Vector) -> list[bytes]:
    """Chunks an independent STREAM decryption authenticates, in order, from the start."""
    assert vector.file_key is not None
    data = age.armor.unarmor(vector.body) if vector.armored else vector.body
    header = age.inspect_header(io.BytesIO(data))
    payload = data[header.length :]
    aead = ChaCha20Poly1305(payload_key(vector.file_key, payload[:16]))
    chunks = []
    body = payload[16:]
    for index, start in enumerate(range(0, len(body), 65536 + 16)):
        chunk = body[start : start + 65536 + 16]
        for flag in (0, 1):
            try:
                chunks.append(aead.decrypt(((index << 8) | flag).to_bytes(12, "big"), chunk, None))
                break
            except InvalidTag:
                continue
        else:
            break
        if flag:
            break
    return chunks


@pytest.mark.parametrize("path", vector_params(), ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    vector = load_vector(path)
    if vector.unknown_keys:
        pytest.skip(f"unknown keys {sorted(vector.unknown_keys)}")

    plaintext, error = _decrypt_stream(vector, vector.armored)
    _check_outcome(vector, plaintext, error)

    if vector.armored or not vector.body.startswith(b"-"):
        # Auto-detection must agree (a binary file can never start with "-").
        again, error_auto = _decrypt_stream(vector, None)
        if vector.name != "armor_garbage_leading":
            _check_outcome(vector, again, error_auto)

    try:
        in_memory = age.decrypt_bytes(vector.body, vector.identities, armored=vector.armored)
        _check_outcome(vector, in_memory, None)
    except age.AgeError as exc:
        _check_outcome(vector, b"", exc)

    if vector.expect == "payload failure":
        authenticated = _reference_chunks(vector)
        prefixes = [b"".join(authenticated[:k]) for k in range(len(authenticated) + 1)]
        assert plaintext in prefixes, f"{vector.name}: released unauthenticated plaintext"
    elif vector.expect != "success":
        assert plaintext == b""


def test_leading_garbage_without_armor_flag_is_a_header_failure() -> None:
    # With armored=None a file starting with garbage is not recognised as armored at all.
    vector = load_vector(vectors_dir("age") / "armor_garbage_leading")
    _, error = _decrypt_stream(vector, None)
    assert isinstance(error, age.HeaderError)


def test_authenticated_chunks_are_released_before_a_payload_failure() -> None:
    # Guards the prefix check above against passing vacuously.
    vector = load_vector(vectors_dir("age") / "stream_bad_tag_second_chunk")
    plaintext, error = _decrypt_stream(vector, False)
    assert isinstance(error, age.PayloadError)
    assert len(plaintext) == 65536
    assert plaintext == _reference_chunks(vector)[0]
