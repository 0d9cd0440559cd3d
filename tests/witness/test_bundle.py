"""The plaintext bundle (vault.bundle): round trip, padding, and a hostile-bundle suite.

Every hostile bundle must be refused with a precise BundleError, and extraction must leave the
file system exactly as it was: nothing outside the destination, and no partial destination.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.witness.conftest import make_attachment
from vault import bundle as bundle_module
from vault.bundle import (
    BundleError,
    bundle_length,
    bundle_stream,
    extract_bundle,
    iter_bundle,
    open_bundle,
)
from vault.padding import padme_length
from vault.testimony import Attachment, Manifest

PHOTO = b"\xff\xd8\xff" + bytes(range(256)) * 9  # 2,307 bytes: not a multiple of 512
NOTE = "ئاكام ئېلىپ كېتىلدى\n".encode() * 340  # makes the archive 18,944 bytes: padded


def manifest_for(files: dict[str, bytes]) -> Manifest:
    return Manifest(
        language="ug",
        statement="test",
        publication_consent="none",
        attachments=tuple(make_attachment(name, data) for name, data in files.items()),
    )


FILES = {"photo.jpg": PHOTO, "ئاكام.txt": NOTE}
MANIFEST = manifest_for(FILES)


PADDING = 512


def good_bundle() -> bytes:
    return b"".join(iter_bundle(MANIFEST, FILES))


# --- hand-made tar members -------------------------------------------------------------------


def header(
    name: bytes | str,
    size: int,
    *,
    typeflag: bytes = b"0",
    prefix: bytes = b"",
    linkname: bytes = b"",
    magic: bytes = b"ustar\x0000",
    size_field: bytes | None = None,
    checksum_delta: int = 0,
) -> bytes:
    raw_name = name.encode() if isinstance(name, str) else name
    block = bytearray(512)
    block[0 : len(raw_name)] = raw_name
    block[100:108] = b"0000644\x00"
    block[108:116] = b"0000000\x00"
    block[116:124] = b"0000000\x00"
    block[124:136] = size_field if size_field is not None else b"%011o\x00" % size
    block[136:148] = b"00000000000\x00"
    block[148:156] = b" " * 8
    block[156:157] = typeflag
    block[157 : 157 + len(linkname)] = linkname
    block[257:265] = magic
    block[345 : 345 + len(prefix)] = prefix
    block[148:156] = b"%06o\x00 " % (sum(block) + checksum_delta)
    return bytes(block)


def member(name: bytes | str, content: bytes, **options: Any) -> bytes:
    fill = -len(content) % 512
    return header(name, len(content), **options) + content + bytes(fill)


def manifest_member(manifest: Manifest = MANIFEST) -> bytes:
    return member("manifest.json", manifest.to_json())


def finish(*members: bytes) -> bytes:
    archive = b"".join(members) + bytes(1024)
    return archive + bytes(padme_length(len(archive)) - len(archive))


def photo_member(name: str = "attachments/photo.jpg", content: bytes = PHOTO) -> bytes:
    return member(name, content)


def note_member() -> bytes:
    return member("attachments/ئاكام.txt", NOTE)


# --- file-system snapshots -------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                state[key] = "link:" + os.readlink(path)
            elif path.is_dir():
                state[key] = "dir"
            else:
                state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A parent directory with a victim file and a directory outside the destination."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim").write_bytes(b"do not touch")
    return tmp_path


def refused(sandbox: Path, data: bytes, message: str, **options: Any) -> None:
    before = snapshot(sandbox)
    with pytest.raises(BundleError) as caught:
        extract_bundle(io.BytesIO(data), sandbox / "dest", **options)
    assert message in str(caught.value)
    assert snapshot(sandbox) == before


# --- writing ---------------------------------------------------------------------------------


def test_round_trip(sandbox: Path) -> None:
    data = good_bundle()
    manifest = extract_bundle(io.BytesIO(data), sandbox / "dest")
    assert manifest == MANIFEST
    dest = sandbox / "dest"
    assert (dest / "manifest.json").read_bytes() == MANIFEST.to_json()
    assert (dest / "attachments" / "photo.jpg").read_bytes() == PHOTO
    assert (dest / "attachments" / "ئاكام.txt").read_bytes() == NOTE
    assert sorted(os.listdir(dest)) == ["attachments", "manifest.json"]
    assert (dest / "attachments" / "photo.jpg").stat().st_mode & 0o777 == 0o600
    assert dest.stat().st_mode & 0o777 == 0o700


def test_round_trip_into_existing_empty_directory(sandbox: Path) -> None:
    (sandbox / "dest").mkdir()
    extract_bundle(io.BytesIO(good_bundle()), sandbox / "dest")
    assert (sandbox / "dest" / "attachments" / "photo.jpg").read_bytes() == PHOTO


def test_writer_reads_files_and_bytes_alike() -> None:
    from_files = b"".join(
        iter_bundle(MANIFEST, {name: io.BytesIO(data) for name, data in FILES.items()})
    )
    assert from_files == good_bundle()
    assert bundle_stream(MANIFEST, FILES).read() == good_bundle()


def test_stream_supports_small_reads() -> None:
    stream = bundle_stream(MANIFEST, FILES)
    parts = []
    while chunk := stream.read(1000):
        parts.append(chunk)
    assert b"".join(parts) == good_bundle()


def test_padding_length_is_padme_of_the_archive() -> None:
    data = good_bundle()
    archive = 512 + _blocks(len(MANIFEST.to_json())) + 512 + _blocks(len(PHOTO))
    archive += 512 + _blocks(len(NOTE)) + 1024
    assert len(data) == padme_length(archive) == bundle_length(MANIFEST)
    assert len(data) - archive == PADDING == 512  # this example does get padded
    assert data[archive:] == bytes(len(data) - archive)


def _blocks(size: int) -> int:
    return -(-size // 512) * 512


def test_headers_carry_no_identifying_metadata() -> None:
    with tarfile.open(fileobj=io.BytesIO(good_bundle())) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["manifest.json", "attachments/photo.jpg",
                                         "attachments/ئاكام.txt"]
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
        assert m.isreg() and not m.pax_headers
    assert good_bundle()[257:265] == b"ustar\x0000"


def test_standard_tar_tools_read_it(tmp_path: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(good_bundle())) as archive:
        archive.extractall(tmp_path / "py", filter="data")
    assert (tmp_path / "py" / "attachments" / "photo.jpg").read_bytes() == PHOTO
    tar = shutil.which("tar")
    if tar is None:
        pytest.skip("no tar tool")
    (tmp_path / "b.tar").write_bytes(good_bundle())
    listing = subprocess.run([tar, "-tf", str(tmp_path / "b.tar")], capture_output=True,
                             check=True, text=True)
    assert listing.stdout.splitlines() == ["manifest.json", "attachments/photo.jpg",
                                           "attachments/ئاكام.txt"]


def test_sealed_with_age_and_opened_again(sandbox: Path) -> None:
    from vault import age

    identity = age.MLKEM768X25519Identity.generate()
    sealed = io.BytesIO()
    age.encrypt(bundle_stream(MANIFEST, FILES), sealed, [identity.recipient()])
    assert len(sealed.getvalue()) > bundle_length(MANIFEST)
    opened = io.BytesIO()
    age.decrypt(io.BytesIO(sealed.getvalue()), opened, [identity])
    opened.seek(0)
    assert extract_bundle(opened, sandbox / "dest") == MANIFEST


def test_bundle_lengths_are_whole_blocks() -> None:
    for size in (0, 1, 511, 4096, 70_000, 1_000_000):
        files = {"f": bytes(size)}
        assert bundle_length(manifest_for(files)) % 512 == 0


def test_empty_attachment_and_no_attachments(sandbox: Path) -> None:
    files = {"empty.txt": b""}
    manifest = manifest_for(files)
    data = b"".join(iter_bundle(manifest, files))
    assert extract_bundle(io.BytesIO(data), sandbox / "a") == manifest
    assert (sandbox / "a" / "attachments" / "empty.txt").read_bytes() == b""
    bare = manifest_for({})
    data = b"".join(iter_bundle(bare, {}))
    assert extract_bundle(io.BytesIO(data), sandbox / "b") == bare
    assert os.listdir(sandbox / "b" / "attachments") == []


def test_writer_refuses_contents_that_differ_from_the_manifest() -> None:
    with pytest.raises(BundleError, match=r"missing: \['photo.jpg'\], not in the manifest: "
                                          r"\['other'\]"):
        iter_bundle(MANIFEST, {"ئاكام.txt": NOTE, "other": b""})
    cases: list[tuple[dict[str, Any], str]] = [
        ({**FILES, "photo.jpg": PHOTO[:-1]}, "2306 bytes given, the manifest says 2307"),
        ({**FILES, "photo.jpg": io.BytesIO(PHOTO[:-1])}, "the file ended 1 bytes before"),
        ({**FILES, "photo.jpg": io.BytesIO(PHOTO + b"x")}, "the file is longer than"),
        ({**FILES, "photo.jpg": PHOTO[:-1] + b"x"}, "does not match sha256_after_cleaning"),
        ({**FILES, "photo.jpg": io.BytesIO(PHOTO[:-1] + b"x")},
         "does not match sha256_after_cleaning"),
    ]
    for contents, message in cases:
        with pytest.raises(BundleError, match=message):
            b"".join(iter_bundle(MANIFEST, contents))


def test_header_fields_that_cannot_hold_a_value_are_refused() -> None:
    with pytest.raises(BundleError, match="does not fit a 12-byte USTAR field"):
        bundle_module._ustar_header("", "x", 8**11)
    with pytest.raises(BundleError, match="longer than USTAR allows"):
        bundle_module._ustar_header("", "x" * 101, 0)


# --- reading ---------------------------------------------------------------------------------


class Trickle(io.RawIOBase):
    """A stream that returns at most 7 bytes a read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 7) if size >= 0 else 7)


