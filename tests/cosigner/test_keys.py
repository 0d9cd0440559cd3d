"""The cosigner key (keys.cosigner) and `amanat cosigner init`: sealed like the org key,
its vkey of type 0x04, its seed never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from keys.cosigner import COSIGNER_KEY_KIND, CosignerKey
from keys.errors import InvalidNameError, KeyFileError, UnlockError
from keys.keyfile import KdfParams, seal_key_file
from keys.org import OrgKey
from vault.cli import main
from vault.tlog.checkpoint import Checkpoint
from vault.tlog.cosignature import CosignerVerifier, verify
from vault.tlog.merkle import EMPTY_ROOT

CHEAP = KdfParams(memory_kib=8, iterations=1, parallelism=1)
PASSPHRASE = "tundra velvet orbit cactus lantern meadow"


def test_seal_unseal_and_vkey() -> None:
    key = CosignerKey.generate("partner.example/cosigner")
    data = key.seal("pass phrase", CHEAP)
    assert data.startswith(b"amanat.cosigner-key/v1\n")
    opened = CosignerKey.unseal(data, "pass phrase")
    assert opened.vkeys() == key.vkeys() and opened.vkey() == key.vkeys()[0]
    body = Checkpoint("log", 0, EMPTY_ROOT).format()
    for vkey, signer, alg in zip(key.vkeys(), opened.signers(), (0x04, 0x06), strict=True):
        verifier = CosignerVerifier.from_vkey(vkey)
        assert verifier.alg == alg and verifier.name == "partner.example/cosigner"
        verify(body, signer.sign(body, 5).line(), verifier)
    assert "seed" not in repr(key) and key.vkey() in repr(key)
    with pytest.raises(UnlockError):
        CosignerKey.unseal(data, "wrong")
    org = OrgKey.generate("example.org").seal("pass phrase", CHEAP)
    with pytest.raises(KeyFileError, match="organization key file"):
        CosignerKey.unseal(org, "pass phrase")
    with pytest.raises(KeyFileError, match="cosigner key file"):
        OrgKey.unseal(data, "pass phrase")


def test_refusals() -> None:
    with pytest.raises(InvalidNameError, match="cosigner name"):
        CosignerKey.generate("has space")
    with pytest.raises(KeyFileError, match="32 bytes"):
        CosignerKey("name", b"\x00" * 31, b"\x00" * 32)
    with pytest.raises(KeyFileError, match="32 bytes"):
        CosignerKey("name", b"\x00" * 32, b"\x00" * 33)
    bad = seal_key_file(COSIGNER_KEY_KIND, b"\x00" * 64 + "é".encode(), "p", CHEAP)
    with pytest.raises(KeyFileError, match="not ASCII"):
        CosignerKey.unseal(bad, "p")


def test_cli_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AMANAT_PASSPHRASE", PASSPHRASE)
    path = tmp_path / "c.key"
    assert main(["cosigner", "init", "--name", "partner.example/c", "-o", str(path)]) == 0
    out, err = capsys.readouterr()
    vkeys = tuple(out.split())
    assert [CosignerVerifier.from_vkey(v).alg for v in vkeys] == [0x04, 0x06]
    assert CosignerKey.unseal(path.read_bytes(), PASSPHRASE).vkeys() == vkeys
    assert path.stat().st_mode & 0o777 == 0o600 and PASSPHRASE not in out + err
    assert main(["cosigner", "init", "--name", "partner.example/c", "-o", str(path)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    monkeypatch.setenv("AMANAT_PASSPHRASE", "short")
    assert main(["cosigner", "init", "--name", "x", "-o", str(tmp_path / "weak.key")]) == 1
    assert not (tmp_path / "weak.key").exists()


def test_help_says_where_the_passphrase_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["cosigner", "init", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "AMANAT_PASSPHRASE" in text and "six or more random words" in text
