"""`submit` seals as it sends: the sealed file is never held whole, and a drop still resumes.

In process, a `SealedTestimony` is sent to a fake resumable-upload server that loses data
in every way a broken connection can (mid-request, after saving part of a request, before
answering), and what it stores must be the one sealed file, hashed right. A file sealed as
it is is read from disk when sealed, and refused if it changed since it was measured. The
memory of `submit`, `seal` and `open` with a large recording is measured end to end in
test_memory.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.workflows.conftest import (
    World,
    amanat,
    receipt_entry,
)
from vault import age
from vault.bundle import open_bundle
from vault.client import (
    ClientError,
    GaveUpError,
    RetryPolicy,
    SubmissionReceipt,
    TransportError,
    VaultClient,
)
from vault.scrub import clean
from vault.testimony import Manifest
from vault.witness import (
    ChosenFile,
    PreparedAttachment,
    SealedTestimony,
    WitnessError,
    build_manifest,
    deliver,
    prepare_attachments,
    seal_testimony,
)

MIB = 1024 * 1024
IDENTITY = age.X25519Identity.generate()


class _Roster:
    """Stands in for a verified Roster: the readers' age recipients."""

    def recipients(self) -> list[age.Recipient]:
        return [IDENTITY.recipient()]


def _testimony(size: int = 300_000) -> tuple[Manifest, SealedTestimony, bytes]:
    data = os.urandom(size)
    attachments = prepare_attachments([ChosenFile("clip.bin", data, keep_metadata=True)])
    manifest = build_manifest("What I saw.", attachments=attachments)
    sealed = SealedTestimony(manifest, attachments, _Roster())  # type: ignore[arg-type]
    return manifest, sealed, data


def _opened(sealed_bytes: bytes) -> tuple[Manifest, bytes]:
    bundle = open_bundle(io.BytesIO(age.decrypt_bytes(sealed_bytes, [IDENTITY])))
    content = b"".join(b"".join(chunks) for _, chunks in bundle.attachments())
    return bundle.manifest, content


def test_pieces_from_any_offset_are_the_same_file() -> None:
    manifest, sealed, data = _testimony()
    whole = b"".join(sealed.pieces())
    assert len(whole) == sealed.size
    assert _opened(whole) == (manifest, data)
    for start in (1, 200, 70_000, sealed.size // 2, sealed.size - 1, sealed.size):
        assert b"".join(sealed.pieces(start)) == whole[start:]
    assert sealed.digest() == hashlib.sha256(whole).hexdigest()
    with pytest.raises(ValueError, match="outside"):
        sealed.pieces(sealed.size + 1)


def test_the_digest_covers_bytes_never_asked_for() -> None:
    _, sealed, _ = _testimony()
    tail = b"".join(sealed.pieces(100_000))  # the first 100,000 bytes were never handed out
    digest = sealed.digest()
    whole = b"".join(sealed.pieces())
    assert whole.endswith(tail)
    assert digest == sealed.digest() == hashlib.sha256(whole).hexdigest()
    _, fresh, _ = _testimony()
    digest = fresh.digest()  # nothing generated yet
    assert digest == hashlib.sha256(b"".join(fresh.pieces())).hexdigest() == fresh.digest()


def test_attachments_must_match_the_manifest() -> None:
    attachments = prepare_attachments([ChosenFile("a.bin", b"abc", keep_metadata=True)])
    manifest = build_manifest("x")  # lists no attachment
    with pytest.raises(ValueError, match="do not match the manifest"):
        SealedTestimony(manifest, attachments, _Roster())  # type: ignore[arg-type]


def test_prepare_attachments_releases_each_original_before_the_next() -> None:
    alive: list[bool] = []
    previous: list[weakref.ref[ChosenFile]] = []

    def files() -> Iterator[ChosenFile]:
        for name in ("one.txt", "two.txt", "three.txt"):
            alive.extend(ref() is not None for ref in previous)
            chosen = ChosenFile(name, f"notes {name}\n".encode())
            previous.append(weakref.ref(chosen))
            yield chosen
            del chosen

    prepared = prepare_attachments(files())
    assert [p.attachment.name for p in prepared] == [
        "attachment-1.txt", "attachment-2.txt", "attachment-3.txt"]
    assert alive == [False, False, False]


def _kept_file(tmp_path: Path, size: int = 300_000) -> tuple[Path, bytes, PreparedAttachment]:
    data = os.urandom(size)
    path = tmp_path / "clip.bin"
    path.write_bytes(data)
    (prepared,) = prepare_attachments([ChosenFile("clip.bin", keep_metadata=True, path=path)])
    return path, data, prepared


def test_a_file_sealed_as_it_is_is_read_from_disk_when_sealed(tmp_path: Path) -> None:
    path, data, prepared = _kept_file(tmp_path)
    assert prepared.data == b"" and prepared.path == path  # measured, not held
    assert prepared.attachment.size == len(data)
    assert prepared.attachment.sha256_after_cleaning == hashlib.sha256(data).hexdigest()
    manifest = build_manifest("What I saw.", attachments=[prepared])
    sealed = SealedTestimony(manifest, [prepared], _Roster())  # type: ignore[arg-type]
    assert _opened(b"".join(sealed.pieces())) == (manifest, data)
    out = io.BytesIO()
    seal_testimony(manifest, [prepared], _Roster(), out)  # type: ignore[arg-type]
    assert _opened(out.getvalue()) == (manifest, data)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p: p.write_bytes(b"x" + p.read_bytes()[1:]), "does not match sha256"),
    (lambda p: p.write_bytes(p.read_bytes()[:-10]), "ended 10 bytes before"),
    (lambda p: p.write_bytes(p.read_bytes() + b"x"), "longer than the size"),
    (lambda p: p.unlink(), "cannot be read any more"),
])
def test_a_file_that_changed_since_it_was_measured_is_not_sealed(
        tmp_path: Path, change: Any, reason: str) -> None:
    path, _, prepared = _kept_file(tmp_path)
    manifest = build_manifest("What I saw.", attachments=[prepared])
    sealed = SealedTestimony(manifest, [prepared], _Roster())  # type: ignore[arg-type]
    change(path)
    with pytest.raises(WitnessError, match=f"^clip.bin .*{reason}.*attach the file again"):
        seal_testimony(manifest, [prepared], _Roster(), io.BytesIO())  # type: ignore[arg-type]
    with pytest.raises(WitnessError, match=f"^clip.bin .*{reason}"):
        b"".join(sealed.pieces())