def test_short_reads_are_handled(sandbox: Path) -> None:
    assert extract_bundle(Trickle(good_bundle()), sandbox / "dest") == MANIFEST


def test_open_bundle_streams_attachments() -> None:
    opened = open_bundle(io.BytesIO(good_bundle()))
    assert opened.manifest == MANIFEST
    assert opened.manifest_json == MANIFEST.to_json()
    seen = {a.name: b"".join(chunks) for a, chunks in opened.attachments()}
    assert seen == FILES
    with pytest.raises(BundleError, match="can be read only once"):
        next(opened.attachments())


def test_attachments_may_be_skipped() -> None:
    opened = open_bundle(io.BytesIO(good_bundle()))
    assert [attachment.name for attachment, _chunks in opened.attachments()] == list(FILES)


def test_unread_content_is_still_checked() -> None:
    tampered = finish(manifest_member(), photo_member(content=PHOTO[:-1] + b"x"), note_member())
    opened = open_bundle(io.BytesIO(tampered))
    with pytest.raises(BundleError, match="SHA-256 does not match the manifest"):
        for _attachment, chunks in opened.attachments():
            next(chunks, None)  # read at most one chunk, let the bundle drain the rest


def test_verify() -> None:
    open_bundle(io.BytesIO(good_bundle())).verify()
    tampered = good_bundle()[:-1] + b"\x01"
    with pytest.raises(BundleError, match="non-zero bytes in the padding"):
        open_bundle(io.BytesIO(tampered)).verify()


