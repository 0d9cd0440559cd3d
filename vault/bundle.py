"""The plaintext bundle sealed inside a testimony: a padded USTAR archive, read as hostile input.

Properties protected:

* **Length hiding and no identifying metadata** (writer). Every header carries mtime 0,
  uid/gid 0, empty user and group names and mode 0644; the archive is padded with zero bytes
  to its PADMÉ length (``vault.padding``), so the sealed file reveals only O(log log n) bits
  of the testimony's size.
* **Nothing escapes the destination** (reader). A bundle comes from an anonymous sender and
  is treated as an attack until proven otherwise: only regular files named in the manifest are
  accepted, every size and SHA-256 must match the manifest, and files are created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` relative to directory descriptors of a new or empty
  destination, so no path, link or race can write outside it. On any error, everything the
  extraction created is removed again.

Format (version 1)::

    bundle   = member(manifest.json) *member(attachment) end-marker padding
    member   = header(512 bytes) content zero-fill(to a multiple of 512)
    end-marker = 1024 zero bytes (two zero blocks)
    padding  = zero bytes, so that len(bundle) == padme_length(len(archive up to end-marker))

Headers are POSIX.1-1988 USTAR (magic ``"ustar\\0"``, version ``"00"``), checksum as the
unsigned sum of the header bytes with the checksum field read as eight spaces, written as six
octal digits, NUL, space. Numeric fields are octal, NUL-terminated; text fields NUL-padded.
Member paths are ``prefix + "/" + name`` when the prefix field is set, else ``name``:

* ``manifest.json`` (first member, at most 8 MiB): the canonical manifest JSON
  (``vault.testimony``), typeflag ``"0"``.
* ``attachments/<name>`` for each manifest attachment, in manifest order; the writer puts
  ``attachments`` in the prefix field and ``<name>`` (at most 100 bytes of UTF-8) in the name
  field. Content is exactly ``size`` bytes with SHA-256 ``sha256_after_cleaning``. (The
  reader accepts the attachments in any order.)

The reader additionally accepts (because ordinary tar tools produce them) a name field holding
the whole path, typeflag ``"\\0"`` for regular files, and one directory member named
``attachments`` or ``attachments/``. It refuses, with a message naming the member: pax and
GNU extension headers (``x g L K`` and the GNU magic), links, devices, FIFOs, any other type,
absolute paths, backslashes, ``.``/``..``/empty path components, non-UTF-8 names, names not
listed in the manifest or present twice, sizes other than the declared size, digests that
differ, bytes hidden after the terminating NUL of the name, prefix or link-name field,
non-zero bytes in a member's zero-fill, and a bundle that ends early. Attachments listed
but absent are an error. Header fields that are never applied (mode, uid, gid, mtime, user
and group names) are not checked: extracted files are always mode 0600, directories 0700.

Because every archive is a multiple of 512 bytes and PADMÉ only zeroes low bits, a bundle's
length is always a multiple of 512 too, so tar tools read the padding as more end blocks.

Padding policy: with ``strict_padding=True`` (the default) the reader requires the second
zero block and then exactly ``padme_length(archive) - archive`` zero bytes and nothing else:
padding is part of the format and anything else there is either a broken client or a hidden
channel. ``strict_padding=False`` stops reading at the first zero block and ignores the rest,
for recovering testimony from a client that padded wrongly.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO, Final, Protocol

from vault.padding import padme_length
from vault.testimony import MANIFEST_MAX_BYTES, Attachment, Manifest, ManifestError

__all__ = [
    "ATTACHMENTS_DIR",
    "BLOCK_SIZE",
    "DEFAULT_MAX_TOTAL",
    "MANIFEST_NAME",
    "Bundle",
    "BundleError",
    "Content",
    "ContentMismatchError",
    "bundle_length",
    "bundle_stream",
    "extract_bundle",
    "iter_bundle",
    "open_bundle",
]

BLOCK_SIZE: Final = 512
MANIFEST_NAME: Final = "manifest.json"
ATTACHMENTS_DIR: Final = "attachments"
DEFAULT_MAX_TOTAL: Final = 16 * 1024**3
_CHUNK: Final = 64 * 1024
_ZERO_BLOCK: Final = bytes(BLOCK_SIZE)
_USTAR_MAGIC: Final = b"ustar\x0000"
_GNU_MAGIC: Final = b"ustar  \x00"

_REFUSED_TYPES: Final = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"6": "a FIFO",
    b"7": "a contiguous file",
    b"x": "a pax extended header",
    b"g": "a pax global header",
    b"L": "a GNU long-name header",
    b"K": "a GNU long-link header",
    b"S": "a GNU sparse file",
}


class BundleError(ValueError):
    """The bundle is malformed or hostile; the message names the member and the rule broken."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _blocks_for(size: int) -> int:
    return -(-size // BLOCK_SIZE) * BLOCK_SIZE


# ---------------------------------------------------------------------------------------------
# Writing


def _octal(value: int, width: int) -> bytes:
    text = f"{value:0{width - 1}o}".encode("ascii")
    if len(text) != width - 1:
        raise BundleError(f"{value} does not fit a {width}-byte USTAR field")
    return text + b"\x00"


def _ustar_header(prefix: str, name: str, size: int) -> bytes:
    name_bytes = name.encode("utf-8")
    prefix_bytes = prefix.encode("utf-8")
    if len(name_bytes) > 100 or len(prefix_bytes) > 155:
        raise BundleError(f"the member name {name!r} is longer than USTAR allows")
    header = bytearray(BLOCK_SIZE)
    header[0 : len(name_bytes)] = name_bytes
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)  # uid
    header[116:124] = _octal(0, 8)  # gid
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(0, 12)  # mtime
    header[148:156] = b" " * 8
    header[156:157] = b"0"
    header[257:265] = _USTAR_MAGIC
    header[329:337] = _octal(0, 8)  # devmajor
    header[337:345] = _octal(0, 8)  # devminor
    header[345 : 345 + len(prefix_bytes)] = prefix_bytes
    header[148:156] = f"{sum(header):06o}".encode("ascii") + b"\x00 "
    return bytes(header)


