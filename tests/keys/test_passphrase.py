"""Weak passphrases never protect a key file: `org init`, `keys new` and `keys passwd` refuse
them (zxcvbn score 4 needed, names on the key count as guessed), say how to choose a strong
one, and never repeat the passphrase. Generated passphrases (`serve --dev`, `amanat demo`)
pass the same check.
"""

from __future__ import annotations

import getpass
import io
import re
import sys
from pathlib import Path

import pytest

from keys.errors import WeakPassphraseError
from keys.identity import InvestigatorIdentity
from keys.passphrase import MAX_SCORED_CHARS, check_new_passphrase, context_words, estimate
from tests.keys.conftest import CHEAP_KDF
from vault.cli import main
from vault.cli.demo_cmd import Demo
from vault.service.setup import dev_passphrase

STRONG = "tundra mosaic lyric vessel orbit canyon"
ADVICE = "six or more random words, picked by rolling dice on a diceware word list"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AMANAT_NEW_PASSPHRASE", raising=False)
    monkeypatch.delenv("AMANAT_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], passphrase: str) -> str:
    """Run the command, check it failed with one line that names the problem and the cure,
    and does not contain the passphrase or any word of it; return that line."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 1, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("amanat: "), err
    assert "too weak to protect" in err and ADVICE in err, err
    assert "where 4 is needed" in err, err
    message = err.removeprefix("amanat: ")
    for word in re.split(r"\W+", passphrase):
        if word:
            assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", message, re.I), err
    return err


ORG_INIT = ["org", "init", "--name", "example.org/amanat", "-o", "org.key"]
KEYS_NEW = ["keys", "new", "--name", "Айгүл", "-o", "aygul.identity"]


@pytest.mark.parametrize(("argv", "weak", "protects"), [
    *((ORG_INIT, weak, "the organization key")
      for weak in ("short", "password1", "example.org/amanat", "qwertyuiop")),
    *((KEYS_NEW, weak, "an investigator's identity")
      for weak in ("x", "Айгүл 1990", "aygul aygul")),
])
def test_new_key_file_refuses_weak(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   argv: list[str], weak: str, protects: str) -> None:
    monkeypatch.setenv("AMANAT_PASSPHRASE", weak)
    err = refused(capsys, argv, weak)
    assert f"too weak to protect {protects}:" in err
    assert not (tmp_path / argv[-1]).exists()


def test_org_init_accepts_strong(capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AMANAT_PASSPHRASE", STRONG)
    assert main(ORG_INIT) == 0
    assert capsys.readouterr().out.startswith("example.org/amanat+")
    assert (tmp_path / "org.key").exists()


def test_passphrase_made_of_the_names_on_the_key_is_weak(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # zxcvbn alone rates these 4: the names are known to whoever holds the file.
    names = "Aygul Tursun aygul 2024"
    monkeypatch.setenv("AMANAT_PASSPHRASE", names)
    err = refused(capsys, ["keys", "new", "--name", "Aygul Tursun", "-o", "aygul.identity"],
                  names)
    assert "contains a name that belongs with the key" in err
    origin = "example amanat org"
    monkeypatch.setenv("AMANAT_PASSPHRASE", origin)
    err = refused(capsys, ORG_INIT, origin)
    assert "contains a name that belongs with the key" in err
    assert not (tmp_path / "org.key").exists()


def test_keys_passwd_refuses_weak_and_keeps_the_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "a.identity"
    path.write_bytes(InvestigatorIdentity.generate("Erlan").seal(STRONG, CHEAP_KDF))
    before = path.read_bytes()
    monkeypatch.setenv("AMANAT_PASSPHRASE", STRONG)
    monkeypatch.setenv("AMANAT_NEW_PASSPHRASE", "erlan2024")
    err = refused(capsys, ["keys", "passwd", "a.identity"], "erlan2024")
    assert "an investigator's identity" in err
    assert path.read_bytes() == before


def test_prompt_refuses_weak_before_asking_again(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AMANAT_PASSPHRASE", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return "short"

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    refused(capsys, ORG_INIT, "short")
    assert prompts == ["Passphrase for the organization key org.key: "]
    answers = iter([STRONG, STRONG + " typo"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert main(ORG_INIT) == 1
    assert capsys.readouterr().err == "amanat: the two entries differ\n"
    assert not (tmp_path / "org.key").exists()


def test_library_check() -> None:
    with pytest.raises(WeakPassphraseError, match="the passphrase is empty"):
        check_new_passphrase("", protects="the organization key")
    with pytest.raises(WeakPassphraseError, match="estimate is 0 of 4"):
        check_new_passphrase("short", protects="the organization key")
    check_new_passphrase(STRONG, protects="the organization key")
    # A long passphrase is judged on its beginning (zxcvbn itself refuses long inputs).
    long = " ".join([STRONG] * 10)
    assert len(long) > MAX_SCORED_CHARS
    assert estimate(long).score == 4
    assert estimate("a" * 500).score < 4
    # Uppercase advice is for Latin letters; zxcvbn's test mistakes Cyrillic for uppercase.
    assert not any("uppercase" in s for s in estimate("айгүл").suggestions)
    assert any("uppercase" in s for s in estimate("PASSWORD").suggestions)
    assert context_words("example.org/amanat") == [
        "amanat", "example.org/amanat", "example", "org", "amanat"]


def test_generated_passphrases_are_strong(tmp_path: Path) -> None:
    for _ in range(20):
        check_new_passphrase(dev_passphrase(), protects="the organization key",
                             user_inputs=context_words("dev-only.amanat.invalid"))
        check_new_passphrase(Demo(tmp_path, io.StringIO()).passphrase,
                             protects="the organization key",
                             user_inputs=context_words("demo.amanat.invalid"))