def test_directory_member_for_attachments_is_tolerated(sandbox: Path) -> None:
    for name in ("attachments", "attachments/"):
        data = finish(manifest_member(), member(name, b"", typeflag=b"5"), photo_member(),
                      note_member())
        extract_bundle(io.BytesIO(data), sandbox / f"dest{len(name)}")


def test_whole_path_in_name_field_and_nul_typeflag_are_accepted() -> None:
    data = finish(manifest_member(), photo_member(), member("attachments/ئاكام.txt", NOTE,
                                                            typeflag=b"\x00"))
    open_bundle(io.BytesIO(data)).verify()
    prefixed = finish(
        manifest_member(),
        member("photo.jpg", PHOTO, prefix=b"attachments"),
        note_member(),
    )
    open_bundle(io.BytesIO(prefixed)).verify()


def test_lenient_padding_ignores_everything_after_the_end_marker(sandbox: Path) -> None:
    archive = manifest_member() + photo_member() + note_member() + bytes(512)
    trailing = archive + b"junk that is not padding" + header("attachments/evil", 0)
    assert extract_bundle(io.BytesIO(trailing), sandbox / "dest",
                          strict_padding=False) == MANIFEST
    assert sorted(os.listdir(sandbox / "dest" / "attachments")) == ["photo.jpg", "ئاكام.txt"]


