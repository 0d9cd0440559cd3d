"""The testimony manifest (vault.testimony): schema, messages people can act on, strict JSON."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from tests.support import require_tool
from tests.witness.conftest import make_attachment
from vault.testimony import (
    SCHEMA,
    SCHEMA_ID,
    AgeRange,
    Detention,
    LastContact,
    Manifest,
    ManifestError,
    Person,
    Problem,
    date_span,
    validate_answers,
)

TODAY = datetime.date(2026, 11, 21)
DOCS_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "testimony.schema.json"


def minimal() -> dict[str, Any]:
    return {
        "schema": "amanat/testimony/v1",
        "language": "kk",
        "statement": "",
        "publication_consent": "none",
        "persons": [],
        "attachments": [],
    }


def messages(obj: object) -> list[str]:
    return [str(p) for p in validate_answers(obj, today=TODAY)]


# --- the published schema --------------------------------------------------------------------


def test_published_schema_is_the_one_in_code() -> None:
    assert json.loads(DOCS_SCHEMA.read_text(encoding="utf-8")) == SCHEMA
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema_has_no_field_that_records_time_of_writing() -> None:
    text = json.dumps(SCHEMA).lower()
    for word in ("timestamp", "created", "modified", "submitted", "time_zone", "device"):
        assert f'"{word}' not in text


def test_other_json_schema_validators_agree(full_manifest: Manifest) -> None:
    # The browser client validates with another implementation; nothing Python-specific.
    validator = jsonschema.Draft202012Validator(json.loads(DOCS_SCHEMA.read_text("utf-8")))
    assert list(validator.iter_errors(full_manifest.to_dict())) == []


@pytest.mark.interop
def test_schema_patterns_work_in_javascript() -> None:
    # The browser client compiles the same patterns with ECMA-262 "u" regular expressions.
    node = require_tool("node")
    script = (
        "const s = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));"
        "const name = new RegExp(s.$defs.attachment.properties.name.pattern, 'u');"
        "const date = new RegExp(s.$defs.approximate_date.pattern, 'u');"
        "(function walk(o) { if (o && typeof o === 'object') for (const [k, v] of "
        "Object.entries(o)) { if (k === 'pattern') new RegExp(v, 'u'); else walk(v); } })(s);"
        "console.log(JSON.stringify([name.test('ئاكام 1.jpg'), name.test('../x'),"
        " name.test('a\"b'), date.test('2017~/2018-21'), date.test('2018-13')]));"
    )
    result = subprocess.run([node, "-e", script, str(DOCS_SCHEMA)], capture_output=True,
                            text=True, check=True)
    assert json.loads(result.stdout) == [True, False, False, True, False]


# --- round trip and canonical form -----------------------------------------------------------


def test_round_trip(full_manifest: Manifest) -> None:
    encoded = full_manifest.to_json()
    assert Manifest.from_json(encoded) == full_manifest
    assert Manifest.from_json(encoded.decode("utf-8")) == full_manifest


def test_canonical_json(full_manifest: Manifest) -> None:
    encoded = full_manifest.to_json()
    obj = json.loads(encoded)
    expected = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert encoded == expected.encode("utf-8")
    assert "ئابدۇرېھىم".encode() in encoded  # UTF-8, not \\u escapes
    assert b"null" not in encoded  # absent answers are left out
    assert obj["persons"][1] == {"how_known": "witnessed", "name_latin": "Gulnar",
                                 "status": "unknown"}


def test_minimal_manifest_is_valid() -> None:
    manifest = Manifest.from_json(json.dumps(minimal()))
    assert manifest.reply is None
    assert manifest.persons == ()
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_to_json_refuses_an_invalid_manifest(full_manifest: Manifest) -> None:
    broken = dataclasses.replace(full_manifest, persons=(Person(status="jail"),))
    with pytest.raises(ManifestError, match="person 1: status must be one of camp, prison"):
        broken.to_json()


# --- messages a person can act on ------------------------------------------------------------


def with_person(**answers: Any) -> dict[str, Any]:
    obj = minimal()
    obj["persons"] = [{"status": "camp"}, {"status": "prison", **answers}]
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {**minimal(), "persons": [{"status": "jail"}]},
            "person 1: status must be one of camp, prison, police_custody, released, died, "
            "unknown (not 'jail')",
        ),
        (with_person(birth_year=2090), "person 2: birth_year 2090 is in the future"),
        (
            with_person(birth_year=1990, detention={"date": "1985"}),
            "person 2: birth_year 1990 is after the detention date",
        ),
        (with_person(birth_year=1700), "person 2: birth_year must be at least 1880 (not 1700)"),
        (with_person(birth_year=3000), "person 2: birth_year must be at most 2999 (not 3000)"),
        (with_person(birth_year="1970"), "person 2: birth_year must be a whole number"),
        (with_person(birth_year=1970.0), "person 2: birth_year must be a whole number"),
        (with_person(birth_year=True), "person 2: birth_year must be a whole number"),
        (
            with_person(birth_year=1970, age_at_detention={"min": 40, "max": 50}),
            "person 2: give either birth_year or age_at_detention, not both",
        ),
        (
            with_person(age_at_detention={"min": 50, "max": 40}),
            "person 2: age_at_detention min 50 is greater than max 40",
        ),
        (
            with_person(age_at_detention={"min": 50}),
            "person 2: age_at_detention is missing max",
        ),
        (
            with_person(detention={"date": "March 2018"}),
            "person 2: detention.date must be an approximate date such as 2018, 2018-03, "
            "2018-03-12, 2018-21 (spring 2018), 2018~ (about 2018) or 2017/2018 (between)",
        ),
        (
            with_person(detention={"date": "2018-02-30"}),
            "person 2: detention.date: 2018-02-30 names a day that does not exist",
        ),
        (
            with_person(last_contact={"date": "2019/2018"}),
            "person 2: last_contact.date: the interval 2019/2018 ends before it starts",
        ),
        (
            with_person(last_contact={"date": "2027-03"}),
            "person 2: last_contact.date 2027-03 is in the future",
        ),
        (with_person(hometown={}), "person 2: hometown must contain at least one answer, "
                                   "or be left out"),
        (with_person(name_latin=""), "person 2: name_latin must not be empty"),
        (with_person(ethnicity="x" * 101),
         "person 2: ethnicity is too long (at most 100 characters)"),
        (with_person(nickname="A"), "person 2 has an unknown field 'nickname'"),
        (
            with_person(hometown={"province": "Ili"}),
            "person 2: hometown has an unknown field 'province'",
        ),
        (with_person(gender="m"),
         "person 2: gender must be one of female, male, other, unknown (not 'm')"),
        ({**minimal(), "persons": [{}]}, "person 1: status is missing"),
        ({**minimal(), "persons": {}}, "persons must be a list"),
        ({**minimal(), "persons": [[]]}, "person 1 must be a group of answers (a JSON object)"),
        ({**minimal(), "schema": "amanat/testimony/v3"},
         "schema must be one of amanat/testimony/v1, amanat/testimony/v2 (not "
         "'amanat/testimony/v3')"),
        ({**minimal(), "language": "Uyghur"},
         "language must be a BCP 47 language tag (language[-Script][-REGION][-variant]) such "
         "as ug, kk-Cyrl, ug-Arab-CN or zh-Hans"),
        ({**minimal(), "language": 5}, "language must be text"),
        ({**minimal(), "publication_consent": "yes"},
         "publication_consent must be one of none, anonymised, full (not 'yes')"),
        ({**minimal(), "created": "2026-11-21T10:00:00Z"},
         "the manifest has an unknown field 'created'"),
        ({**minimal(), "persons": [{"status": "camp"}] * 1001},
         "persons may list at most 1000 entries"),
        ([], "the manifest must be a group of answers (a JSON object)"),
    ],
)
def test_problem_messages(obj: object, expected: str) -> None:
    assert expected in messages(obj)


def test_missing_top_level_fields_are_listed_once() -> None:
    assert messages({}) == [
        "the manifest is missing schema, language, statement, publication_consent, persons, "
        "attachments"
    ]


def test_problems_carry_their_path() -> None:
    (problem,) = validate_answers(with_person(gender="m"), today=TODAY)
    assert problem == Problem(("persons", 1, "gender"), str(problem))


def test_problems_come_in_document_order() -> None:
    obj = minimal()
    obj["persons"] = [{"status": "x"}] * 12
    found = messages(obj)
    assert [m.split(":")[0] for m in found] == [f"person {i}" for i in range(1, 13)]


def test_valid_answers_have_no_problems(full_manifest: Manifest) -> None:
    full = full_manifest.to_dict()
    full["persons"].append({
        "status": "released",
        "age_at_detention": {"min": 30, "max": 35},
        "last_contact": {"date": "2019-03-02~", "details": "a short call"},
        "detention": {"date": "2017~/2018-24"},
        "charges": "separatism",
        "sentence": "10 years",
    })
    assert validate_answers(full, today=TODAY) == []


def test_today_defaults_to_the_local_date() -> None:
    far = datetime.date.today().year + 1
    assert messages(with_person(birth_year=far)) == [
        f"person 2: birth_year {far} is in the future"
    ]
    assert [str(p) for p in validate_answers(with_person(birth_year=far))] == [
        f"person 2: birth_year {far} is in the future"
    ]


# --- attachments and reply -------------------------------------------------------------------


def attachment_dict(name: str) -> dict[str, Any]:
    fields = dataclasses.asdict(make_attachment(name, b"content"))
    return {key: value for key, value in fields.items() if value is not None}


@pytest.mark.parametrize(
    "name",
    ["../x", "a/b", "a\\b", ".hidden", "trailing.", "trailing ", " leading", "nul\x00",
     "tab\tname", "con:", "what?", "", "photo.jpg\n",
     # bidirectional controls: "invoice\u202efdp.exe" shows as "invoiceexe.pdf"
     "invoice\u202efdp.exe", "a\u202db", "a\u2066b\u2069", "a\u200fb", "a\u061cb"],
)
def test_unsafe_attachment_names_are_refused(name: str) -> None:
    obj = minimal()
    obj["attachments"] = [attachment_dict(name)]
    assert any(m.startswith("attachment 1: name must be a file name") for m in messages(obj))


@pytest.mark.parametrize("name", ["a", "photo 1.jpg", "ئاكام.jpg", "明信片.pdf", "x" * 100])
def test_ordinary_attachment_names_are_accepted(name: str) -> None:
    obj = minimal()
    obj["attachments"] = [attachment_dict(name)]
    assert messages(obj) == []


def test_patterns_do_not_accept_a_trailing_newline() -> None:
    obj = minimal()
    obj["language"] = "ug\n"
    obj["attachments"] = [attachment_dict("a") | {"sha256_after_cleaning": "ab" * 32 + "\n"}]
    found = messages(obj)
    assert found[0].startswith("attachment 1: sha256_after_cleaning must be hex SHA-256")
    assert found[1].startswith("language must be a BCP 47 language tag")
    assert len(found) == 2


def test_attachment_name_is_limited_in_bytes() -> None:
    obj = minimal()
    obj["attachments"] = [attachment_dict("明" * 34)]  # 34 characters, 102 bytes
    assert messages(obj) == ["attachment 1: name is longer than 100 bytes of UTF-8"]


def test_attachment_names_must_differ_ignoring_case() -> None:
    obj = minimal()
    obj["attachments"] = [attachment_dict("Photo.jpg"), attachment_dict("photo.JPG")]
    assert messages(obj) == [
        "attachment 2: name 'photo.JPG' is already used by attachment 1 (names must differ "
        "even ignoring letter case and Unicode normalisation)"
    ]


def test_attachment_names_must_differ_ignoring_normalisation() -> None:
    """"é" as one character and as "e" and an accent are one name on macOS, and two files
    that look alike anywhere else."""
    obj = minimal()
    obj["attachments"] = [attachment_dict("caf\u00e9.jpg"), attachment_dict("cafe\u0301.jpg")]
    assert messages(obj) == [
        "attachment 2: name 'cafe\u0301.jpg' is already used by attachment 1 (names must "
        "differ "
        "even ignoring letter case and Unicode normalisation)"
    ]


def test_attachment_fields() -> None:
    obj = minimal()
    bad = attachment_dict("a.jpg") | {"sha256_after_cleaning": "AB" * 32, "size": -1,
                                      "media_type": "Image/JPEG", "metadata_kept": "no"}
    obj["attachments"] = [bad]
    found = messages(obj)
    assert "attachment 1: media_type must be a lowercase media type such as image/jpeg" in found
    assert "attachment 1: metadata_kept must be true or false" in found
    assert "attachment 1: sha256_after_cleaning must be hex SHA-256 of the stored file " \
           "(after metadata cleaning)" in found
    assert "attachment 1: size must be at least 0 (not -1)" in found


def test_reply_recipient_must_be_a_valid_post_quantum_recipient(reply_recipient: str) -> None:
    obj = minimal()
    flipped = reply_recipient[:-1] + ("q" if reply_recipient[-1] != "q" else "p")
    obj["reply"] = {"recipient": flipped, "mailbox_id": "00" * 32}
    assert messages(obj) == [
        "reply.recipient is not a valid age recipient (a character is wrong)"
    ]
    obj["reply"] = {"recipient": "age1" + reply_recipient[7:], "mailbox_id": "00" * 32}
    assert messages(obj) == [
        "reply.recipient must be an age post-quantum recipient (age1pq1…, 1,959 characters)"
    ]
    obj["reply"] = {"recipient": reply_recipient, "mailbox_id": "00" * 31}
    assert messages(obj) == [
        "reply.mailbox_id must be hex SHA-256 of the mailbox secret (64 lowercase hex digits)"
    ]


def test_reply_recipient_of_a_classical_key_type_is_refused(
    reply_recipient: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A recipient that parses but is not post-quantum (defence in depth behind the pattern).
    from vault import age

    monkeypatch.setattr(age, "is_post_quantum", lambda _recipient: False)
    obj = minimal()
    obj["reply"] = {"recipient": reply_recipient, "mailbox_id": "00" * 32}
    assert messages(obj) == ["reply.recipient must be a post-quantum (age1pq1…) recipient"]


def test_many_problems_are_reported_quickly() -> None:
    obj = minimal()
    obj["persons"] = [{"status": "x", "gender": "y", "birth_year": "z", "extra": 1}] * 1000
    found = messages(obj)
    assert len(found) == 4000
    assert len(set(found)) == 4000


# --- approximate dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2018", (2018, 1, 1), (2018, 12, 31)),
        ("2018~", (2018, 1, 1), (2018, 12, 31)),
        ("2016-02", (2016, 2, 1), (2016, 2, 29)),
        ("2018-03-12", (2018, 3, 12), (2018, 3, 12)),
        ("2018-21", (2018, 3, 1), (2018, 5, 31)),
        ("2018-22", (2018, 6, 1), (2018, 8, 31)),
        ("2018-23", (2018, 9, 1), (2018, 11, 30)),
        ("2018-24", (2018, 12, 1), (2019, 2, 28)),
        ("2019-24~", (2019, 12, 1), (2020, 2, 29)),
        ("2017/2018-06", (2017, 1, 1), (2018, 6, 30)),
        ("2018-05/2018-05", (2018, 5, 1), (2018, 5, 31)),
    ],
)
def test_date_span(text: str, start: tuple[int, int, int], end: tuple[int, int, int]) -> None:
    assert date_span(text) == (datetime.date(*start), datetime.date(*end))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spring 2018", "is not an approximate date"),
        ("2018-13", "is not an approximate date"),
        ("2018-25", "is not an approximate date"),
        ("2018-21-01", "is not an approximate date"),
        ("18", "is not an approximate date"),
        ("1899", "is not an approximate date"),
        ("2018~~", "is not an approximate date"),
        ("2018/2019/2020", "is not an approximate date"),
        ("2019-02-29", "names a day that does not exist"),
        ("2019-04-31/2020", "names a day that does not exist"),
        ("2019/2018-12", "ends before it starts"),
    ],
)
def test_date_span_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        date_span(text)


# --- strict parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"schema": 1, "schema": 2}', "the manifest repeats the key 'schema'"),
        (b'{"a": NaN}', "the manifest contains NaN, which JSON does not allow"),
        (b'{"a": -Infinity}', "the manifest contains -Infinity"),
        (b'{"a": 1.5}', "the manifest contains the number 1.5; only whole numbers occur"),
        (b'{"a": 1e3}', "only whole numbers occur"),
        (b"\xff{}", "the manifest is not UTF-8 (byte 0)"),
        (b"{", "the manifest is not JSON: Expecting property name enclosed in double quotes "
               "(line 1, column 2)"),
        (b"[" * 100_000 + b"]" * 100_000, "the manifest is nested too deeply"),
        (b'{"a": ' + b"9" * 5000 + b"}", "the manifest contains a number that is too long"),
        (b" " * (8 * 1024 * 1024 + 1), "the manifest is larger than 8388608 bytes"),
        (b"{}", "the manifest is not valid: the manifest is missing schema"),
    ],
)
def test_from_json_is_strict(raw: bytes, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        Manifest.from_json(raw)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_reading_allows_for_a_witness_whose_time_zone_is_ahead() -> None:
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    obj = with_person(detention={"date": tomorrow})
    assert Manifest.from_json(json.dumps(obj)).persons[1].detention == Detention(date=tomorrow)
    with pytest.raises(ManifestError, match=f"detention.date {tomorrow} is in the future"):
        Manifest.from_json(json.dumps(obj), today=datetime.date.today())


def test_manifest_error_lists_all_problems() -> None:
    obj = minimal()
    obj["persons"] = [{"status": "x"}] * 7
    with pytest.raises(ManifestError) as caught:
        Manifest.from_json(json.dumps(obj))
    assert len(caught.value.problems) == 7
    assert str(caught.value).endswith("(and 2 more)")


def test_nested_objects_are_rebuilt() -> None:
    obj = with_person(
        age_at_detention={"min": 1, "max": 2},
        detention={"place": "Urumqi"},
        last_contact={"details": "letter"},
    )
    manifest = Manifest.from_json(json.dumps(obj))
    person = manifest.persons[1]
    assert person.age_at_detention == AgeRange(1, 2)
    assert person.detention == Detention(place="Urumqi")
    assert person.last_contact == LastContact(details="letter")
    assert person.hometown is None


# --- versions: v2 is written, v1 and v2 are read; orientation is v2's -----------------------


def test_writers_write_v2_and_readers_read_both() -> None:
    written = Manifest(language="kk", statement="", publication_consent="none")
    assert json.loads(written.to_json())["schema"] == "amanat/testimony/v2" == SCHEMA_ID
    for version in ("amanat/testimony/v1", "amanat/testimony/v2"):
        data = json.dumps({**minimal(), "schema": version}).encode()
        read = Manifest.from_json(data)
        assert read.schema == version
        assert json.loads(read.to_json())["schema"] == version  # kept as it was


def _with_orientation(schema: str, value: object) -> dict[str, Any]:
    obj = {**minimal(), "schema": schema}
    obj["attachments"] = [{**attachment_dict("attachment-1.jpg"), "orientation": value}]
    return obj


@pytest.mark.parametrize("value", [1, 6, 8])
def test_orientation_is_read_from_v2(value: int) -> None:
    obj = _with_orientation("amanat/testimony/v2", value)
    assert messages(obj) == []
    manifest = Manifest.from_json(json.dumps(obj))
    assert manifest.attachments[0].orientation == value
    assert json.loads(manifest.to_json())["attachments"][0]["orientation"] == value


def test_orientation_is_left_out_when_unknown() -> None:
    manifest = Manifest(language="kk", statement="", publication_consent="none",
                        attachments=(make_attachment("a.jpg", b"x"),))
    assert manifest.attachments[0].orientation is None
    assert "orientation" not in json.loads(manifest.to_json())["attachments"][0]


@pytest.mark.parametrize(("value", "message"), [
    (0, "attachment 1: orientation must be at least 1 (not 0)"),
    (9, "attachment 1: orientation must be at most 8 (not 9)"),
    ("6", "attachment 1: orientation must be a whole number"),
    (True, "attachment 1: orientation must be a whole number"),
    (None, "attachment 1: orientation must be a whole number"),
])
def test_orientation_must_be_an_exif_value(value: object, message: str) -> None:
    assert messages(_with_orientation("amanat/testimony/v2", value)) == [message]


def test_a_v1_manifest_has_no_orientation() -> None:
    obj = _with_orientation("amanat/testimony/v1", 6)
    assert messages(obj) == [
        "attachment 1: orientation is a field of amanat/testimony/v2; a manifest of "
        "amanat/testimony/v1 has none"]
    with pytest.raises(ManifestError):
        Manifest.from_json(json.dumps(obj))
    # The published schema, read by a stock validator, agrees.
    validator = jsonschema.Draft202012Validator(json.loads(DOCS_SCHEMA.read_text("utf-8")))
    assert not validator.is_valid(obj)
    assert validator.is_valid(_with_orientation("amanat/testimony/v2", 6))
    del obj["attachments"][0]["orientation"]
    assert validator.is_valid(obj) and messages(obj) == []
