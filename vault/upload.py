"""Sending a sealed file from disk (`amanat upload FILE`): checks before the first byte, and
going on after an outage where the last attempt stopped.

Protects the witness's effort on a bad network without betraying them on their device:

* **Refused early, not late.** Before any byte is sent, the file's age header is read and
  held against the server's current roster with the server's own rule
  (`vault.service.uploads.check_sealed_to_roster`: one stanza per reader, of the readers'
  type), so a file sealed to an older roster is refused in a second with what to do, not
  after an hour of upload with a 422. (age stanzas do not name their recipient, so a roster
  that swapped one investigator for another with the same count cannot be told apart.)
* **Resumed, not restarted.** While an upload is under way a small resume record lies
  beside the file (``FILE.amanat-upload``, written atomically, mode 0600): the server's
  address, the upload id, the file's size and SHA-256. Nothing in it is secret (the file
  beside it is ciphertext); it is removed once the server has stored the file. A rerun
  whose record matches the file and whose upload the server still has goes on from the
  server's offset; otherwise it starts afresh and says why.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from keys._files import write_private_file
from keys.roster import Roster
from vault.client import ClientError, VaultClient
from vault.service.rosterview import sealing_rule
from vault.service.uploads import NotSealedError, check_sealed_to_roster, inspect_sealed_file
from vault.store import is_valid_id

RECORD_SUFFIX = ".amanat-upload"
RECORD_FORMAT = "amanat/upload-resume/v1"
MAX_RECORD_BYTES = 4096


class UploadRefused(ValueError):
    """The file cannot be uploaded as it is; the message says what to do."""


def check_fits_roster(src: BinaryIO, size: int, sha256: str, roster: Roster,
                      name: str) -> None:
    """Refuse ``src`` (``name`` in messages) unless the server would accept it for
    ``roster``: a well-formed age file with one stanza per reader, of the readers' type."""
    src.seek(0)
    try:
        info = inspect_sealed_file(src, size, known_sha256=sha256)
    except NotSealedError as exc:
        raise UploadRefused(f"{name} is not a sealed file from `amanat seal` ({exc})") from None
    finally:
        src.seek(0)
    readers, stanza_type = sealing_rule(roster)
    try:
        check_sealed_to_roster(info, readers, stanza_type)
    except NotSealedError:
        found = ", ".join(sorted(set(info.stanza_types))) or "no"
        how = (f"its recipients are of type {found}, the roster's of type {stanza_type}"
               if found != stanza_type else
               f"it is sealed to {len(info.stanza_types)} investigator(s), the roster lists "
               f"{readers}")
        raise UploadRefused(
            f"{name} was sealed to an older roster, not the server's current one (version "
            f"{roster.version}: {how}); seal it again from the original with `amanat seal` "
            "and the current roster") from None


@dataclass(frozen=True)
class ResumeRecord:
    """What a rerun needs to find an unfinished upload of the same file on the same server."""

    server: str
    upload_id: str
    size: int
    sha256: str

    def to_bytes(self) -> bytes:
        return json.dumps({"format": RECORD_FORMAT, **asdict(self)}, indent=1).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> ResumeRecord | None:
        try:
            obj: Any = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested too deep
            return None
        if not isinstance(obj, dict) or obj.get("format") != RECORD_FORMAT:
            return None
        server, upload_id, size, sha256 = (obj.get(k) for k in asdict(cls("", "", 0, "")))
        if not (isinstance(server, str) and isinstance(upload_id, str) and is_valid_id(upload_id)
                and type(size) is int and isinstance(sha256, str)):
            return None
        return cls(server, upload_id, size, sha256)


def _read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``. Whatever else lies there is an
    OSError, without waiting on it: a symbolic link (not followed, so a planted link cannot
    point the record elsewhere), a named pipe (which would block the upload forever), a
    device or a directory."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, "a symbolic link, not a file") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a file")
        return f.read(limit)


def record_path(sealed_path: Path) -> Path:
    return sealed_path.with_name(sealed_path.name + RECORD_SUFFIX)


def _size_text(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MiB"


class ResumableUpload:
    """The upload of one sealed file at ``path`` to ``client``'s server, remembered beside
    the file until it is done. ``say`` gets one line for the person (without "amanat: ")."""

    def __init__(self, client: VaultClient, path: Path, size: int, sha256: str,
                 say: Callable[[str], None]) -> None:
        self._client = client
        self._path = path
        self._record = record_path(path)
        self._wanted = ResumeRecord(client.server, "", size, sha256)
        self._say = say

    def _load(self) -> ResumeRecord | None:
        try:
            data = _read_regular(self._record, MAX_RECORD_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._say(f"cannot read {self._record} ({exc.strerror}); starting the upload "
                      "from the beginning")
            return None
        record = ResumeRecord.from_bytes(data) if len(data) <= MAX_RECORD_BYTES else None
        if record is None:
            self._say(f"{self._record} is not a resume record; starting the upload from the "
                      "beginning")
        return record

    def _resumable(self) -> str | None:
        """The id of an earlier upload of this file the server still has, if any."""
        record = self._load()
        if record is None:
            return None
        wanted = self._wanted
        if (record.size, record.sha256) != (wanted.size, wanted.sha256):
            self._say(f"{self._path} changed since the last attempt; starting the upload from "
                      "the beginning")
            return None
        if record.server != wanted.server:
            self._say(f"the last attempt went to {record.server}, not {wanted.server}; "
                      "starting the upload from the beginning")
            return None
        try:
            offset = self._client.upload_offset(record.upload_id)
        except ClientError as exc:
            if exc.status != 404:
                raise
            self._say("the server no longer has the last attempt (unfinished uploads are "
                      "removed after a day); starting the upload from the beginning")
            return None
        self._say(f"resuming at {_size_text(offset)} of {_size_text(wanted.size)}: the server "
                  "kept what the last attempt sent")
        return record.upload_id

    def start(self) -> str:
        """The upload id to send to: an earlier attempt's, or a new upload remembered in the
        resume record before any byte is sent."""
        upload_id = self._resumable()
        if upload_id is None:
            upload_id = self._client.create_upload()
            record = ResumeRecord(self._wanted.server, upload_id, self._wanted.size,
                                  self._wanted.sha256)
            try:
                write_private_file(self._record, record.to_bytes())
            except OSError as exc:
                self._say(f"cannot write {self._record} ({exc.strerror}): if this upload "
                          "stops, running it again starts from the beginning")
        return upload_id

    @property
    def record(self) -> Path:
        return self._record

    def done(self) -> None:
        """The server stored the file: forget the attempt."""
        with contextlib.suppress(FileNotFoundError):
            self._record.unlink()