# --- hostile bundles -------------------------------------------------------------------------

symlink = header("attachments/photo.jpg", 0, typeflag=b"2", linkname=b"../../outside/victim")


def pax_path_override() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("attachments/photo.jpg")
        info.size = len(PHOTO)
        info.pax_headers = {"path": "../outside/victim"}
        archive.addfile(info, io.BytesIO(PHOTO))
    return out.getvalue()[: -2 * 512 * 5]  # drop tarfile's end marker and record fill


def gnu_longname() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("attachments/" + "a" * 120 + "/../../../outside/victim")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    raw = out.getvalue()
    return raw[: raw.index(bytes(1024))]


HOSTILE: list[tuple[str, Callable[[], bytes], str]] = [
    ("absolute path", lambda: finish(manifest_member(), photo_member("/tmp/evil")),
     "absolute path '/tmp/evil'"),
    ("dot-dot", lambda: finish(manifest_member(), photo_member("attachments/../../outside/x")),
     "'..' in path 'attachments/../../outside/x'"),
    ("dot-dot first", lambda: finish(manifest_member(), photo_member("../outside/victim")),
     "'..' in path '../outside/victim'"),
    ("dot component", lambda: finish(member("./manifest.json", MANIFEST.to_json())),
     "empty or '.' component in path './manifest.json'"),
    ("double slash", lambda: finish(manifest_member(), photo_member("attachments//photo.jpg")),
     "empty or '.' component"),
    ("backslash", lambda: finish(manifest_member(), photo_member("attachments\\..\\evil")),
     "backslash in path"),
    ("control character", lambda: finish(manifest_member(), photo_member("attachments/a\x1b[2J")),
     "control character in path"),
    ("empty path", lambda: finish(manifest_member(), photo_member("")), "empty path"),
    ("symlink then write-through",
     lambda: finish(manifest_member(), symlink, photo_member()),
     "a symbolic link is not accepted"),
    ("hard link", lambda: finish(manifest_member(), header(
        "attachments/photo.jpg", 0, typeflag=b"1", linkname=b"/etc/passwd")),
     "a hard link is not accepted"),
    ("character device", lambda: finish(manifest_member(), header("attachments/tty", 0,
                                                                   typeflag=b"3")),
     "a character device is not accepted"),
    ("block device", lambda: finish(manifest_member(), header("attachments/sda", 0,
                                                               typeflag=b"4")),
     "a block device is not accepted"),
    ("fifo", lambda: finish(manifest_member(), header("attachments/fifo", 0, typeflag=b"6")),
     "a FIFO is not accepted"),
    ("contiguous", lambda: finish(manifest_member(), header("attachments/c", 0, typeflag=b"7")),
     "a contiguous file is not accepted"),
    ("unknown type", lambda: finish(manifest_member(), header("attachments/z", 0, typeflag=b"Z")),
     "unknown member type b'Z'"),
    ("other directory", lambda: finish(manifest_member(), header("evil/", 0, typeflag=b"5")),
     "unexpected directory 'evil/'"),
    ("attachments directory with content",
     lambda: finish(manifest_member(), member("attachments/", b"x", typeflag=b"5")),
     "unexpected directory 'attachments/'"),
    ("nested directory",
     lambda: finish(manifest_member(), photo_member("attachments/sub/photo.jpg")),
     "'attachments/sub/photo.jpg' is not attachments/<name>"),
    ("file outside attachments", lambda: finish(manifest_member(), photo_member("photo.jpg")),
     "'photo.jpg' is not attachments/<name>"),
    ("manifest not first", lambda: finish(photo_member(), manifest_member()),
     "the first member is 'attachments/photo.jpg', not manifest.json"),
    ("directory first", lambda: finish(header("manifest.json", 0, typeflag=b"5")),
     "the first member is 'manifest.json', not manifest.json"),
    ("manifest twice", lambda: finish(manifest_member(), manifest_member()),
     "manifest.json appears twice"),
    ("oversize member",
     lambda: finish(manifest_member(), photo_member(content=PHOTO + b"more"), note_member()),
     "'attachments/photo.jpg' is 2311 bytes, the manifest declares 2307"),
    ("undersize member",
     lambda: finish(manifest_member(), photo_member(content=PHOTO[:100])),
     "is 100 bytes, the manifest declares 2307"),
    ("hash mismatch",
     lambda: finish(manifest_member(), note_member(), photo_member(content=PHOTO[:-1] + b"!")),
     "'attachments/photo.jpg': SHA-256 does not match the manifest"),
    ("duplicate name",
     lambda: finish(manifest_member(), photo_member(), photo_member(), note_member()),
     "'attachments/photo.jpg' appears twice"),
    ("name not in the manifest",
     lambda: finish(manifest_member(), photo_member("attachments/extra.sh", b"#!/bin/sh\n")),
     "'attachments/extra.sh' is not listed in the manifest"),
    ("case variant of a listed name",
     lambda: finish(manifest_member(), photo_member("attachments/PHOTO.JPG")),
     "'attachments/PHOTO.JPG' is not listed in the manifest"),
    ("listed attachment missing", lambda: finish(manifest_member(), photo_member()),
     "attachments/ئاكام.txt is listed in the manifest but not in the bundle"),
    ("pax header with path override", lambda: finish(manifest_member(), pax_path_override()),
     "a pax extended header is not accepted"),
    ("pax global header", lambda: finish(manifest_member(), member(
        "pax_global_header", b"18 path=../evil\n", typeflag=b"g")),
     "a pax global header is not accepted"),
    ("GNU longname via tarfile", lambda: finish(manifest_member(), gnu_longname()),
     "GNU tar headers are not accepted"),
    ("GNU longname header with ustar magic", lambda: finish(manifest_member(), member(
        "././@LongLink", b"../../outside/victim\x00", typeflag=b"L"), photo_member()),
     "a GNU long-name header is not accepted"),
    ("GNU long link name", lambda: finish(manifest_member(), member(
        "././@LongLink", b"/etc/passwd\x00", typeflag=b"K")),
     "a GNU long-link header is not accepted"),
    ("GNU sparse", lambda: finish(manifest_member(), header("attachments/s", 0, typeflag=b"S")),
     "a GNU sparse file is not accepted"),
    ("old v7 header", lambda: finish(manifest_member(), photo_member()[:0] + header(
        "attachments/photo.jpg", len(PHOTO), magic=bytes(8)) + PHOTO),
     "not a USTAR header"),
    ("bad checksum", lambda: finish(manifest_member(), header(
        "attachments/photo.jpg", len(PHOTO), checksum_delta=1)),
     "checksum mismatch"),
    ("garbage instead of a header", lambda: finish(manifest_member(), b"\x01" * 512),
     "is not an octal number"),
    ("base-256 size", lambda: finish(manifest_member(), header(
        "attachments/photo.jpg", 0, size_field=b"\x80" + bytes(10) + b"\x01")),
     "the size is in GNU binary form"),
    ("non-octal size", lambda: finish(manifest_member(), header(
        "attachments/photo.jpg", 0, size_field=b"0000000009\x00\x00")),
     "the size is not an octal number"),
    ("link name on a regular file", lambda: finish(manifest_member(), header(
        "attachments/photo.jpg", 0, linkname=b"/etc/passwd")),
     "a regular file must not name a link target"),
    ("bytes hidden after the name", lambda: finish(manifest_member(), photo_member(
        "attachments/photo.jpg\x00/../../evil")),
     "bytes after the end of the name field"),
    ("non-UTF-8 name", lambda: finish(manifest_member(), photo_member(
        b"attachments/\xff\xfe")),  # type: ignore[arg-type]
     "the name field is not UTF-8"),
    ("data hidden in the zero-fill", lambda: finish(manifest_member(), header(
        "attachments/photo.jpg", len(PHOTO)) + PHOTO + b"\x01" + bytes(-len(PHOTO) % 512 - 1)),
     "non-zero bytes in the zero-fill"),
    ("truncated content", lambda: manifest_member() + header("attachments/photo.jpg",
                                                             len(PHOTO)) + PHOTO[:1000],
     "the bundle ends early, in 'attachments/photo.jpg'"),
    ("truncated header", lambda: manifest_member() + b"\x00" * 100, "in a member header"),
    ("no end marker", lambda: manifest_member() + photo_member() + note_member(),
     "the bundle ends early, in a member header"),
    ("empty input", lambda: b"", "the bundle ends early, in the first header"),
    ("all zeros", lambda: bytes(4096), "the bundle is empty"),
    ("manifest too large", lambda: finish(header("manifest.json", 8 * 1024 * 1024 + 1)),
     "manifest.json is larger than 8388608 bytes"),
    ("invalid manifest", lambda: finish(member("manifest.json", b'{"schema": "x"}')),
     "manifest.json: the manifest is not valid"),
    ("lone zero block then data", lambda: manifest_member() + photo_member() + note_member()
     + bytes(512) + header("attachments/evil", 0) + bytes(1024),
     "a single zero block followed by data"),
    ("non-zero padding", lambda: good_bundle()[:-1] + b"\x01",
     "non-zero bytes in the padding"),
    ("padding too short", lambda: good_bundle()[:-1],
     f"the padding is {PADDING - 1} bytes; PADMÉ requires {PADDING} for a 18944-byte archive"),
    ("padding too long", lambda: good_bundle() + bytes(1 << 20),
     f"the padding is longer than the {PADDING} bytes PADMÉ requires"),
]


