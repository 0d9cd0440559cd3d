"""A hostile bundle, sealed to the investigators and uploaded like any testimony, is refused
by `amanat open` with nothing written outside (or left inside) the case folder.

The tar bytes are written here by hand (not with ``tarfile``), so each attack is exactly the
one named: an absolute path, a ``..`` escape, a symbolic link pointing out of the folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from keys.roster import verify_roster
from tests.workflows.conftest import World, amanat, submission_id_from_receipt
from vault import age
from vault.client import VaultClient
from vault.padding import padme_length
from vault.testimony import Attachment, Manifest

BLOCK = 512
PAYLOAD = b"written by a hostile bundle\n"


def ustar_header(name: str, size: int, *, typeflag: bytes = b"0", linkname: str = "",
                 prefix: str = "") -> bytes:
    header = bytearray(BLOCK)
    for offset, text, width in ((0, name, 100), (157, linkname, 100), (345, prefix, 155)):
        raw = text.encode("utf-8")
        assert len(raw) <= width, text
        header[offset : offset + len(raw)] = raw
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = f"{size:011o}\0".encode()
    header[136:148] = b"00000000000\0"
    header[148:156] = b" " * 8
    header[156:157] = typeflag
    header[257:265] = b"ustar\x0000"
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    return bytes(header)


def member(name: str, content: bytes, **kwargs: object) -> bytes:
    fill = -len(content) % BLOCK
    return ustar_header(name, len(content), **kwargs) + content + bytes(fill)  # type: ignore[arg-type]


def hostile_bundle(attack: bytes) -> bytes:
    """A valid manifest listing one attachment, then ``attack``, end marker, PADMÉ padding."""
    manifest = Manifest(
        language="en", statement="looks harmless", publication_consent="none",
        attachments=(Attachment(
            name="evidence.txt", media_type="text/plain", size=len(PAYLOAD),
            sha256_before_cleaning=hashlib.sha256(PAYLOAD).hexdigest(),
            sha256_after_cleaning=hashlib.sha256(PAYLOAD).hexdigest(),
            metadata_kept=False),),
    ).to_json()
    archive = member("manifest.json", manifest) + attack + bytes(2 * BLOCK)
    return archive + bytes(padme_length(len(archive)) - len(archive))


def attacks(outside: Path) -> dict[str, tuple[bytes, str]]:
    absolute = str(outside / "absolute.txt")
    return {
        "absolute": (member(absolute, PAYLOAD), "absolute path"),
        "dotdot": (member("attachments/../../escaped.txt", PAYLOAD), "'..'"),
        "symlink": (
            member("attachments/evidence.txt", b"", typeflag=b"2",
                   linkname=str(outside / "linked.txt"))
            + member("attachments/evidence.txt", PAYLOAD),
            "symbolic link",
        ),
    }


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
def test_open_refuses_hostile_bundle(world: World, tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    bundle, reason = attacks(outside)[kind]
    with VaultClient(world.url) as client:
        roster = verify_roster(client.roster_text(), world.org_vkey)
    sealed_path = tmp_path / "hostile.age"
    sealed_path.write_bytes(age.encrypt_bytes(bundle, roster.recipients()))
    upload_args = ["upload", "--server", world.url, "--receipt", "-", str(sealed_path)]
    if kind == "absolute":  # also exercise the upload without an organization key
        uploaded = amanat(upload_args, cwd=tmp_path)
        assert "no --org given" in uploaded.stderr
    else:
        uploaded = amanat([*upload_args[:3], "--org", world.org_vkey, *upload_args[3:]],
                          cwd=tmp_path)
    submission_id = submission_id_from_receipt(uploaded.stdout)

    work = tmp_path / "work"
    work.mkdir()
    case = work / "case"
    before = snapshot(tmp_path)
    refused = world.investigator("a", ["open", submission_id, "-o", str(case)], check=False,
                                 cwd=work)
    assert refused.returncode != 0
    message = [line for line in refused.stderr.splitlines() if line.startswith("amanat: ")]
    assert len(message) == 1 and reason in message[0], refused.stderr
    assert "nothing was extracted" in message[0]
    assert snapshot(tmp_path) == before  # no case folder, no escaped file, no leftover
    assert not case.exists()
    assert list(outside.iterdir()) == []
