"""Sealed blobs and staged uploads in S3-compatible object storage (``--blobs s3://…``).

A ``BlobBackend`` (vault/store/blobs.py) over obstore, for a vault whose sealed files outgrow
one disk or are shared by several servers. Protects the same properties as the blob
directory: a blob is durable and complete before ``promote`` returns, is never overwritten
and never half visible, and leaves the served set only by a logged deletion or into the
quarantine.

Layout under ``s3://BUCKET/PREFIX/``::

    uploads/<id>/created              an empty marker: the upload exists (size 0)
    uploads/<id>/<offset, 20 digits>  the bytes of the upload from that offset, one object
                                      per committed append (or per PART_BYTES of it)
    blobs/<namespace>/<id>            a sealed file, one object, written once
    quarantine/<namespace>/<id>[.N]   sealed files found without a record, kept
    probe/<id>                        written and removed at start: is write-once honoured?

Every object is written with obstore's ``mode="create"`` (``If-None-Match: *``), so nothing
is ever overwritten: a second write of a key fails (ConflictError), which is also what keeps
two servers from appending at the same offset of one upload. A server that ignores the
header is refused at start (``probe_write_once``).

Why staged parts, not S3 multipart uploads: the chunks of a resumable upload are small
(64 KiB and up; the witness page sends 256 KiB), and every part of an S3 multipart upload but
the last must be at least 5 MiB, so an upload's chunks cannot be its parts. Each committed
append is instead its own small object, named by the offset it starts at; the upload's size
is the length of the run of parts that starts at 0 with no gap. ``promote`` reads the parts
back and writes the sealed file as one object in one ``PUT`` with ``If-None-Match: *``: S3
makes an object visible only whole, when its ``PUT`` succeeds, and only after storing it
durably, so a crash during promotion leaves no blob or the complete one, and a reader never
sees part of it. Then the parts are removed. The cost, documented in DEPLOY.md: promotion
moves the file's bytes through the server twice, and holds the file in memory (obstore
performs a conditional put as a single request), so ``max_submission_bytes`` bounds the
memory a promotion takes. Finding an upload's size lists its parts (one request per 1,000),
so many small chunks make each append slower; parts are never cached between requests,
because another server may have appended since.

What the bucket's operator can see: ciphertext, sizes (of each chunk while staging, of each
sealed file) and the times the object storage records for each write, to the second; no
address or user agent of a witness (the server makes every request). No object metadata is
set beyond what S3 requires. Credentials come from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, or the platform's role credentials) or from a
credentials file readable only by its owner; never from arguments, and no error message
carries them or the library's own message (which repeats URLs and server answers).
"""

from __future__ import annotations

import bisect
import configparser
import contextlib
import io
import ipaddress
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from vault.store import (
    NAMESPACE_SUBMISSIONS,
    NAMESPACES,
    ConflictError,
    NotFoundError,
    StoreError,
    is_valid_id,
    new_id,
)

if TYPE_CHECKING:
    from obstore.store import S3Store

# An append is written as one part per PART_BYTES, so a long request never sits whole in
# memory; parts of an upload may be any size from 1 byte.
PART_BYTES = 8 * 1024 * 1024
_READ_CHUNK = 256 * 1024
_OFFSET_DIGITS = 20
_MARKER = "created"
_MAX_QUARANTINE_COPIES = 1000

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")
_PART = re.compile(rf"[0-9]{{{_OFFSET_DIGITS}}}")


# One sealed file at a time is held whole in memory (a conditional PUT is one request):
# however many uploads finish at once, the server's memory holds at most one of them (up to
# the submission size limit); the others wait their turn.
_WHOLE_FILE = threading.Lock()


class BlobStorageError(StoreError):
    """The object storage refused or failed a request (names what, never the reply)."""


class S3SettingsError(StoreError):
    """The object-storage settings cannot be used (names the setting, never a secret)."""