def _photo(seed: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (64, 64), random.Random(seed).randbytes(64 * 64 * 3)).save(
        out, "JPEG", comment=b"taken by a camera with a serial number")
    return out.getvalue()


def test_cleaned_files_beyond_the_memory_set_aside_are_cleaned_again_when_sealed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = [_photo(n) for n in range(3)]
    paths = []
    for n, photo in enumerate(photos):
        paths.append(tmp_path / f"IMG_{n}.jpg")
        paths[-1].write_bytes(photo)
    cleaned = [clean(photo, "p.jpg").data for photo in photos]
    monkeypatch.setattr("vault.witness.CLEANED_IN_MEMORY", len(cleaned[0]) + 10)
    prepared = prepare_attachments(ChosenFile(p.name, path=p) for p in paths)
    assert [p.data for p in prepared] == [cleaned[0], b"", b""]
    assert [p.clean_again for p in prepared] == [False, True, True]
    manifest = build_manifest("Photos.", attachments=prepared)
    out = io.BytesIO()
    seal_testimony(manifest, prepared, _Roster(), out)  # type: ignore[arg-type]
    bundle = open_bundle(io.BytesIO(age.decrypt_bytes(out.getvalue(), [IDENTITY])))
    assert [b"".join(chunks) for _, chunks in bundle.attachments()] == cleaned
    paths[2].write_bytes(_photo(99))  # another photo under the same name
    with pytest.raises(WitnessError, match=r"^IMG_2\.jpg changed while it was being sealed"):
        seal_testimony(manifest, prepared, _Roster(), io.BytesIO())  # type: ignore[arg-type]


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    with pytest.raises(WitnessError, match=r"^cannot read .*absent\.bin: No such file"):
        prepare_attachments([ChosenFile("absent.bin", path=tmp_path / "absent.bin")])


