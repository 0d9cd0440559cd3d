"""The testimony manifest (schema ``amanat/testimony/v2``): what a witness says, structured.

The manifest is the first member (``manifest.json``) of the sealed bundle. It carries the
witness's statement, structured answers about each detained person, the list of attachments
with their hashes, the witness's consent for publication and, optionally, where replies go.

Properties protected:

* **Nothing in it identifies the witness by accident.** There is no creation time, no device
  or software name, no time zone; approximate dates are the witness's own answers. (The
  server records arrival time rounded down to the hour; the manifest adds nothing finer.)
* **Investigators can trust its shape.** ``Manifest.from_json`` accepts only input that
  validates against the published schema (``docs/testimony.schema.json``, a copy
  of ``SCHEMA`` below, checked by the tests) plus the semantic checks a schema cannot express
  (calendar dates, nothing in the future, ranges in order, unique attachment names); it
  raises ``ManifestError`` with every problem found, never a partial object.
* **One encoding.** ``Manifest.to_json`` is canonical: UTF-8, keys sorted, no insignificant
  whitespace, no NaN/Infinity, absent answers omitted (never ``null``).

Versions. Writers write ``amanat/testimony/v2``; readers accept v1 and v2. v2 says the
reply address (if any) was derived from the codename with derivation version 2
(`vault.codename`), and adds an optional ``orientation`` to each attachment: the EXIF
orientation (1–8) of the original image, recorded when its metadata was removed without
re-encoding the pixels (the web page does that), so that an investigator can show it
upright. A v1 manifest carries no ``orientation``.

Approximate dates (a subset of ISO 8601-2 / EDTF level 1; EDTF's "~" is kept, its "?"
and "%" are not)::

    date     = year [ "-" month [ "-" day ] ] | year "-" season
    year     = 4 digits, 1900–2999;  month = 01–12;  day = 01–31 (must exist in that month)
    season   = 21 spring (Mar–May) | 22 summer (Jun–Aug) | 23 autumn (Sep–Nov)
               | 24 winter (Dec of that year – Feb of the next)
    single   = date [ "~" ]          "~" = about / approximately
    approx   = single | single "/" single      an interval: start no later than end

Examples: ``2018``, ``2018-03``, ``2018-03-12``, ``2018-21`` (spring 2018), ``2018~``,
``2017/2018-06``. A date may not begin after today.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Final

import jsonschema  # type: ignore[import-untyped]
import jsonschema.validators  # type: ignore[import-untyped]

from vault import age

__all__ = [
    "ATTACHMENT_MAX_SIZE",
    "ATTACHMENT_NAME_MAX_BYTES",
    "CONSENT_LEVELS",
    "GENDERS",
    "HOW_KNOWN",
    "MANIFEST_MAX_BYTES",
    "SCHEMA",
    "SCHEMA_ID",
    "SCHEMA_IDS",
    "SCHEMA_ID_V1",
    "STATUSES",
    "AgeRange",
    "Attachment",
    "Detention",
    "Hometown",
    "LastContact",
    "Manifest",
    "ManifestError",
    "Person",
    "Problem",
    "Reply",
    "date_span",
    "validate_answers",
]

SCHEMA_ID: Final = "amanat/testimony/v2"  # what writers write
SCHEMA_ID_V1: Final = "amanat/testimony/v1"
SCHEMA_IDS: Final = (SCHEMA_ID_V1, SCHEMA_ID)  # what readers accept
MANIFEST_MAX_BYTES: Final = 8 * 1024 * 1024
ATTACHMENT_NAME_MAX_BYTES: Final = 100
ATTACHMENT_MAX_SIZE: Final = 8**11 - 1  # the largest size a USTAR header can hold (8 GiB - 1)

STATUSES: Final = ("camp", "prison", "police_custody", "released", "died", "unknown")
CONSENT_LEVELS: Final = ("none", "anonymised", "full")
GENDERS: Final = ("female", "male", "other", "unknown")
HOW_KNOWN: Final = (
    "witnessed",  # the witness saw it themselves
    "family",  # told by family members
    "acquaintance",  # told by someone else they know
    "official",  # an official notice, document or call
    "public",  # media, social media, public records
    "other",
)

_YEAR = r"(?:19|2[0-9])[0-9]{2}"
_DATE = (
    rf"{_YEAR}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12][0-9]|3[01]))?|-2[1-4])?~?"
)
APPROXIMATE_DATE_PATTERN: Final = rf"^{_DATE}(?:/{_DATE})?$"
# Path and shell characters, controls, and the bidirectional controls that make a name show
# as another ("photo\u202egpj.exe" shows as "photoexe.jpg"); also valid in ECMA-262 "u" mode.
_FORBIDDEN_IN_NAME = (r'/\\:*?"<>|\x00-\x1f\x7f'
                      r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069")
ATTACHMENT_NAME_PATTERN: Final = (
    rf"^[^{_FORBIDDEN_IN_NAME}\s.](?:[^{_FORBIDDEN_IN_NAME}]*[^{_FORBIDDEN_IN_NAME}\s.])?$"
)


def _text(max_length: int, description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "description": description}


_APPROX_DATE: dict[str, Any] = {
    "type": "string",
    "pattern": APPROXIMATE_DATE_PATTERN,
    "description": (
        "an approximate date such as 2018, 2018-03, 2018-03-12, 2018-21 (spring 2018), "
        "2018~ (about 2018) or 2017/2018 (between)"
    ),
}

SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:amanat:testimony:v2",
    "title": "amanat testimony manifest, version 2 (and version 1, which it extends)",
    "description": (
        "manifest.json, the first member of a sealed amanat bundle. Deliberately carries no "
        "creation time and nothing about the witness's device."
    ),
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "language", "statement", "publication_consent", "persons",
                 "attachments"],
    "properties": {
        "schema": {
            "enum": list(SCHEMA_IDS),
            "description": (
                f'"{SCHEMA_ID}" (written now: a reply address derived with codename '
                f'derivation version 2, attachments may give an orientation) or '
                f'"{SCHEMA_ID_V1}" (earlier: codename derivation version 1, no orientation)'
            ),
        },
        "language": {
            "type": "string",
            "maxLength": 35,
            "pattern": (
                r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
                r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
            ),
            "description": (
                "a BCP 47 language tag (language[-Script][-REGION][-variant]) such as ug, "
                "kk-Cyrl, ug-Arab-CN or zh-Hans"
            ),
        },
        "statement": {
            "type": "string",
            "maxLength": 1_000_000,
            "description": "the witness's own words, in any script",
        },
        "publication_consent": {
            "enum": list(CONSENT_LEVELS),
            "description": (
                "none: investigators only; anonymised: may be published without anything "
                "that identifies the witness; full: may be published as given"
            ),
        },
        "persons": {
            "type": "array",
            "maxItems": 1000,
            "items": {"$ref": "#/$defs/person"},
            "description": "one entry for each detained person the testimony is about",
        },
        "attachments": {
            "type": "array",
            "maxItems": 10_000,
            "items": {"$ref": "#/$defs/attachment"},
        },
        "reply": {
            "type": "object",
            "additionalProperties": False,
            "required": ["recipient", "mailbox_id"],
            "description": "where investigators may answer; absent if the witness wants none",
            "properties": {
                "recipient": {
                    "type": "string",
                    "pattern": "^age1pq1[02-9ac-hj-np-z]{1952}$",
                    "description": "an age post-quantum recipient (age1pq1…, 1,959 characters)",
                },
                "mailbox_id": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "hex SHA-256 of the mailbox secret (64 lowercase hex digits)",
                },
            },
        },
    },
    "if": {"required": ["schema"], "properties": {"schema": {"const": SCHEMA_ID_V1}}},
    "then": {
        "properties": {
            "attachments": {
                "items": {
                    "not": {"required": ["orientation"]},
                    "description": (
                        f"orientation is a field of {SCHEMA_ID}; a manifest of {SCHEMA_ID_V1} "
                        "has none"
                    ),
                },
            },
        },
    },
    "$defs": {
        "approximate_date": _APPROX_DATE,
        "person": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status"],
            "properties": {
                "name_native": _text(300, "the name in its own script"),
                "name_latin": _text(300, "the name in Latin letters"),
                "gender": {"enum": list(GENDERS)},
                "birth_year": {
                    "type": "integer",
                    "minimum": 1880,
                    "maximum": 2999,
                    "description": "year of birth",
                },
                "age_at_detention": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["min", "max"],
                    "description": "age in whole years when detained, as a range",
                    "properties": {
                        "min": {"type": "integer", "minimum": 0, "maximum": 130},
                        "max": {"type": "integer", "minimum": 0, "maximum": 130},
                    },
                },
                "ethnicity": _text(100, "e.g. Uyghur, Kazakh, Kyrgyz, Hui"),
                "hometown": {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {
                        "prefecture": _text(200, "prefecture or city"),
                        "county": _text(200, "county or district"),
                        "village": _text(200, "village, township or neighbourhood"),
                    },
                },
                "detention": {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {
                        "date": {"$ref": "#/$defs/approximate_date"},
                        "place": _text(500, "where they were taken or are held"),
                    },
                },
                "status": {
                    "enum": list(STATUSES),
                    "description": "what is known now (police_custody: held by police)",
                },
                "charges": _text(2000, "charges, if known"),
                "sentence": _text(2000, "sentence, if known"),
                "last_contact": {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {
                        "date": {"$ref": "#/$defs/approximate_date"},
                        "details": _text(2000, "how and what was said"),
                    },
                },
                "relation": _text(200, "the witness's relation to this person, e.g. daughter"),
                "how_known": {"enum": list(HOW_KNOWN)},
                "how_known_details": _text(2000, "how the witness knows, in their words"),
            },
            "dependentSchemas": {
                "birth_year": {
                    "description": "give either birth_year or age_at_detention, not both",
                    "not": {"required": ["age_at_detention"]},
                },
            },
        },
        "attachment": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "media_type", "size", "sha256_before_cleaning",
                         "sha256_after_cleaning", "metadata_kept"],
            "properties": {
                "name": {
                    "type": "string",
                    "maxLength": ATTACHMENT_NAME_MAX_BYTES,
                    "pattern": ATTACHMENT_NAME_PATTERN,
                    "description": (
                        "a file name (at most 100 bytes of UTF-8) without / \\ : * ? \" < > |, "
                        "control characters or bidirectional controls (which make a name "
                        "show as another), not starting with a dot or space and not ending "
                        "with a dot or space"
                    ),
                },
                "media_type": {
                    "type": "string",
                    "maxLength": 255,
                    "pattern": r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$",
                    "description": "a lowercase media type such as image/jpeg",
                },
                "size": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": ATTACHMENT_MAX_SIZE,
                    "description": "size in bytes of the stored (cleaned) file (USTAR limit)",
                },
                "sha256_before_cleaning": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "hex SHA-256 of the file as the witness chose it",
                },
                "sha256_after_cleaning": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "hex SHA-256 of the stored file (after metadata cleaning)",
                },
                "metadata_kept": {
                    "type": "boolean",
                    "description": "true if the witness asked to keep the file's metadata",
                },
                "orientation": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 8,
                    "description": (
                        "the EXIF orientation (1-8) of the original image, recorded when its "
                        "metadata was removed without re-encoding it, so it can be shown "
                        f"upright ({SCHEMA_ID} only; absent if unknown or not an image)"
                    ),
                },
            },
        },
    },
}

# JSON Schema counts 1.0 as an integer; a manifest never needs a fraction, so refuse floats.
_TYPE_CHECKER = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
)


def _ecma_pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterable[jsonschema.ValidationError]:
    """"pattern" as ECMA-262 reads it: "$" matches only at the very end of the text.

    (Python's "$" also matches before a final newline, so "photo.jpg\\n" would pass.)
    """
    if not isinstance(instance, str):
        return
    python_pattern = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if re.search(python_pattern, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    validators={"pattern": _ecma_pattern},
    type_checker=_TYPE_CHECKER,
)
_VALIDATOR = _Validator(SCHEMA)


class ManifestError(ValueError):
    """A manifest could not be read; ``problems`` lists everything wrong with it."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[Problem, ...] = tuple(problems)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest, addressed to the person who can fix it."""

    path: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------------------------------
# Approximate dates


_SEASON_MONTHS: Final = {21: 3, 22: 6, 23: 9, 24: 12}


def _single_span(text: str) -> tuple[datetime.date, datetime.date]:
    text = text.removesuffix("~")
    parts = [int(p) for p in text.split("-")]
    year = parts[0]
    if len(parts) == 1:
        return datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    month = parts[1]
    if month in _SEASON_MONTHS:
        start = datetime.date(year, _SEASON_MONTHS[month], 1)
        end_month = _SEASON_MONTHS[month] + 2
        end_year = year + (end_month - 1) // 12
        end_month = (end_month - 1) % 12 + 1
        last = calendar.monthrange(end_year, end_month)[1]
        return start, datetime.date(end_year, end_month, last)
    if len(parts) == 2:
        last = calendar.monthrange(year, month)[1]
        return datetime.date(year, month, 1), datetime.date(year, month, last)
    day = datetime.date(year, month, parts[2])  # ValueError if the day does not exist
    return day, day


def date_span(text: str) -> tuple[datetime.date, datetime.date]:
    """Return the first and last calendar day an approximate date can mean.

    Raises ValueError if ``text`` is not in the approximate-date form, names a day that does
    not exist (2018-02-30), or is an interval whose start is after its end. The "~" marker
    does not widen the span: it only records that the witness is unsure.
    """
    if not re.fullmatch(APPROXIMATE_DATE_PATTERN, text):
        raise ValueError(f"{text!r} is not an approximate date such as 2018, 2018-03 or 2018-21")
    first, _, second = text.partition("/")
    try:
        start, end = _single_span(first)
        if second:
            second_start, end = _single_span(second)
            if second_start < start:
                raise ValueError(f"the interval {text} ends before it starts")
    except ValueError as exc:
        if "interval" in str(exc):
            raise
        raise ValueError(f"{text} names a day that does not exist") from None
    return start, end


# ---------------------------------------------------------------------------------------------
# Turning schema errors into sentences


_FIELD_LABELS: Final = {"persons": "person", "attachments": "attachment"}
_TYPE_WORDS: Final = {
    "string": "text",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a group of answers (a JSON object)",
    "array": "a list",
}


def _where(path: Sequence[str | int]) -> tuple[str, str]:
    """Split a path into (who, field): ("persons", 0, "status") → ("person 1", "status")."""
    who = ""
    rest = list(path)
    if len(rest) >= 2 and isinstance(rest[1], int) and rest[0] in _FIELD_LABELS:
        who = f"{_FIELD_LABELS[str(rest[0])]} {rest[1] + 1}"
        rest = rest[2:]
    return who, ".".join(str(p) if isinstance(p, str) else f"[{p + 1}]" for p in rest)


def _sentence(who: str, text: str) -> str:
    return f"{who}: {text}" if who else text


def _describe(error: jsonschema.ValidationError) -> Problem:
    path = tuple(error.absolute_path)
    who, name = _where(path)
    subject = name or who or "the manifest"
    if not name:
        who = ""  # the person or attachment itself is the subject: "person 1 must be ..."
    schema: Mapping[str, Any] = error.schema
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        missing = ", ".join(k for k in value if k not in error.instance)
        if subject.startswith(("person", "attachment")):
            text = f"{subject}: {missing} is missing"  # "person 1: status is missing"
        else:
            text = f"{subject} is missing {missing}"
    elif kind == "additionalProperties":
        extra = sorted(k for k in error.instance if k not in schema.get("properties", {}))
        text = f"{subject} has an unknown field {extra[0]!r}"
    elif kind == "enum":
        text = f"{subject} must be one of {', '.join(value)} (not {error.instance!r})"
    elif kind == "const":
        text = f"{subject} must be {value!r}"
    elif kind == "type":
        text = f"{subject} must be {_TYPE_WORDS.get(str(value), str(value))}"
    elif kind == "pattern":
        text = f"{subject} must be {schema.get('description', 'in the documented form')}"
    elif kind == "minLength":
        text = f"{subject} must not be empty"
    elif kind == "maxLength":
        text = f"{subject} is too long (at most {value} characters)"
    elif kind == "minimum":
        text = f"{subject} must be at least {value} (not {error.instance})"
    elif kind == "maximum":
        text = f"{subject} must be at most {value} (not {error.instance})"
    elif kind == "maxItems":
        text = f"{subject} may list at most {value} entries"
    elif kind == "minProperties":
        text = f"{subject} must contain at least one answer, or be left out"
    elif kind == "not":
        text = f"{subject}: {schema.get('description', 'this combination is not allowed')}"
    else:  # pragma: no cover - every keyword SCHEMA uses is handled above
        text = f"{subject}: {error.message}"
    return Problem(path, _sentence(who, text))


def _semantic_problems(obj: Mapping[str, Any], today: datetime.date) -> list[Problem]:
    """Checks a schema cannot express; ``obj`` already conforms to SCHEMA."""
    problems: list[Problem] = []

    def check_date(path: tuple[str | int, ...], text: str) -> datetime.date | None:
        who, name = _where(path)
        try:
            start, _ = date_span(text)
        except ValueError as exc:
            problems.append(Problem(path, _sentence(who, f"{name}: {exc}")))
            return None
        if start > today:
            problems.append(Problem(path, _sentence(who, f"{name} {text} is in the future")))
        return start

    for index, person in enumerate(obj["persons"]):
        base: tuple[str | int, ...] = ("persons", index)
        who = f"person {index + 1}"
        detained: datetime.date | None = None
        for group in ("detention", "last_contact"):
            when = person.get(group, {}).get("date")
            if when is not None:
                start = check_date((*base, group, "date"), when)
                if group == "detention":
                    detained = start
        birth_year = person.get("birth_year")
        if birth_year is not None:
            if birth_year > today.year:
                problems.append(Problem(
                    (*base, "birth_year"), f"{who}: birth_year {birth_year} is in the future"))
            elif detained is not None and birth_year > detained.year:
                problems.append(Problem(
                    (*base, "birth_year"),
                    f"{who}: birth_year {birth_year} is after the detention date"))
        ages = person.get("age_at_detention")
        if ages is not None and ages["min"] > ages["max"]:
            problems.append(Problem(
                (*base, "age_at_detention"),
                f"{who}: age_at_detention min {ages['min']} is greater than max {ages['max']}"))

    seen: dict[str, int] = {}
    for index, attachment in enumerate(obj["attachments"]):
        name = attachment["name"]
        path: tuple[str | int, ...] = ("attachments", index, "name")
        who = f"attachment {index + 1}"
        if len(name.encode("utf-8")) > ATTACHMENT_NAME_MAX_BYTES:
            problems.append(Problem(
                path, f"{who}: name is longer than {ATTACHMENT_NAME_MAX_BYTES} bytes of UTF-8"))
        # As file systems compare names: ignoring letter case (Windows, macOS) and Unicode
        # normalisation (macOS: "é" as one character or as "e" and an accent).
        key = unicodedata.normalize("NFKC", name).casefold()
        if key in seen:
            problems.append(Problem(
                path, f"{who}: name {name!r} is already used by attachment {seen[key] + 1} "
                      "(names must differ even ignoring letter case and Unicode "
                      "normalisation)"))
        else:
            seen[key] = index

    reply = obj.get("reply")
    if reply is not None:
        where = ("reply", "recipient")
        try:
            recipient = age.parse_recipient(reply["recipient"])
        except ValueError:
            problems.append(Problem(
                where, "reply.recipient is not a valid age recipient (a character is wrong)"))
        else:
            if not age.is_post_quantum(recipient):
                problems.append(Problem(
                    where, "reply.recipient must be a post-quantum (age1pq1…) recipient"))
    return problems


def _path_key(path: Iterable[str | int]) -> list[tuple[int, str | int]]:
    return [(0, p) if isinstance(p, int) else (1, p) for p in path]


def validate_answers(obj: object, *, today: datetime.date | None = None) -> list[Problem]:
    """Return every problem with a manifest given as parsed JSON (empty list: valid).

    Schema problems are ordered by where they are (person 2 before person 10); semantic
    checks (dates, ranges, duplicate attachment names, the reply recipient's checksum) run
    only when the shape is right. ``today`` (default: the local date) is the limit for "in
    the future".
    """
    errors = sorted(_VALIDATOR.iter_errors(obj), key=lambda e: _path_key(e.absolute_path))
    if errors:
        return list(dict.fromkeys(_describe(e) for e in errors))  # unique, in order
    assert isinstance(obj, Mapping)
    return _semantic_problems(obj, today or datetime.date.today())


# ---------------------------------------------------------------------------------------------
# The manifest as Python objects


@dataclass(frozen=True)
class AgeRange:
    min: int
    max: int


@dataclass(frozen=True)
class Hometown:
    prefecture: str | None = None
    county: str | None = None
    village: str | None = None


@dataclass(frozen=True)
class Detention:
    date: str | None = None  # approximate date
    place: str | None = None


@dataclass(frozen=True)
class LastContact:
    date: str | None = None  # approximate date
    details: str | None = None


@dataclass(frozen=True)
class Person:
    """What the witness knows about one detained person. Only ``status`` is required."""

    status: str = "unknown"
    name_native: str | None = None
    name_latin: str | None = None
    gender: str | None = None
    birth_year: int | None = None
    age_at_detention: AgeRange | None = None
    ethnicity: str | None = None
    hometown: Hometown | None = None
    detention: Detention | None = None
    charges: str | None = None
    sentence: str | None = None
    last_contact: LastContact | None = None
    relation: str | None = None
    how_known: str | None = None
    how_known_details: str | None = None


@dataclass(frozen=True)
class Attachment:
    """One attached file as stored in the bundle under ``attachments/<name>``."""

    name: str
    media_type: str
    size: int
    sha256_before_cleaning: str
    sha256_after_cleaning: str
    metadata_kept: bool
    orientation: int | None = None  # EXIF orientation 1-8 of the original (schema v2)


@dataclass(frozen=True)
class Reply:
    recipient: str  # age1pq1…
    mailbox_id: str  # hex SHA-256 of the mailbox secret


@dataclass(frozen=True)
class Manifest:
    """A testimony manifest. Build it, then ``to_json()``; read one with ``from_json()``."""

    language: str
    statement: str
    publication_consent: str
    persons: tuple[Person, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    reply: Reply | None = None
    schema: str = field(default=SCHEMA_ID)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data; absent answers are left out."""
        result = _as_json_value(self)
        assert isinstance(result, dict)
        return result

    def to_json(self) -> bytes:
        """Canonical UTF-8 JSON. Raises ManifestError if the manifest is not valid."""
        data = self.to_dict()
        problems = validate_answers(data)
        if problems:
            raise ManifestError(_summary(problems), problems)
        return _canonical_json(data)

    @classmethod
    def from_json(cls, data: bytes | str, *, today: datetime.date | None = None) -> Manifest:
        """Parse and validate a manifest. Raises ManifestError saying exactly what is wrong.

        ``today`` is the limit for "in the future"; by default tomorrow's local date, because
        a witness in a time zone ahead of the reader may have written about their "today".
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > MANIFEST_MAX_BYTES:
            raise ManifestError(f"the manifest is larger than {MANIFEST_MAX_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError(f"the manifest is not UTF-8 (byte {exc.start})") from None
        try:
            obj = json.loads(
                text,
                object_pairs_hook=_no_duplicate_keys,
                parse_constant=_no_constants,
                parse_float=_no_fractions,
            )
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"the manifest is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except RecursionError:
            raise ManifestError("the manifest is nested too deeply") from None
        except ManifestError:
            raise
        except ValueError:  # e.g. an integer with more digits than Python converts
            raise ManifestError("the manifest contains a number that is too long") from None
        limit = today or datetime.date.today() + datetime.timedelta(days=1)
        problems = validate_answers(obj, today=limit)
        if problems:
            raise ManifestError(_summary(problems), problems)
        return cls.from_dict(obj)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Manifest:
        """Build a Manifest from data that ``validate_answers`` accepted."""
        reply = obj.get("reply")
        return cls(
            language=obj["language"],
            statement=obj["statement"],
            publication_consent=obj["publication_consent"],
            persons=tuple(_person(p) for p in obj["persons"]),
            attachments=tuple(Attachment(**a) for a in obj["attachments"]),
            reply=Reply(**reply) if reply is not None else None,
            schema=obj["schema"],
        )


def _optional(kind: Callable[..., Any], value: Mapping[str, Any] | None) -> Any:
    return kind(**value) if value is not None else None


def _person(obj: Mapping[str, Any]) -> Person:
    nested = {"age_at_detention": AgeRange, "hometown": Hometown, "detention": Detention,
              "last_contact": LastContact}
    values = {k: (_optional(nested[k], v) if k in nested else v) for k, v in obj.items()}
    return Person(**values)


def _as_json_value(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _as_json_value(getattr(value, f.name))
            for f in fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, tuple | list):
        return [_as_json_value(v) for v in value]
    return value


def _canonical_json(data: object) -> bytes:
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


def _summary(problems: Iterable[Problem]) -> str:
    listed = list(problems)
    head = "; ".join(p.message for p in listed[:5])
    more = f" (and {len(listed) - 5} more)" if len(listed) > 5 else ""
    return f"the manifest is not valid: {head}{more}"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ManifestError(f"the manifest repeats the key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ManifestError(f"the manifest contains {name}, which JSON does not allow")


def _no_fractions(text: str) -> Any:
    raise ManifestError(f"the manifest contains the number {text[:20]}; only whole numbers occur")