@dataclass(frozen=True)
class S3Options:
    """Where the blobs live and how to reach them. ``url``: ``s3://BUCKET[/PREFIX]``;
    ``endpoint``: an S3-compatible server (MinIO, Garage, Ceph RGW), AWS when None;
    ``path_style``: address the bucket in the path (most self-hosted servers) rather than in
    the host name; ``ca_file``: PEM certificates to trust besides the system's;
    ``credentials_file``: an AWS-style credentials file (mode 0600) instead of the
    environment."""

    url: str
    endpoint: str | None = None
    region: str | None = None
    path_style: bool = False
    ca_file: Path | None = None
    credentials_file: Path | None = None


def parse_blobs_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://BUCKET[/PREFIX]``; S3SettingsError otherwise. The URL is
    repeated in the message only when it cannot hold credentials."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise S3SettingsError("--blobs must not hold credentials: give them in the environment "
                              "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or a credentials file")
    if parts.scheme != "s3":
        raise S3SettingsError(f"--blobs {url}: only s3://BUCKET/PREFIX is supported")
    if parts.query or parts.fragment or parts.port is not None:
        raise S3SettingsError(f"--blobs {url}: no port, query or fragment (the server's "
                              "address is --s3-endpoint)")
    bucket = parts.hostname or ""
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise S3SettingsError(f"--blobs {url}: {bucket!r} is not an S3 bucket name")
    segments = [s for s in parts.path.split("/") if s]
    for segment in segments:
        if not _PREFIX_SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise S3SettingsError(f"--blobs {url}: the prefix may hold letters, digits, "
                                  "'.', '-' and '_' between slashes")
    return bucket, "/".join(segments)


def _check_endpoint(endpoint: str) -> bool:
    """Whether the endpoint is plain HTTP (allowed only on this machine's loopback)."""
    parts = urlsplit(endpoint)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise S3SettingsError("--s3-endpoint must not hold credentials")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise S3SettingsError(f"--s3-endpoint {endpoint}: give https://HOST[:PORT]")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise S3SettingsError(
                f"--s3-endpoint {endpoint}: plain http is allowed only on this machine "
                "(127.0.0.1, ::1); use https, with --s3-ca-file for a private certificate")
        return True
    return False