def _archive_length(manifest_length: int, sizes: list[int]) -> int:
    members = [manifest_length, *sizes]
    return sum(BLOCK_SIZE + _blocks_for(size) for size in members) + 2 * BLOCK_SIZE


def bundle_length(manifest: Manifest) -> int:
    """The exact length of the bundle ``iter_bundle(manifest, ...)`` produces (padded)."""
    archive = _archive_length(len(manifest.to_json()), [a.size for a in manifest.attachments])
    return padme_length(archive)


def _zeros(count: int) -> Iterator[bytes]:
    while count > 0:
        step = min(count, _CHUNK)
        yield bytes(step)
        count -= step


Content = bytes | BinaryIO | Callable[[], BinaryIO]
"""An attachment's content for the writer: its bytes, a binary file positioned at its start,
or a function opening such a file when the attachment's turn comes (closed after it)."""


class ContentMismatchError(BundleError):
    """An attachment's content given to the writer is not what the manifest says (the file
    changed after it was measured); ``name`` is the attachment's name in the manifest."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{ATTACHMENTS_DIR}/{name}: {message}")
        self.name = name
        self.reason = message


def _content(attachment: Attachment, source: Content) -> Iterator[bytes]:
    if callable(source):
        with source() as opened:
            yield from _content(attachment, opened)
        return
    digest = hashlib.sha256()
    name = attachment.name
    if isinstance(source, bytes):
        if len(source) != attachment.size:
            raise ContentMismatchError(
                name, f"{len(source)} bytes given, the manifest says {attachment.size}")
        view = memoryview(source)
        for start in range(0, len(source), _CHUNK):
            chunk = bytes(view[start : start + _CHUNK])
            digest.update(chunk)
            yield chunk
    else:
        remaining = attachment.size
        while remaining > 0:
            chunk = source.read(min(_CHUNK, remaining))
            if not chunk:
                raise ContentMismatchError(
                    name, f"the file ended {remaining} bytes before the size in the manifest")
            remaining -= len(chunk)
            digest.update(chunk)
            yield chunk
        if source.read(1):
            raise ContentMismatchError(name, "the file is longer than the size in the manifest")
    if digest.hexdigest() != attachment.sha256_after_cleaning:
        raise ContentMismatchError(name, "the content does not match sha256_after_cleaning")


def iter_bundle(manifest: Manifest, contents: Mapping[str, Content]) -> Iterator[bytes]:
    """Yield the padded bundle for ``manifest`` in chunks of at most 64 KiB.

    ``contents`` maps each attachment name to its (already cleaned) ``Content``: bytes, a
    binary file positioned at its start, or a function opening one when its turn comes;
    files are read once, sequentially, and one at a time, so memory does not grow with
    their size. Raises ManifestError if the manifest is invalid and BundleError if
    ``contents`` names other attachments (both at once); a size or SHA-256 that differs
    from the manifest raises ContentMismatchError while iterating, when the attachment's
    last byte has been read: a consumer that already wrote output must discard it on error.
    """
    manifest_json = manifest.to_json()
    names = [a.name for a in manifest.attachments]
    missing = sorted(set(names) - set(contents))
    extra = sorted(set(contents) - set(names))
    if missing or extra:
        raise BundleError(
            f"the attachments given do not match the manifest (missing: {missing}, "
            f"not in the manifest: {extra})"
        )
    return _generate(manifest, manifest_json, contents)


def _generate(
    manifest: Manifest, manifest_json: bytes, contents: Mapping[str, Content]
) -> Iterator[bytes]:
    archive = _archive_length(len(manifest_json), [a.size for a in manifest.attachments])
    yield _ustar_header("", MANIFEST_NAME, len(manifest_json))
    yield manifest_json + bytes(_blocks_for(len(manifest_json)) - len(manifest_json))
    for attachment in manifest.attachments:
        yield _ustar_header(ATTACHMENTS_DIR, attachment.name, attachment.size)
        yield from _content(attachment, contents[attachment.name])
        yield from _zeros(_blocks_for(attachment.size) - attachment.size)
    yield bytes(2 * BLOCK_SIZE)
    yield from _zeros(padme_length(archive) - archive)


class _ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of byte strings."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def bundle_stream(manifest: Manifest, contents: Mapping[str, Content]) -> BinaryIO:
    """The bundle as a readable binary stream (for ``age.encrypt(src=...)``); see iter_bundle."""
    return io.BufferedReader(_ChunkReader(iter_bundle(manifest, contents)), _CHUNK)


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class _Header:
    path: str
    size: int
    is_directory: bool


class _Source:
    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self.offset = 0

    def read_exact(self, count: int, what: str) -> bytes:
        parts: list[bytes] = []
        remaining = count
        while remaining > 0:
            chunk = self._stream.read(remaining)
            if not chunk:
                raise BundleError(f"the bundle ends early, in {what} (at byte {self.offset})")
            parts.append(chunk)
            remaining -= len(chunk)
            self.offset += len(chunk)
        return b"".join(parts)

    def read_some(self, count: int) -> bytes:
        chunk = self._stream.read(count)
        self.offset += len(chunk)
        return chunk


def _text_field(raw: bytes, field: str, at: int) -> str:
    value, _, rest = raw.partition(b"\x00")
    if rest.strip(b"\x00"):
        raise BundleError(f"header at byte {at}: bytes after the end of the {field} field")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"header at byte {at}: the {field} field is not UTF-8") from None


def _octal_field(raw: bytes, field: str, at: int) -> int:
    if raw[0] & 0x80:
        raise BundleError(f"header at byte {at}: {field} is in GNU binary form, not octal")
    digits = raw.rstrip(b"\x00 ").lstrip(b" ")
    if not digits or not all(0x30 <= b <= 0x37 for b in digits):
        raise BundleError(f"header at byte {at}: {field} is not an octal number")
    return int(digits, 8)


def _parse_header(block: bytes, at: int) -> _Header:
    stored = _octal_field(block[148:156], "the checksum", at)
    if stored != sum(block[:148]) + 8 * 0x20 + sum(block[156:]):
        raise BundleError(f"header at byte {at}: checksum mismatch (not a tar header?)")
    magic = block[257:265]
    if magic == _GNU_MAGIC:
        raise BundleError(f"header at byte {at}: GNU tar headers are not accepted (USTAR only)")
    if magic != _USTAR_MAGIC:
        raise BundleError(f"header at byte {at}: not a USTAR header (magic {magic!r})")
    typeflag = block[156:157]
    if typeflag in _REFUSED_TYPES:
        raise BundleError(f"header at byte {at}: {_REFUSED_TYPES[typeflag]} is not accepted")
    if typeflag not in (b"0", b"\x00", b"5"):
        raise BundleError(f"header at byte {at}: unknown member type {typeflag!r}")
    name = _text_field(block[0:100], "name", at)
    prefix = _text_field(block[345:500], "prefix", at)
    if _text_field(block[157:257], "link name", at):
        raise BundleError(f"header at byte {at}: a regular file must not name a link target")
    size = _octal_field(block[124:136], "the size", at)
    return _Header(f"{prefix}/{name}" if prefix else name, size, typeflag == b"5")


def _check_path(header: _Header, at: int) -> str:
    """Return the member path if it is well formed; raise BundleError otherwise."""
    path = header.path
    shown = repr(path[:200])
    if not path:
        raise BundleError(f"member at byte {at}: empty path")
    if path.startswith("/"):
        raise BundleError(f"member at byte {at}: absolute path {shown}")
    if "\\" in path:
        raise BundleError(f"member at byte {at}: backslash in path {shown}")
    parts = path.removesuffix("/").split("/") if header.is_directory else path.split("/")
    if ".." in parts:
        raise BundleError(f"member at byte {at}: '..' in path {shown}")
    if any(part in ("", ".") for part in parts):
        raise BundleError(f"member at byte {at}: empty or '.' component in path {shown}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise BundleError(f"member at byte {at}: control character in path {shown}")
    return path


class Bundle:
    """An opened bundle: the validated manifest, then the attachments, read once, in order.

    Use ``attachments()`` to stream the contents (every size and digest is checked) or
    ``verify()`` to check everything without keeping anything.
    """

    def __init__(self, source: _Source, manifest: Manifest, manifest_json: bytes,
                 *, strict_padding: bool) -> None:
        self._source = source
        self.manifest = manifest
        self.manifest_json = manifest_json
        self._strict_padding = strict_padding
        self._started = False

    def attachments(self) -> Iterator[tuple[Attachment, Iterator[bytes]]]:
        """Yield ``(attachment, chunks)`` for every member, then check the end and padding.

        ``chunks`` yields the content in pieces of at most 64 KiB and raises BundleError after
        the last piece if the SHA-256 differs from the manifest; content not consumed by the
        caller is read (and checked) before the next member. Can be iterated only once.
        """
        if self._started:
            raise BundleError("the bundle's attachments can be read only once")
        self._started = True
        listed = {a.name: a for a in self.manifest.attachments}
        seen: set[str] = set()
        source = self._source
        while True:
            at = source.offset
            block = source.read_exact(BLOCK_SIZE, "a member header")
            if block == _ZERO_BLOCK:
                break
            header = _parse_header(block, at)
            path = _check_path(header, at)
            if header.is_directory:
                if path.removesuffix("/") != ATTACHMENTS_DIR or header.size != 0:
                    raise BundleError(f"member at byte {at}: unexpected directory {path!r}")
                continue
            if path == MANIFEST_NAME:
                raise BundleError(f"member at byte {at}: {MANIFEST_NAME} appears twice")
            directory, _, name = path.partition("/")
            if directory != ATTACHMENTS_DIR or "/" in name:
                raise BundleError(
                    f"member at byte {at}: {path[:200]!r} is not {ATTACHMENTS_DIR}/<name>"
                )
            if name in seen:
                raise BundleError(f"member at byte {at}: {path!r} appears twice")
            attachment = listed.get(name)
            if attachment is None:
                raise BundleError(f"member at byte {at}: {path!r} is not listed in the manifest")
            if header.size != attachment.size:
                raise BundleError(
                    f"member at byte {at}: {path!r} is {header.size} bytes, the manifest "
                    f"declares {attachment.size}"
                )
            seen.add(name)
            chunks = self._member_content(attachment, path)
            yield attachment, chunks
            for _ in chunks:
                pass
        missing = [name for name in listed if name not in seen]
        if missing:
            raise BundleError(
                f"{ATTACHMENTS_DIR}/{missing[0]} is listed in the manifest but not in the bundle"
            )
        if self._strict_padding:
            self._check_padding()

    def _member_content(self, attachment: Attachment, path: str) -> Iterator[bytes]:
        source = self._source
        digest = hashlib.sha256()
        remaining = attachment.size
        while remaining > 0:
            chunk = source.read_exact(min(_CHUNK, remaining), repr(path))
            remaining -= len(chunk)
            digest.update(chunk)
            yield chunk
        _read_fill(source, attachment.size, path)
        if digest.hexdigest() != attachment.sha256_after_cleaning:
            raise BundleError(f"{path!r}: SHA-256 does not match the manifest")

    def _check_padding(self) -> None:
        source = self._source
        second = source.read_exact(BLOCK_SIZE, "the end-of-archive marker")
        if second != _ZERO_BLOCK:
            raise BundleError(f"byte {source.offset - BLOCK_SIZE}: a single zero block "
                              "followed by data (the end marker is two zero blocks)")
        archive = source.offset
        expected = padme_length(archive) - archive
        padding = 0
        while True:
            chunk = source.read_some(_CHUNK)
            if not chunk:
                break
            if chunk.count(0) != len(chunk):
                raise BundleError(f"non-zero bytes in the padding after byte {archive}")
            padding += len(chunk)
            if padding > expected:
                break
        if padding > expected:
            raise BundleError(
                f"the padding is longer than the {expected} bytes PADMÉ requires for a "
                f"{archive}-byte archive"
            )
        if padding < expected:
            raise BundleError(
                f"the padding is {padding} bytes; PADMÉ requires {expected} for a "
                f"{archive}-byte archive"
            )

    def verify(self) -> None:
        """Read and check every remaining byte of the bundle, keeping nothing."""
        for _attachment, chunks in self.attachments():
            for _ in chunks:
                pass


def _read_fill(source: _Source, size: int, path: str) -> None:
    fill = source.read_exact(_blocks_for(size) - size, f"the zero-fill after {path!r}")
    if fill.count(0) != len(fill):
        raise BundleError(f"{path!r}: non-zero bytes in the zero-fill after the content")


def open_bundle(stream: _Readable, *, strict_padding: bool = True) -> Bundle:
    """Read and validate the manifest (the first member) of a bundle; see ``Bundle``."""
    source = _Source(stream)
    block = source.read_exact(BLOCK_SIZE, "the first header")
    if block == _ZERO_BLOCK:
        raise BundleError(f"the bundle is empty: {MANIFEST_NAME} must be its first member")
    header = _parse_header(block, 0)
    path = _check_path(header, 0)
    if path != MANIFEST_NAME or header.is_directory:
        raise BundleError(f"the first member is {path[:200]!r}, not {MANIFEST_NAME}")
    if header.size > MANIFEST_MAX_BYTES:
        raise BundleError(f"{MANIFEST_NAME} is larger than {MANIFEST_MAX_BYTES} bytes")
    manifest_json = source.read_exact(header.size, MANIFEST_NAME)
    _read_fill(source, header.size, MANIFEST_NAME)
    try:
        manifest = Manifest.from_json(manifest_json)
    except ManifestError as exc:
        raise BundleError(f"{MANIFEST_NAME}: {exc}") from exc
    return Bundle(source, manifest, manifest_json, strict_padding=strict_padding)


# ---------------------------------------------------------------------------------------------
# Extraction

# Writing a bundle works everywhere; extracting one needs directory descriptors and
# O_NOFOLLOW (POSIX). Elsewhere extract_bundle refuses rather than extract less safely.
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_SAFE_EXTRACTION = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd
_DIR_FLAGS: Final = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
_FILE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC


def _open_destination(dest: str) -> tuple[int, bool]:
    """Open (creating if absent) an empty directory; return (fd, created)."""
    created = False
    try:
        os.mkdir(dest, 0o700)
        created = True
    except FileExistsError:
        pass
    try:
        fd = os.open(dest, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise BundleError(f"{dest!r} is not a directory (or is a symbolic link)") from None
        raise  # pragma: no cover - permissions and the like: the OS message says it best
    if not created and os.listdir(fd):
        os.close(fd)
        raise BundleError(f"{dest!r} is not empty; extract into a new or empty directory")
    return fd, created


def _collision(name: str) -> BundleError:
    return BundleError(
        f"{name!r} collides with another file of the bundle on this file system "
        "(names that differ only in letter case or Unicode normalisation?)"
    )


def _create_file(dir_fd: int, name: str) -> int:
    try:
        return os.open(name, _FILE_FLAGS, 0o600, dir_fd=dir_fd)
    except FileExistsError:
        raise _collision(name) from None


def _write_all(fd: int, chunks: Iterable[bytes]) -> None:
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def _publish(dir_fd: int, part: str, name: str) -> None:
    """Give the complete file ``part`` its final ``name``, which must not exist yet.

    A hard link refuses an existing name atomically; file systems without hard links (FAT,
    exFAT) get a rename after checking that the name is free (in a directory this
    extraction created, mode 0700). ``part`` is gone afterwards.
    """
    try:
        os.link(part, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise _collision(name) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            os.rename(part, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return
        raise _collision(name) from None
    os.unlink(part, dir_fd=dir_fd)


def _fsync_directory(dir_fd: int) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot sync a directory
        os.fsync(dir_fd)


def _remove_created(name: str, dir_fd: int, *, is_directory: bool) -> None:
    # Best effort: something that is not ours may be in the way (a file planted by another
    # process makes rmdir fail); the error that stopped the extraction is what matters.
    with contextlib.suppress(OSError):
        if is_directory:
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)


def extract_bundle(
    stream: _Readable,
    dest_dir: str | os.PathLike[str],
    *,
    max_total: int = DEFAULT_MAX_TOTAL,
    strict_padding: bool = True,
) -> Manifest:
    """Check a bundle and write it under ``dest_dir``; return its manifest.

    ``dest_dir`` must not exist (it is created, mode 0700) or be an empty directory, and must
    not be a symbolic link. Result: ``dest_dir/manifest.json`` (the manifest bytes exactly as
    sealed) and ``dest_dir/attachments/<name>`` for each attachment, files mode 0600. Refuses
    before writing anything if the manifest declares more than ``max_total`` attachment bytes.

    Attachments are written as they are decrypted, in pieces (memory does not grow with
    their size), each under a hidden temporary name (``.<n>.part``; manifest names never
    start with a dot), synced to disk, and given its name only once its size and SHA-256
    have matched the manifest; the directories are synced at the end, so a returned
    manifest means every file is complete and durable. On any error (BundleError)
    everything created so far is removed again.
    """
    if not _SAFE_EXTRACTION:
        raise BundleError(
            "this system cannot open files relative to a directory without following links; "
            "extract bundles on Linux, macOS or another POSIX system"
        )
    dest = os.fspath(dest_dir)
    bundle = open_bundle(stream, strict_padding=strict_padding)
    declared = sum(a.size for a in bundle.manifest.attachments)
    if declared > max_total:
        raise BundleError(
            f"the manifest declares {declared} bytes of attachments, more than the limit of "
            f"{max_total}"
        )
    dest_fd, created_dest = _open_destination(dest)
    attachments_fd = -1
    created: list[tuple[str, int]] = []  # (name, directory fd), in creation order
    try:
        fd = _create_file(dest_fd, MANIFEST_NAME)
        created.append((MANIFEST_NAME, dest_fd))
        _write_all(fd, [bundle.manifest_json])
        os.mkdir(ATTACHMENTS_DIR, 0o700, dir_fd=dest_fd)
        created.append((ATTACHMENTS_DIR, dest_fd))
        attachments_fd = os.open(ATTACHMENTS_DIR, _DIR_FLAGS, dir_fd=dest_fd)
        for number, (attachment, chunks) in enumerate(bundle.attachments(), start=1):
            part = f".{number}.part"
            fd = _create_file(attachments_fd, part)
            created.append((part, attachments_fd))
            _write_all(fd, chunks)  # raises before the end if the SHA-256 differs
            _publish(attachments_fd, part, attachment.name)
            created[-1] = (attachment.name, attachments_fd)
        _fsync_directory(attachments_fd)
        _fsync_directory(dest_fd)
    except BaseException:
        for name, dir_fd in reversed(created):
            is_directory = name == ATTACHMENTS_DIR and dir_fd == dest_fd
            _remove_created(name, dir_fd, is_directory=is_directory)
        if attachments_fd >= 0:
            os.close(attachments_fd)
        os.close(dest_fd)
        if created_dest:
            with contextlib.suppress(OSError):
                os.rmdir(dest)
        raise
    os.close(attachments_fd)
    os.close(dest_fd)
    return bundle.manifest
