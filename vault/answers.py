"""The answers file (``submit --form FILE``): its notes, and a template to start from.

An answers file is JSON, as ``vault.witness.read_form`` reads it, with one addition: a line
whose first character other than spaces or tabs is ``#`` is a note and is ignored. That is
sound for every JSON text: a JSON string cannot hold a raw line break, so such a line is never
inside a string, and no JSON value starts with ``#``, so a file without notes means what it
always meant. Notes are blanked rather than removed, so a JSON error names the line the
witness sees in their editor. What an editor may show as a line break but JSON does not
(U+2028, U+2029, U+0085 inside a string) is refused before a ``#``, so no text that is sent
can pass for a note; a key given twice in one object is refused (only the last would count).

`answers_template` writes a file that validates as it is and describes every question of the
manifest schema (``vault.testimony.SCHEMA``): each optional answer is a note to uncomment, with
an empty value that is refused until it is filled in, so a line uncommented by mistake cannot
send an invented answer. The schema has no translated labels, so the notes are in English;
``language`` sets the tag the file declares for its answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from vault.testimony import SCHEMA

__all__ = ["HiddenAnswerError", "answers_template", "without_notes"]

NOTE: Final = "#"

# Each optional answer of a person, in the order asked, with the empty value written for it
# (every one of them is refused by the schema until it is filled in).
_EMPTY_ANSWERS: Final = (
    ("name_native", '""'),
    ("name_latin", '""'),
    ("gender", '""'),
    ("birth_year", "null"),
    ("age_at_detention", '{"min": null, "max": null}'),
    ("ethnicity", '""'),
    ("hometown", '{"prefecture": "", "county": "", "village": ""}'),
    ("relation", '""'),
    ("detention", '{"date": "", "place": ""}'),
    ("charges", '""'),
    ("sentence", '""'),
    ("last_contact", '{"date": "", "details": ""}'),
    ("how_known", '""'),
    ("how_known_details", '""'),
)

_HEADER: Final = """\
# amanat answers file: what you know about each detained person.
# Use it with `amanat submit --form FILE` (or `amanat seal --form FILE`).
#
# Lines starting with # are notes; they are ignored. To answer a question, remove the #
# at the start of its line and write your answer between the quotes (a number without
# quotes). Leave out what you do not know. Only "status" is required.
# Dates may be approximate: 2018, 2018-03, 2018-03-12, 2018-21 (spring 2018),
# 2018~ (about 2018), 2017/2018-06 (between the two).
# For another person, copy everything from { to } and put a comma between the two.
#
# This file names people: keep it out of sight, and delete it once it is sent.
"""


class HiddenAnswerError(ValueError):
    """A line that some editors show as a note is part of an answer, and would be sent."""


# Characters JSON allows raw inside a string that some editors show as a line break.
_OTHER_BREAKS: Final = re.compile("[\u2028\u2029\x85]")


def _is_note(line: str) -> bool:
    return line.lstrip(" \t\r").startswith(NOTE)


def without_notes(text: str) -> str:
    """``text`` with every note line (first character other than blanks ``#``) blanked.

    Raises HiddenAnswerError when a line only looks like a note: after a U+2028, U+2029 or
    U+0085 inside an answer, which some editors show as a new line, so that a witness
    reading the file there would see a note where there is text that is sent."""
    lines = text.split("\n")  # only "\n": JSON allows a raw U+2028 inside a string
    for number, line in enumerate(lines, start=1):
        if not _is_note(line) and any(_is_note(part) for part in _OTHER_BREAKS.split(line)[1:]):
            raise HiddenAnswerError(
                f"line {number} of the answers file has a line break some editors show but "
                "JSON does not (U+2028, U+2029 or U+0085) before a #: what looks like a note "
                "there would be sent as part of an answer; remove that character")
    return "\n".join("" if _is_note(line) else line for line in lines)


def _describe(name: str, schema: Mapping[str, Any]) -> str:
    """One line saying what the answer ``name`` is, from the schema's own words."""
    if "enum" in schema:
        return f"{name}: one of {', '.join(schema['enum'])}"
    if "description" in schema:
        words = str(schema["description"])
    else:
        parts = schema.get("properties", {})
        words = "; ".join(f"{key}: {_describe_part(part)}" for key, part in parts.items())
    return f"{name}: {words}"


def _describe_part(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        return "an approximate date (see above)"
    if "description" in schema:
        return str(schema["description"])
    return f"{schema.get('minimum', 0)} to {schema.get('maximum', '')}"


def answers_template(language: str | None = None) -> str:
    """A commented answers file for one person, valid as it is (status ``unknown``).

    ``language`` (a BCP 47 tag) is written as the language of the answers; without it the
    line is a note to fill in.
    """
    person: Mapping[str, Any] = SCHEMA["$defs"]["person"]["properties"]
    lines = [_HEADER.rstrip("\n"), "{"]
    lines.append("  # the language of your answers, e.g. ug, kk-Cyrl, zh-Hans")
    lines.append(f'  "language": {json.dumps(language)},' if language is not None
                 else '  # "language": "",')
    lines.append('  "persons": [')
    lines.append("    {")
    for name, empty in _EMPTY_ANSWERS:
        lines.append(f"      # {_describe(name, person[name])}")
        if name == "birth_year":
            lines.append("      #   (give birth_year or age_at_detention, not both)")
        lines.append(f'      # "{name}": {empty},')
    lines.append(f"      # {_describe('status', person['status'])} (required)")
    lines.append('      "status": "unknown"')
    lines.extend(["    }", "  ]", "}", ""])
    return "\n".join(lines)