class FlakyServer:
    """The client side of the resumable protocol against an in-memory store that breaks.

    ``faults`` lists, per append call, what goes wrong: ``None`` (nothing), ``("drop",
    n)`` (the connection breaks after the server saved n bytes of the request), ``("lost",
    n)`` (the request arrives whole but only n bytes are saved and no answer comes back),
    or ``("refuse", status)`` (a ClientError).
    """

    # The real resume loop, running over this fake's protocol calls.
    send_resumable = VaultClient.send_resumable
    _held = VaultClient._held

    def __init__(self, faults: list[tuple[str, int] | None] | None = None,
                 tamper: bool = False, retry_for: float = 60.0) -> None:
        self.retry = RetryPolicy(retry_for, sleep=lambda _: None)
        self.stored = bytearray()
        self.faults = list(faults or [])
        self.tamper = tamper
        self.uploads = 0
        self.appends = 0

    def create_upload(self) -> str:
        self.uploads += 1
        self.stored.clear()
        return f"u{self.uploads}"

    def upload_offset(self, upload_id: str, *, counts_as_success: bool = True) -> int:
        return len(self.stored)

    def append(self, upload_id: str, offset: int, data: Iterator[bytes],
               length: int | None = None) -> int:
        assert offset == len(self.stored), "the client appended at the wrong offset"
        self.appends += 1
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None and fault[0] == "refuse":
            raise ClientError(fault[1], "refused")
        body = b""
        for piece in data:
            body += piece
            if fault is not None and fault[0] == "drop" and len(body) >= fault[1]:
                self.stored += body[: fault[1]]
                raise TransportError("connection broke")
        assert len(body) == length
        if fault is not None and fault[0] == "lost":
            self.stored += body[: fault[1]]
            raise TransportError("no answer")
        self.stored += body
        return len(self.stored)

    def finish_upload(self, upload_id: str) -> SubmissionReceipt:
        data = bytes(self.stored) + (b"x" if self.tamper else b"")
        return SubmissionReceipt(id="s1", sha256=hashlib.sha256(data).hexdigest(),
                                 size=len(data), received="now", log_index=0, entry="",
                                 receipt="")


@pytest.mark.parametrize("faults", [
    [],
    [("drop", 0)],
    [None, ("drop", 12_345)],
    [("lost", 65_536), ("drop", 1)],
    [("lost", 100_000)],  # all sent, part saved: the next request starts before the cursor
    [None, ("refuse", 409), ("drop", 99_999)],
])
def test_deliver_resumes_a_regenerated_stream(faults: list[tuple[str, int] | None],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vault.client.time.sleep", lambda _: None)
    manifest, sealed, data = _testimony()
    server = FlakyServer(faults)
    seen: list[int] = []
    receipt = deliver(server, sealed, chunk_bytes=100_000,  # type: ignore[arg-type]
                      progress=seen.append)
    stored = bytes(server.stored)
    assert len(stored) == sealed.size
    assert receipt.sha256 == hashlib.sha256(stored).hexdigest() == sealed.digest()
    assert _opened(stored) == (manifest, data)
    assert seen[-1] == sealed.size
    assert server.uploads == 1


def test_deliver_refuses_a_server_that_stored_other_bytes() -> None:
    _, sealed, _ = _testimony()
    with pytest.raises(WitnessError, match="different bytes"):
        deliver(FlakyServer(tamper=True), sealed)  # type: ignore[arg-type]


def test_deliver_gives_up() -> None:
    _, sealed, _ = _testimony()
    with pytest.raises(ClientError):
        deliver(FlakyServer([("refuse", 413)]), sealed)  # type: ignore[arg-type]
    with pytest.raises(GaveUpError):
        deliver(FlakyServer([("drop", 10)] * 40, retry_for=0),  # type: ignore[arg-type]
                sealed, chunk_bytes=50_000)


def test_upload_of_a_sealed_file_is_unchanged(world: World, tmp_path: Path) -> None:
    """`upload` still sends a file as it is (read from disk in pieces, never whole)."""
    sealed = tmp_path / "t.age"
    amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org", world.org_vkey,
            "--statement", "-", "--no-reply", "-o", str(sealed)], cwd=tmp_path,
           stdin="Sealed earlier.\n")
    uploaded = amanat(["upload", "--server", world.url, "--org", world.org_vkey, "--receipt",
                       "-", str(sealed)], cwd=tmp_path)
    assert f"sha256 {hashlib.sha256(sealed.read_bytes()).hexdigest()}" in \
        receipt_entry(uploaded.stdout)