@pytest.mark.parametrize(("data", "message"), [(f, m) for _, f, m in HOSTILE],
                         ids=[name for name, _, _ in HOSTILE])
def test_hostile_bundle_is_refused_and_nothing_is_left(
    sandbox: Path, data: Callable[[], bytes], message: str
) -> None:
    refused(sandbox, data(), message)


def test_lenient_mode_still_refuses_hostile_members(sandbox: Path) -> None:
    data = finish(manifest_member(), symlink, photo_member())
    refused(sandbox, data, "a symbolic link is not accepted", strict_padding=False)


def test_limits_are_checked_before_anything_is_written(sandbox: Path) -> None:
    refused(sandbox, good_bundle(), f"declares {len(PHOTO) + len(NOTE)} bytes of attachments, "
                                    "more than the limit of 1000", max_total=1000)
    assert not (sandbox / "dest").exists()


def test_extraction_refuses_systems_without_safe_primitives(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "_SAFE_EXTRACTION", False)
    refused(sandbox, good_bundle(), "extract bundles on Linux, macOS or another POSIX system")


def test_destination_must_be_new_or_empty(sandbox: Path) -> None:
    (sandbox / "dest").mkdir()
    (sandbox / "dest" / "something").write_bytes(b"")
    refused(sandbox, good_bundle(), "is not empty; extract into a new or empty directory")


