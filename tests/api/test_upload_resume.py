"""The resume record of `amanat upload FILE` (vault/upload.py) against the real app: a record
that matches the file and an upload the server still has is resumed at the server's offset;
anything else starts afresh with one line saying why; the record is written before the first
byte and holds nothing secret."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.api.vaultkit import DevKeys
from vault.client import VaultClient
from vault.upload import ResumableUpload, record_path


@pytest.fixture
def vault(client: Any) -> VaultClient:
    return VaultClient("http://testserver", transport=client._transport)


@pytest.fixture
def sealed(tmp_path: Path, dev: DevKeys) -> Path:
    path = tmp_path / "t.age"
    path.write_bytes(dev.seal(os.urandom(200_000)))
    return path


def resumable(vault: VaultClient, path: Path, said: list[str]) -> ResumableUpload:
    data = path.read_bytes()
    return ResumableUpload(vault, path, len(data), hashlib.sha256(data).hexdigest(),
                           said.append)


def half_sent(vault: VaultClient, sealed: Path) -> tuple[str, int]:
    """A first attempt that sent half the file and stopped; its id and offset."""
    said: list[str] = []
    upload_id = resumable(vault, sealed, said).start()
    assert said == []
    half = sealed.stat().st_size // 2
    return upload_id, vault.append(upload_id, 0, sealed.read_bytes()[:half])


def test_the_record_is_written_first_and_holds_nothing_secret(vault: VaultClient,
                                                              sealed: Path) -> None:
    upload_id = resumable(vault, sealed, []).start()
    record = record_path(sealed)
    assert record.name == "t.age.amanat-upload"
    assert record.stat().st_mode & 0o777 == 0o600
    assert json.loads(record.read_text()) == {
        "format": "amanat/upload-resume/v1", "server": "http://testserver",
        "upload_id": upload_id, "size": sealed.stat().st_size,
        "sha256": hashlib.sha256(sealed.read_bytes()).hexdigest()}
    assert vault.upload_offset(upload_id) == 0


def test_a_rerun_resumes_at_the_servers_offset(vault: VaultClient, sealed: Path) -> None:
    upload_id, offset = half_sent(vault, sealed)
    said: list[str] = []
    again = resumable(vault, sealed, said)
    assert again.start() == upload_id
    assert said == [f"resuming at {offset / 1048576:.1f} MiB of "
                    f"{sealed.stat().st_size / 1048576:.1f} MiB: the server kept what the last "
                    "attempt sent"]
    with open(sealed, "rb") as src:
        receipt = vault.upload(src, upload_id=upload_id)
    assert receipt.sha256 == hashlib.sha256(sealed.read_bytes()).hexdigest()
    again.done()
    assert not record_path(sealed).exists()


def test_a_changed_file_starts_afresh(vault: VaultClient, sealed: Path, dev: DevKeys) -> None:
    upload_id, _ = half_sent(vault, sealed)
    sealed.write_bytes(dev.seal(b"another testimony"))
    said: list[str] = []
    assert resumable(vault, sealed, said).start() != upload_id
    assert said == [f"{sealed} changed since the last attempt; starting the upload from the "
                    "beginning"]


def test_another_server_starts_afresh(vault: VaultClient, sealed: Path) -> None:
    half_sent(vault, sealed)
    record = json.loads(record_path(sealed).read_text())
    record["server"] = "http://elsewhere.example"
    record_path(sealed).write_text(json.dumps(record))
    said: list[str] = []
    resumable(vault, sealed, said).start()
    assert said == ["the last attempt went to http://elsewhere.example, not "
                    "http://testserver; starting the upload from the beginning"]


def test_an_upload_the_server_dropped_starts_afresh(vault: VaultClient, sealed: Path) -> None:
    upload_id, _ = half_sent(vault, sealed)
    vault.abandon_upload(upload_id)
    said: list[str] = []
    fresh = resumable(vault, sealed, said).start()
    assert fresh != upload_id and vault.upload_offset(fresh) == 0
    assert said == ["the server no longer has the last attempt (unfinished uploads are "
                    "removed after a day); starting the upload from the beginning"]
    assert json.loads(record_path(sealed).read_text())["upload_id"] == fresh


@pytest.mark.parametrize("garbage", [b"", b"\xff\xfe", b"[]", b'{"format": "other"}',
                                     b"[" * 2000 + b"]" * 2000,
                                     b'{"format": "amanat/upload-resume/v1", "server": "x", '
                                     b'"upload_id": "../../roster", "size": 1, "sha256": "a"}'])
def test_a_record_that_is_not_one_starts_afresh(vault: VaultClient, sealed: Path,
                                                garbage: bytes) -> None:
    record_path(sealed).write_bytes(garbage)
    said: list[str] = []
    upload_id = resumable(vault, sealed, said).start()
    assert said == [f"{record_path(sealed)} is not a resume record; starting the upload from "
                    "the beginning"]
    assert vault.upload_offset(upload_id) == 0


def test_an_unwritable_record_still_uploads(vault: VaultClient, sealed: Path) -> None:
    record_path(sealed).mkdir()  # neither readable nor replaceable as a file
    said: list[str] = []
    upload_id = resumable(vault, sealed, said).start()
    assert vault.upload_offset(upload_id) == 0
    assert said == [
        f"cannot read {record_path(sealed)} (Is a directory); starting the upload from the "
        "beginning",
        f"cannot write {record_path(sealed)} (Is a directory): if this upload stops, running "
        "it again starts from the beginning"]


def test_a_planted_link_or_pipe_at_the_record_is_neither_followed_nor_waited_on(
        vault: VaultClient, sealed: Path, tmp_path: Path) -> None:
    """A link at FILE.amanat-upload is not read through, and is replaced by a record (its
    target left alone); a named pipe there would block a plain open() forever."""
    target = tmp_path / "elsewhere"
    target.write_bytes(resumable_record := b"not touched")
    record = record_path(sealed)
    record.symlink_to(target)
    said: list[str] = []
    upload_id = resumable(vault, sealed, said).start()
    assert said == [f"cannot read {record} (a symbolic link, not a file); starting the "
                    "upload from the beginning"]
    assert target.read_bytes() == resumable_record
    assert not record.is_symlink()
    assert json.loads(record.read_text())["upload_id"] == upload_id

    record.unlink()
    os.mkfifo(record)
    said.clear()
    resumable(vault, sealed, said).start()
    assert said[0] == f"cannot read {record} (not a file); starting the upload from the beginning"
