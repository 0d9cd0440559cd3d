"""``amanat form template`` writes an answers file that is valid as it is.

Its notes are ``#`` lines, which the answers reader ignores (and only those: a ``#`` inside a
string is an answer); every question of the schema is in it, each as a note whose empty
value is refused until it is filled in; ``--language`` sets the language the file declares,
which reaches the manifest unless the statement's language is given otherwise.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.workflows.conftest import PASSPHRASE, World, amanat, base_env
from vault.answers import answers_template, without_notes
from vault.bundle import open_bundle
from vault.testimony import SCHEMA
from vault.witness import FormError, read_form


def template(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return amanat(["form", "template", *args], cwd=cwd, check=check)


@pytest.mark.parametrize(("tag", "line"), [
    ("ug", '  "language": "ug",'),
    ("kk-Cyrl", '  "language": "kk-Cyrl",'),
])
def test_template_declares_the_language_given(tmp_path: Path, tag: str, line: str) -> None:
    written = template("--language", tag, cwd=tmp_path)
    assert written.stdout.startswith("# amanat answers file: what you know about each "
                                     "detained person.\n")
    assert line in written.stdout.splitlines()
    assert '      "status": "unknown"' in written.stdout.splitlines()
    assert read_form(written.stdout.encode()).language == tag
    assert written.stderr == ""


def test_template_without_a_language_leaves_it_to_fill_in(tmp_path: Path) -> None:
    text = template(cwd=tmp_path).stdout
    assert '  # "language": "",' in text.splitlines()
    assert read_form(text.encode()).language == "und"


def test_template_refuses_a_language_that_is_not_a_tag(tmp_path: Path) -> None:
    refused = template("--language", "Uyghur language", cwd=tmp_path, check=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.startswith("amanat: --language: language must be a BCP 47 language "
                                     "tag")
    assert refused.stderr.count("\n") == 1


def test_template_file_never_replaces_one(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    template("--language", "ug", "-o", str(answers), cwd=tmp_path)
    assert os.stat(answers).st_mode & 0o777 == 0o600  # it will name people once filled in
    written = answers.read_text("utf-8")
    assert written == answers_template("ug")
    answers.write_text(written.replace('"status": "unknown"', '"status": "camp"'), "utf-8")
    kept = answers.read_text("utf-8")
    again = template("-o", str(answers), cwd=tmp_path, check=False)
    assert again.returncode == 1
    assert again.stderr == (f"amanat: {answers} already exists and may hold answers; choose "
                            "another name\n")
    assert answers.read_text("utf-8") == kept


def test_template_asks_every_question_of_the_schema() -> None:
    text = answers_template("ug")
    for name in SCHEMA["$defs"]["person"]["properties"]:
        assert f'"{name}": ' in text, name


def test_an_answer_uncommented_but_not_filled_in_is_refused() -> None:
    text = answers_template("ug")
    for name, problem in (("name_latin", "person 1: name_latin must not be empty"),
                          ("gender", "person 1: gender must be one of female, male, other, "
                                     "unknown (not '')"),
                          ("birth_year", "person 1: birth_year must be")):
        opened = text.replace(f'      # "{name}": ', f'      "{name}": ')
        with pytest.raises(FormError) as caught:
            read_form(opened.encode())
        assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_only_whole_note_lines_are_ignored() -> None:
    text = ('# a note\n{\n  "persons": [\n    # another\n    {"status": "camp",\n'
            '     "charges": "room #3\u2028cell 5",\n      \t# indented note\n'
            '     "sentence": "#1"}]}\n')
    assert without_notes(text).count("\n") == text.count("\n")  # line numbers are kept
    (person,) = read_form(text.encode()).persons
    assert person.charges == "room #3\u2028cell 5" and person.sentence == "#1"
    with pytest.raises(FormError) as caught:
        read_form(b'# a note\n# another\n{"persons": [}\n')
    assert "line 3" in caught.value.problems[0]


def test_the_file_language_and_the_statement_language_must_agree() -> None:
    text = answers_template("kk").encode()
    assert read_form(text, language="kk").language == "kk"
    with pytest.raises(FormError) as caught:
        read_form(text, language="ug")
    assert caught.value.problems == (
        "the answers file says its language is 'kk', but the testimony's language is given "
        "as 'ug': make them agree, or leave one out",)


def test_the_unchanged_template_is_sealed_with_its_language(world: World,
                                                           tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    template("--language", "kk", "-o", str(answers), cwd=tmp_path)
    sealed = tmp_path / "t.age"
    (tmp_path / "statement.txt").write_text("My uncle was taken.\n", "utf-8")
    amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org", world.org_vkey,
            "--form", str(answers), "--statement", "statement.txt", "--no-reply", "-o",
            str(sealed)], cwd=tmp_path)
    opened = amanat(["decrypt", "-i", world.identity("a"), "-o", str(tmp_path / "t.tar"),
                     str(sealed)], cwd=tmp_path, env=base_env(AMANAT_PASSPHRASE=PASSPHRASE))
    assert opened.returncode == 0
    bundle = open_bundle(io.BytesIO((tmp_path / "t.tar").read_bytes()))
    assert bundle.manifest.language == "kk"
    assert json.loads(bundle.manifest.to_json())["persons"] == [{"status": "unknown"}]
    differ = amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org",
                     world.org_vkey, "--form", str(answers), "--language", "ug", "--no-reply",
                     "-o", str(tmp_path / "u.age")], cwd=tmp_path, check=False)
    assert differ.returncode == 1
    assert not (tmp_path / "u.age").exists()
    assert f"amanat: {answers}: the answers file says its language is 'kk'" in differ.stderr


@pytest.mark.parametrize("brk", ["\u2028", "\u2029", "\x85"])
def test_a_line_that_only_looks_like_a_note_is_refused(brk: str) -> None:
    """An editor that breaks lines at U+2028 shows '# ...' as a note, but it is inside the
    answer and would be sent: a file handed to a witness could carry words they never see."""
    text = ('{"persons": [{"status": "camp",\n'
            f'  "charges": "none{brk}  # 4f1c-marker",\n'
            '  "sentence": "unknown"}]}\n')
    with pytest.raises(FormError) as caught:
        read_form(text.encode())
    assert caught.value.problems == (
        "line 2 of the answers file has a line break some editors show but JSON does not "
        "(U+2028, U+2029 or U+0085) before a #: what looks like a note there would be sent "
        "as part of an answer; remove that character",)


def test_a_key_given_twice_is_refused_not_overridden() -> None:
    """Only the last of two equal keys would be sent; the witness may have read the first."""
    text = b'{"persons": [{"status": "released", "status": "camp"}]}'
    with pytest.raises(FormError) as caught:
        read_form(text)
    assert caught.value.problems == (
        "the answers file gives 'status' twice in one place: keep the right one and delete "
        "the other",)


def test_deep_nesting_is_a_sentence_not_a_crash() -> None:
    with pytest.raises(FormError) as caught:
        read_form(b"[" * 100_000 + b"]" * 100_000)
    assert caught.value.problems == ("the answers file is nested too deeply to be answers",)


def test_the_unchanged_template_alone_is_nothing_to_send(world: World, tmp_path: Path) -> None:
    """A template sent without a single answer, statement or attachment would deliver an
    empty testimony: it is refused, and the witness told how to answer."""
    answers = tmp_path / "answers.json"
    template("-o", str(answers), cwd=tmp_path)
    for command in (["seal", "--roster", str(world.admin / "roster.txt"), "-o", "t.age"],
                    ["submit", "--server", world.server.url]):
        refused = amanat([*command, "--org", world.org_vkey, "--form", str(answers),
                          "--no-reply"], cwd=tmp_path, check=False)
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == (f"amanat: nothing to send: {answers} has no answers yet "
                                  "(remove the # before a question to answer it), and there "
                                  "is no --statement or --attach\n")
    assert not (tmp_path / "t.age").exists()