def test_destination_must_not_be_a_symlink_or_file(sandbox: Path) -> None:
    (sandbox / "dest").symlink_to(sandbox / "outside")
    refused(sandbox, good_bundle(), "is not a directory (or is a symbolic link)")
    (sandbox / "dest").unlink()
    (sandbox / "dest").write_bytes(b"")
    refused(sandbox, good_bundle(), "is not a directory (or is a symbolic link)")


def test_existing_empty_destination_is_kept_on_failure(sandbox: Path) -> None:
    (sandbox / "dest").mkdir()
    tampered = finish(manifest_member(), note_member(), photo_member(content=PHOTO[:-1] + b"!"))
    refused(sandbox, tampered, "SHA-256 does not match")
    assert os.listdir(sandbox / "dest") == []


def _no_hard_links(*_args: Any, **_kwargs: Any) -> None:
    raise OSError(errno.EPERM, "Operation not permitted")  # as on FAT and exFAT


@pytest.mark.parametrize("hard_links", [True, False])
@pytest.mark.parametrize("planted", ["photo.jpg", ".1.part"])
def test_a_link_planted_during_extraction_is_not_followed(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch, planted: str, hard_links: bool
) -> None:
    # Someone with access to the machine races the extraction and plants a symlink where the
    # next attachment will go (its temporary name, or the name it is given once complete):
    # O_EXCL | O_NOFOLLOW, and link() which never replaces (or, without hard links, a check
    # before the rename), must refuse it; the victim is intact.
    real_open = os.open
    if not hard_links:
        monkeypatch.setattr(os, "link", _no_hard_links)

    def racing_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None
                    ) -> int:
        if path == ".1.part" and flags & os.O_CREAT:
            os.symlink(sandbox / "outside" / "victim", planted, dir_fd=dir_fd)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", racing_open)
    with pytest.raises(BundleError, match=f"'{re.escape(planted)}' collides with another file"):
        extract_bundle(io.BytesIO(good_bundle()), sandbox / "dest")
    assert (sandbox / "outside" / "victim").read_bytes() == b"do not touch"
    # Only the planted link remains (it is not ours to delete).
    assert snapshot(sandbox / "dest") == {
        "attachments": "dir",
        f"attachments/{planted}": "link:" + str(sandbox / "outside" / "victim"),
    }