def read_credentials_file(path: Path, profile: str) -> dict[str, str]:
    """Keys from an AWS shared-credentials file (``[profile]`` with ``aws_access_key_id``,
    ``aws_secret_access_key`` and optionally ``aws_session_token``), refused when others
    can read it. Messages never hold a value from the file."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise S3SettingsError(f"cannot read the credentials file {path}: "
                              f"{exc.strerror or type(exc).__name__}") from None
    if mode & 0o077:
        raise S3SettingsError(f"{path} is readable by others: chmod 600 it")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text("utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError, OSError):
        raise S3SettingsError(f"{path} is not an AWS credentials file (INI sections, "
                              "aws_access_key_id = …)") from None
    if not parser.has_section(profile):
        raise S3SettingsError(f"{path} has no [{profile}] section")
    section = parser[profile]
    key_id = section.get("aws_access_key_id", "").strip()
    secret = section.get("aws_secret_access_key", "").strip()
    if not key_id or not secret:
        raise S3SettingsError(f"[{profile}] in {path} needs aws_access_key_id and "
                              "aws_secret_access_key")
    found = {"access_key_id": key_id, "secret_access_key": secret}
    token = section.get("aws_session_token", "").strip()
    if token:
        found["token"] = token
    return found


def connect(options: S3Options, env: Mapping[str, str] | None = None) -> S3Blobs:
    """Open the bucket of ``options`` and check that it refuses overwrites."""
    from obstore.store import S3Store

    env = os.environ if env is None else env
    bucket, prefix = parse_blobs_url(options.url)
    config: dict[str, Any] = {"virtual_hosted_style_request": not options.path_style,
                              "checksum_algorithm": "sha256", "conditional_put": "etag"}
    client: dict[str, Any] = {"allow_http": False, "connect_timeout": timedelta(seconds=10),
                              "timeout": timedelta(minutes=10)}
    if options.endpoint:
        client["allow_http"] = _check_endpoint(options.endpoint)
        config["endpoint"] = options.endpoint.rstrip("/")
    if options.region:
        config["region"] = options.region
    elif not env.get("AWS_REGION") and not env.get("AWS_DEFAULT_REGION"):
        config["region"] = "us-east-1"
    if options.ca_file is not None:
        try:
            client["root_certificate"] = options.ca_file.read_bytes()
        except OSError as exc:
            raise S3SettingsError(f"--s3-ca-file {options.ca_file}: "
                                  f"{exc.strerror or type(exc).__name__}") from None
    if options.credentials_file is not None:
        keys = read_credentials_file(options.credentials_file,
                                     env.get("AWS_PROFILE") or "default")
        config["access_key_id"] = keys["access_key_id"]
        config["secret_access_key"] = keys["secret_access_key"]
        if "token" in keys:
            config["token"] = keys["token"]
    try:
        store = S3Store(bucket, prefix=prefix or None, config=config,  # type: ignore[arg-type]
                        client_options=client,  # type: ignore[arg-type]
                        retry_config={"max_retries": 3,
                                      "retry_timeout": timedelta(seconds=60)})
    except Exception as exc:
        raise S3SettingsError(f"cannot use the object storage {options.url} as configured "
                              f"({type(exc).__name__}): check --s3-endpoint, --s3-region "
                              "and the AWS_* environment") from None
    blobs = S3Blobs(store, f"s3://{bucket}/{prefix + '/' if prefix else ''}")
    blobs.probe_write_once()
    return blobs


@contextlib.contextmanager
def _request(action: str, where: str, missing: str = "no such blob") -> Iterator[None]:
    """Turn obstore's exceptions into the store's: NotFoundError, ConflictError (the key
    exists: a write-once refusal; its message names no bucket, since a client may read it),
    BlobStorageError naming only the action, the place and the kind of failure (for the
    operator's output)."""
    from obstore.exceptions import AlreadyExistsError, BaseError, PreconditionError

    try:
        yield
    except FileNotFoundError:
        raise NotFoundError(missing) from None
    except (AlreadyExistsError, PreconditionError):
        # Reaches HTTP clients as a 409: no bucket or key in it.
        raise ConflictError("already written by another request (nothing is overwritten)"
                            ) from None
    except (BaseError, OSError) as exc:
        raise BlobStorageError(f"object storage: {action} {where} failed "
                               f"({type(exc).__name__})") from None


def _checked(blob_id: str, missing: str = "no such id") -> str:
    if not is_valid_id(blob_id):
        raise NotFoundError(missing)
    return blob_id


def _part_key(upload_id: str, offset: int) -> str:
    return f"uploads/{upload_id}/{offset:0{_OFFSET_DIGITS}d}"


class _ObjectsReader(io.RawIOBase):
    """Reads a run of objects as one file, streaming each from the position asked for."""

    def __init__(self, store: S3Store, parts: list[tuple[str, int]], where: str) -> None:
        super().__init__()
        self._store = store
        self._keys = [key for key, _ in parts]
        self._starts: list[int] = []
        total = 0
        for _, size in parts:
            self._starts.append(total)
            total += size
        self._size = total
        self._where = where
        self._pos = 0
        self._stream: Iterator[Any] | None = None
        self._pending = memoryview(b"")
        self._end = 0  # where the object being streamed ends

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._pos:
            self._stream = None
            self._pending = memoryview(b"")
            self._pos = target
        return self._pos

    def _open(self) -> None:
        import obstore

        index = bisect.bisect_right(self._starts, self._pos) - 1
        key = self._keys[index]
        inner = self._pos - self._starts[index]
        options: dict[str, Any] = {"range": {"offset": inner}} if inner else {}
        with _request("reading", self._where):
            result = obstore.get(self._store, key, options=options)  # type: ignore[arg-type]
            self._stream = iter(result.stream(min_chunk_size=_READ_CHUNK))
        next_start = self._starts[index + 1] if index + 1 < len(self._starts) else self._size
        self._end = next_start

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._pos >= self._size:
                return 0
            if self._stream is None:
                self._open()
            assert self._stream is not None
            with _request("reading", self._where):
                chunk = next(self._stream, None)
            if chunk is None:
                if self._pos < self._end:
                    raise BlobStorageError(f"object storage: {self._where} is shorter than "
                                           "listed (changed while read?)")
                self._stream = None
                continue
            self._pending = memoryview(bytes(chunk))
            if self._pos + len(self._pending) > self._end:
                raise BlobStorageError(f"object storage: {self._where} is longer than listed")
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._pos += count
        if self._pos == self._end:
            self._stream = None
        return count


class S3StagedWriter:
    """Appends to one staged upload: parts of at most PART_BYTES, each written once at the
    offset it starts at. ``commit`` writes the rest; ``abort`` removes this writer's parts."""

    def __init__(self, blobs: S3Blobs, upload_id: str, offset: int) -> None:
        self._blobs = blobs
        self._upload_id = upload_id
        self._buffer = bytearray()
        self._start = offset
        self._flushed = offset
        self._written: list[str] = []
        self._open = True
        self.size = offset

    def write(self, data: bytes) -> None:
        assert self._open, "writer already closed"
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        key = _part_key(self._upload_id, self._flushed)
        self._blobs.put_once(key, bytes(self._buffer))
        self._written.append(key)
        self._flushed += len(self._buffer)
        self._buffer.clear()

    def commit(self) -> int:
        """Write what is left; the object storage acknowledges a write once it is durable.
        On failure (another writer took this offset: ConflictError) nothing of this writer
        is kept."""
        if self._open:
            try:
                self._flush()
            except BaseException:
                self.abort()
                raise
            self._open = False
        return self.size

    def abort(self) -> None:
        """Discard everything written through this writer."""
        if self._open or self._written:
            self._open = False
            self._buffer.clear()
            written, self._written = self._written, []
            self._blobs.delete_keys(written)
            self.size = self._start


class S3Blobs:
    """``uploads/``, ``blobs/<namespace>/`` and ``quarantine/<namespace>/`` in a bucket."""

    def __init__(self, store: S3Store, location: str) -> None:
        self.store = store
        self.location = location  # s3://bucket/prefix/, for messages and quarantine names

    # --- requests ---
    def put_once(self, key: str, data: bytes) -> None:
        """Write ``key`` if it does not exist (ConflictError if it does)."""
        import obstore

        with _request("writing", self.location + key):
            obstore.put(self.store, key, data, mode="create", use_multipart=False)

    def delete_keys(self, keys: list[str]) -> None:
        import obstore

        if keys:
            with _request("removing", self.location + keys[0]):
                obstore.delete(self.store, keys)

    def _size(self, key: str) -> int | None:
        import obstore

        try:
            with _request("looking up", self.location + key):
                return int(obstore.head(self.store, key)["size"])
        except NotFoundError:
            return None

    def _list(self, prefix: str) -> list[tuple[str, int]]:
        import obstore

        with _request("listing", self.location + prefix):
            return [(str(meta["path"]), int(meta["size"]))
                    for batch in obstore.list(self.store, prefix, chunk_size=1000)
                    for meta in batch]

    def _names(self, prefix: str) -> list[str]:
        return [key[len(prefix):] for key, _ in self._list(prefix)]

    def _read_all(self, parts: list[tuple[str, int]], where: str) -> bytes:
        """The bytes of ``parts``, whole in memory (call holding ``_WHOLE_FILE``)."""
        return self._read_parts(parts, where)

    def _read_parts(self, parts: list[tuple[str, int]], where: str) -> bytes:
        with _ObjectsReader(self.store, parts, where) as reader:
            data = reader.read()
        if len(data) != sum(size for _, size in parts):
            raise BlobStorageError(f"object storage: {where} changed while read")
        return data

    def probe_write_once(self) -> None:
        """Refuse an object storage that overwrites a key written with ``If-None-Match: *``
        (then nothing here would be written once)."""
        key = f"probe/{new_id()}"
        self.put_once(key, b"")
        try:
            try:
                self.put_once(key, b"overwritten")
            except ConflictError:
                return
            raise BlobStorageError(
                f"the object storage at {self.location} overwrote an object written with "
                "If-None-Match: *; amanat needs a server that honours it (conditional "
                "writes), or nothing it stores would be written once")
        finally:
            self.delete_keys([key])

    # --- staged uploads ---
    def _parts(self, upload_id: str) -> list[tuple[str, int]]:
        """The parts of an upload from offset 0 without a gap (NotFoundError when the
        upload does not exist)."""
        return self._listed_parts(upload_id)[0]

    def _listed_parts(self, upload_id: str) -> tuple[list[tuple[str, int]], list[str]]:
        """(the run of parts from offset 0 without a gap, the keys of the parts past it),
        from one listing. Parts past a gap (a writer that aborted after another wrote on)
        are not part of the upload. Each call lists every part: one request per 1000."""
        prefix = f"uploads/{_checked(upload_id, 'no such upload')}/"
        found = self._list(prefix)
        names = {key[len(prefix):]: (key, size) for key, size in found}
        if _MARKER not in names:
            raise NotFoundError("no such upload")
        run: list[tuple[str, int]] = []
        size = 0
        ordered = sorted(n for n in names if _PART.fullmatch(n))
        for name in ordered:
            key, length = names[name]
            if int(name) != size or length == 0:
                break
            run.append((key, length))
            size += length
        return run, [names[name][0] for name in ordered[len(run):]]

    def create_staged(self, upload_id: str) -> None:
        self.put_once(f"uploads/{_checked(upload_id, 'no such upload')}/{_MARKER}", b"")

    def staged_size(self, upload_id: str) -> int:
        return sum(size for _, size in self._parts(upload_id))

    def append_staged(self, upload_id: str, offset: int, *,
                      durable: bool = True) -> S3StagedWriter:
        """``durable`` changes nothing here: a part is durable once its PUT is answered."""
        parts, stale = self._listed_parts(upload_id)
        size = sum(length for _, length in parts)
        if offset != size:
            raise ConflictError(f"upload is at offset {size}, not {offset}")
        # Parts past a gap were never part of the upload: clear the way for this writer.
        self.delete_keys(stale)
        return S3StagedWriter(self, upload_id, offset)

    def open_staged(self, upload_id: str) -> BinaryIO:
        parts = self._parts(upload_id)
        return io.BufferedReader(_ObjectsReader(self.store, parts, self.location + "uploads/"),
                                 buffer_size=_READ_CHUNK)

    def delete_staged(self, upload_id: str) -> None:
        prefix = f"uploads/{_checked(upload_id, 'no such upload')}/"
        self.delete_keys([key for key, _ in self._list(prefix)])

    def staged_ids(self) -> list[str]:
        found = {key.split("/")[1] for key, _ in self._list("uploads/")
                 if key.count("/") == 2}
        return sorted(i for i in found if is_valid_id(i))

    # --- sealed blobs ---
    def _blob_key(self, namespace: str, blob_id: str) -> str:
        if namespace not in NAMESPACES:
            raise NotFoundError("no such namespace")
        return f"blobs/{namespace}/{_checked(blob_id)}"

    def promote(self, upload_id: str, namespace: str, blob_id: str) -> None:
        """Write the staged upload as the blob ``namespace``/``blob_id`` in one conditional
        PUT (whole or absent, durable when acknowledged), then remove its parts."""
        key = self._blob_key(namespace, blob_id)
        parts = self._parts(upload_id)
        if self._size(key) is not None:
            raise ConflictError("blob id already used")
        with _WHOLE_FILE:
            data = self._read_all(parts, self.location + f"uploads/{upload_id}")
            self.put_once(key, data)
            written = len(data)
            del data
        if self._size(key) != written:
            raise BlobStorageError(f"object storage: {self.location + key} does not hold "
                                   "what was written")
        self.delete_staged(upload_id)

    def open_blob(self, namespace: str, blob_id: str) -> BinaryIO:
        key = self._blob_key(namespace, blob_id)
        size = self._size(key)
        if size is None:
            raise NotFoundError("no such blob")
        return io.BufferedReader(_ObjectsReader(self.store, [(key, size)],
                                                self.location + key),
                                 buffer_size=_READ_CHUNK)

    def blob_present(self, namespace: str, blob_id: str) -> bool:
        return self._size(self._blob_key(namespace, blob_id)) is not None

    def blob_size(self, namespace: str, blob_id: str) -> int | None:
        return self._size(self._blob_key(namespace, blob_id))

    def delete_blob(self, namespace: str, blob_id: str) -> None:
        self.delete_keys([self._blob_key(namespace, blob_id)])

    def blob_ids(self, namespace: str) -> list[str]:
        if namespace not in NAMESPACES:
            return []
        return [name for name in self._names(f"blobs/{namespace}/") if is_valid_id(name)]

    # --- quarantine ---
    def _keep(self, namespace: str, blob_id: str, data: bytes) -> str:
        """Write ``data`` under ``quarantine/<namespace>/<blob_id>``, or ``.N`` after it
        when that is taken; return where."""
        for copy in range(_MAX_QUARANTINE_COPIES):
            key = f"quarantine/{namespace}/{blob_id}" + (f".{copy}" if copy else "")
            try:
                self.put_once(key, data)
            except ConflictError:
                continue
            return self.location + key
        raise BlobStorageError(f"object storage: {_MAX_QUARANTINE_COPIES} copies of "
                               f"{blob_id} are already in quarantine")

    def quarantine(self, namespace: str, blob_id: str) -> str:
        """Copy a blob into the quarantine (never over another object), then remove it
        from the served set; a crash in between leaves it in both places, never in none."""
        key = self._blob_key(namespace, blob_id)
        size = self._size(key)
        if size is None:
            raise NotFoundError("no such blob")
        with _WHOLE_FILE:
            where = self._keep(namespace, blob_id, self._read_all([(key, size)],
                                                                   self.location + key))
        self.delete_keys([key])
        return where

    def quarantine_staged(self, upload_id: str, submission_id: str) -> str:
        parts = self._parts(upload_id)
        with _WHOLE_FILE:
            data = self._read_all(parts, self.location + f"uploads/{upload_id}")
            where = self._keep(NAMESPACE_SUBMISSIONS, _checked(submission_id), data)
            del data
        self.delete_staged(upload_id)
        return where

    def _quarantine_key(self, namespace: str, blob_id: str) -> str:
        if namespace not in NAMESPACES:
            raise NotFoundError("no such namespace")
        return f"quarantine/{namespace}/{_checked(blob_id)}"

    def quarantined(self, namespace: str, blob_id: str) -> str | None:
        key = self._quarantine_key(namespace, blob_id)
        return None if self._size(key) is None else self.location + key

    def quarantined_ids(self, namespace: str) -> list[str]:
        if namespace not in NAMESPACES:
            return []
        return sorted(n for n in self._names(f"quarantine/{namespace}/") if is_valid_id(n))

    def open_quarantined(self, namespace: str, blob_id: str) -> BinaryIO | None:
        key = self._quarantine_key(namespace, blob_id)
        size = self._size(key)
        if size is None:
            return None
        return io.BufferedReader(_ObjectsReader(self.store, [(key, size)],
                                                self.location + key),
                                 buffer_size=_READ_CHUNK)

    def unquarantine(self, namespace: str, blob_id: str) -> None:
        """Write a quarantined blob back into the served set (never over a blob), then
        remove the quarantined copy."""
        source = self._quarantine_key(namespace, blob_id)
        target = self._blob_key(namespace, blob_id)
        size = self._size(source)
        if size is None:
            raise NotFoundError("no such blob in quarantine")
        if self._size(target) is not None:
            raise ConflictError("blob id already used")
        with _WHOLE_FILE:
            self.put_once(target, self._read_all([(source, size)], self.location + source))
        self.delete_keys([source])

    # --- housekeeping ---
    def conceal_times(self) -> None:
        """Nothing to do: object times are the object storage's (DEPLOY.md says what they
        show)."""

    def close(self) -> None:
        """Nothing to release: obstore's connection pool goes with the object."""
