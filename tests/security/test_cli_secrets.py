"""Secrets never reach argv, and errors never repeat them.

* No command or option of `amanat` takes a passphrase, password, codename, token, seed or
  secret key as a value: command lines are visible to every user of a machine (``ps``,
  ``/proc/*/cmdline``) and are kept in shell history. Checked on the parser itself and on
  the ``--help`` text of every command.
* Every command that unlocks a key file, given a wrong passphrase, says so in one line that
  does not contain the passphrase it was given (nor the right one).
* A mistyped codename is refused without echoing any of its words.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from tests.api.vaultkit import FAST_KDF
from vault.cli import build_parser, main
from vault.codename import new_codename

SECRET_WORDS = re.compile(r"pass(word|phrase)|codename|secret|token|seed|mnemonic|private",
                          re.IGNORECASE)
RIGHT = "right passphrase, kept out of every message"
WRONG = "wrong passphrase that must not be echoed"


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
             ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command parser, with the words that select it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def value_actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.nargs == 0:  # a flag: carries no value
            continue
        yield action


def test_no_option_or_argument_takes_a_secret() -> None:
    seen = 0
    for path, parser in commands(build_parser()):
        for action in value_actions(parser):
            seen += 1
            # Names and placeholders, not the help (which says where secrets do come from).
            described = " ".join(filter(None, [*action.option_strings, action.dest,
                                               str(action.metavar or "")]))
            assert not SECRET_WORDS.search(described), (
                f"`amanat {' '.join(path)}` takes a secret-looking value: {described}")
    assert seen > 50  # the walk reached every command


def test_the_checker_would_see_a_secret_option() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passphrase", metavar="TEXT")
    [action] = list(value_actions(parser))
    assert SECRET_WORDS.search(" ".join(action.option_strings))


def test_help_of_every_command_offers_no_secret_option(
        capsys: pytest.CaptureFixture[str]) -> None:
    leaves = [path for path, parser in commands(build_parser()) if path and not any(
        isinstance(a, argparse._SubParsersAction) for a in parser._actions)]
    assert {("submit",), ("replies",), ("open",), ("keys", "new"), ("org", "init")} <= set(
        leaves)
    parsers = dict(commands(build_parser()))
    for path in leaves:
        with pytest.raises(SystemExit) as exited:
            main([*path, "--help"])
        assert exited.value.code == 0
        text = capsys.readouterr().out
        options = re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", text)
        assert options, path
        # A flag carries no value (`encrypt -p/--passphrase` asks for the passphrase).
        flags = {s for a in parsers[path]._actions if a.nargs == 0 for s in a.option_strings}
        for option in options:
            if option not in flags:
                assert not SECRET_WORDS.search(option), f"amanat {' '.join(path)}: {option}"


@pytest.fixture
def key_files(tmp_path: Path) -> dict[str, Path]:
    identity = InvestigatorIdentity.generate("Ayla Investigator")
    org = OrgKey.generate("secrets.example/amanat")
    paths = {"identity": tmp_path / "ayla.identity", "org": tmp_path / "org.key"}
    paths["identity"].write_bytes(identity.seal(RIGHT, FAST_KDF))
    paths["org"].write_bytes(org.seal(RIGHT, FAST_KDF))
    card = tmp_path / "ayla.card"
    card.write_text(identity.card().format())
    paths["card"] = card
    paths["roster"] = tmp_path / "roster.txt"
    paths["sealed"] = tmp_path / "sealed.age"
    return paths


def test_wrong_passphrase_is_one_line_without_any_passphrase(
        key_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from vault import age

    key_files["sealed"].write_bytes(age.encrypt_bytes(b"x", [age.X25519Identity.generate()
                                                             .recipient()]))
    runs = [
        ["keys", "card", str(key_files["identity"])],
        ["keys", "export-age", str(key_files["identity"])],
        ["keys", "passwd", str(key_files["identity"])],
        ["decrypt", "-i", str(key_files["identity"]), str(key_files["sealed"])],
        ["org", "vkey", str(key_files["org"])],
        ["roster", "add", "--org", str(key_files["org"]), "--roster",
         str(key_files["roster"]), str(key_files["card"])],
    ]
    monkeypatch.setenv("AMANAT_PASSPHRASE", WRONG)
    for argv in runs:
        status = main(argv)
        captured = capsys.readouterr()
        assert status != 0, argv
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amanat: "), (argv, captured.err)
        assert "passphrase" in lines[0], (argv, lines[0])
        for secret in (WRONG, RIGHT):
            assert secret not in captured.err + captured.out, argv
    assert not key_files["roster"].exists()


def test_codename_typo_is_refused_without_echoing_a_word(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def refusal(typed: str) -> str:
        monkeypatch.setenv("AMANAT_CODENAME", typed)
        # Refused before any network: the server address is never contacted.
        status = main(["replies", "--server", "http://127.0.0.1:9"])
        captured = capsys.readouterr()
        assert status != 0
        return captured.err + captured.out

    words = new_codename().split()
    said = refusal(" ".join([*words[:5], "zzzwrongword", *words[6:]]))
    assert "word 6" in said
    assert "zzzwrongword" not in said
    # What is said depends on where the typo is, never on the words: the same refusal for
    # another codename with a typo at the same place (a word of the message, such as "word",
    # can also be a codename word, so searching the text for each word would be a coin toss).
    others = new_codename().split()
    assert refusal(" ".join([*others[:5], "qqqotherword", *others[6:]])) == said


def test_undecodable_passphrase_is_refused_without_quoting_it(
        key_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Bytes that are not UTF-8 (a terminal in another encoding, the environment) reach
    Python as lone surrogates; the codec's own message would quote one and its position."""
    from keys.errors import KeysError
    from keys.keyfile import open_key_file, seal_key_file

    odd = "abc\udcffdef-rest-of-the-passphrase"
    data = key_files["identity"].read_bytes()
    for attempt in (lambda: open_key_file(data, "amanat.identity/v2", odd),
                    lambda: seal_key_file("amanat.identity/v2", b"x", odd, FAST_KDF)):
        with pytest.raises(KeysError) as caught:
            attempt()
        message = str(caught.value)
        assert message == "the passphrase is not valid UTF-8 text"
    monkeypatch.setenv("AMANAT_PASSPHRASE", odd)
    assert main(["keys", "card", str(key_files["identity"])]) != 0
    captured = capsys.readouterr()
    assert "not valid UTF-8" in captured.err
    for fragment in ("\\udcff", "position", "def-rest", "abc"):
        assert fragment not in captured.err