def test_an_attachment_is_named_only_once_complete_verified_and_synced(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[tuple[str, str]] = []  # (name, SHA-256 of the file when it got it)
    synced: list[int] = []
    real_publish, real_fsync = bundle_module._publish, os.fsync

    def publish(dir_fd: int, part: str, name: str) -> None:
        with os.fdopen(os.open(part, os.O_RDONLY, dir_fd=dir_fd), "rb") as f:
            published.append((name, hashlib.sha256(f.read()).hexdigest()))
        real_publish(dir_fd, part, name)

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(bundle_module, "_publish", publish)
    monkeypatch.setattr(os, "fsync", fsync)
    damaged = finish(manifest_member(), photo_member(content=PHOTO[:-1] + b"x"), note_member())
    refused(sandbox, damaged, "'attachments/photo.jpg': SHA-256 does not match the manifest")
    assert published == []
    synced.clear()
    extract_bundle(io.BytesIO(good_bundle()), sandbox / "dest")
    assert published == [(name, hashlib.sha256(data).hexdigest())
                         for name, data in FILES.items()]
    assert len(synced) == 1 + len(FILES) + 2  # the manifest, each attachment, two directories
    assert sorted(os.listdir(sandbox / "dest" / "attachments")) == sorted(FILES)


def test_without_hard_links_complete_files_are_renamed_into_place(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", _no_hard_links)
    extract_bundle(io.BytesIO(good_bundle()), sandbox / "dest")
    assert snapshot(sandbox / "dest" / "attachments") == {
        name: hashlib.sha256(data).hexdigest() for name, data in FILES.items()}


def test_any_error_during_extraction_removes_what_was_created(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle_module, "_write_all", full_disk)
    before = snapshot(sandbox)
    with pytest.raises(OSError, match="No space left"):
        extract_bundle(io.BytesIO(good_bundle()), sandbox / "dest")
    assert snapshot(sandbox) == before


# --- constant memory -------------------------------------------------------------------------


class Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        count = min(self.left, 1 << 16 if size < 0 else size)
        self.left -= count
        return bytes(count)


def test_large_attachments_stream_in_constant_memory(sandbox: Path) -> None:
    size = 48 * 1024 * 1024
    digest = hashlib.sha256()
    zeros = Zeros(size)
    while chunk := zeros.read(1 << 20):
        digest.update(chunk)
    attachment = Attachment("video.mp4", "video/mp4", size, digest.hexdigest(),
                            digest.hexdigest(), False)
    manifest = Manifest(language="kk", statement="", publication_consent="none",
                        attachments=(attachment,))
    tracemalloc.start()
    try:
        stream = bundle_stream(manifest, {"video.mp4": Zeros(size)})  # type: ignore[dict-item]
        extract_bundle(stream, sandbox / "dest")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (sandbox / "dest" / "attachments" / "video.mp4").stat().st_size == size
    assert peak < 2 * 1024 * 1024


def test_manifest_json_is_read_from_the_bundle_as_is() -> None:
    data = good_bundle()
    length = int(data[124:135], 8)
    assert json.loads(data[512 : 512 + length]) == MANIFEST.to_dict()
