"""Public cards and key ids: canonical text, and damaged cards refused.

``CARD`` is a classical (v1) card, of an identity from before ML-DSA-44 auth keys, which still
parses; ``HYBRID`` is the v2 card every new identity prints."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from keys._text import b64encode
from keys.card import PublicCard, derive_key_id, is_key_id, parse_card
from keys.errors import CardError
from keys.identity import InvestigatorIdentity
from vault import age

IDENTITY = InvestigatorIdentity("Gulnara Ismailova", b"\x11" * 32, b"\x22" * 32)
CARD = IDENTITY.card()
TEXT = CARD.format()


def test_card_text_is_canonical() -> None:
    lines = TEXT.split("\n")
    assert lines[0] == "amanat.card/v1"
    assert lines[1] == f"key-id {CARD.key_id}"
    assert lines[2] == "name Gulnara Ismailova"
    assert lines[3] == f"auth {b64encode(CARD.auth_key)}"
    assert lines[4].startswith("age age1pq1")
    assert lines[5] == "" and len(lines) == 6
    assert parse_card(TEXT) == CARD


def test_key_id_recipe_from_the_docstring() -> None:
    text = f"amanat.key-id/v1\n{CARD.recipient}\n{b64encode(CARD.auth_key)}\n"
    assert CARD.key_id == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert derive_key_id(CARD.recipient, CARD.auth_key) == CARD.key_id
    assert is_key_id(CARD.key_id)
    shell = subprocess.run(
        [
            "sh",
            "-c",
            'printf \'amanat.key-id/v1\\n%s\\n%s\\n\' "$1" "$2" | sha256sum | cut -c1-16',
            "sh",
            CARD.recipient,
            b64encode(CARD.auth_key),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == CARD.key_id


def test_key_id_ignores_the_name() -> None:
    renamed = PublicCard("Gulnara Ismail", CARD.recipient, CARD.auth_key)
    assert renamed.key_id == CARD.key_id


def test_transport_damage_tolerated() -> None:
    assert parse_card("\n\n  " + TEXT.replace("\n", "\r\n") + "\n\n") == CARD


def test_classical_recipient_card() -> None:
    x25519 = str(age.X25519Identity.generate().recipient())
    card = PublicCard("Classical", x25519, b"\x01" * 32)
    assert parse_card(card.format()) == card
    assert not card.is_post_quantum()


def _line(number: int, text: str) -> str:
    lines = TEXT.split("\n")
    lines[number] = text
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "not a public card"),
        ("amanat.card/v3\n", "not a public card"),
        ("amanat.card/v2\n", "6 lines, this one has 1"),
        (TEXT + "extra\n", "5 lines, this one has 6"),
        (TEXT.rsplit("\n", 2)[0], "5 lines, this one has 4"),
        (_line(1, "keyid " + CARD.key_id), "line 2 of the card must start with 'key-id '"),
        (_line(2, "Name Gulnara"), "line 3"),
        (_line(1, "key-id " + CARD.key_id.upper()), "16 lowercase hex"),
        (_line(1, "key-id " + "0" * 16), "does not match its keys"),
        (_line(2, "name Gulnara  Ismailova"), "doubled space"),
        (_line(3, "auth " + b64encode(CARD.auth_key).rstrip("=")), "canonical base64"),
        (_line(3, "auth " + b64encode(b"\x01" * 31)), "32-byte"),
        (_line(3, "auth " + b64encode(b"\x33" * 32)), "does not match its keys"),
        (_line(4, "age " + CARD.recipient[:-1]), "not a valid age recipient"),
        (_line(4, "age " + CARD.recipient.upper()), "canonical \\(lowercase\\)"),
        (_line(4, "age AGE-SECRET-KEY-1QQQ"), "PRIVATE age key"),
        (_line(4, "age age1pq1notvalid"), "not a valid age recipient"),
    ],
)
def test_bad_cards_name_the_problem(text: str, match: str) -> None:
    with pytest.raises(CardError, match=match):
        parse_card(text)


def test_every_character_change_in_a_card_is_caught_or_harmless() -> None:
    # Any single-character change either is refused or yields the same keys (e.g. the name).
    for index, ch in enumerate(TEXT):
        if ch in "\n":
            continue
        damaged = TEXT[:index] + ("b" if ch != "b" else "c") + TEXT[index + 1 :]
        try:
            parsed = parse_card(damaged)
        except CardError:
            continue
        assert parsed.recipient == CARD.recipient and parsed.auth_key == CARD.auth_key


HYBRID_IDENTITY = InvestigatorIdentity("Gulnara Ismailova", b"\x11" * 32, b"\x22" * 32,
                                       b"\x33" * 32)
HYBRID = HYBRID_IDENTITY.card()
HYBRID_TEXT = HYBRID.format()


def test_hybrid_card_text_is_canonical_and_round_trips() -> None:
    lines = HYBRID_TEXT.split("\n")
    assert lines[0] == "amanat.card/v2"
    assert lines[1] == f"key-id {HYBRID.key_id}"
    assert lines[2] == "name Gulnara Ismailova"
    assert lines[3] == f"auth {b64encode(HYBRID.auth_key)}"
    assert HYBRID.auth_pq is not None and len(HYBRID.auth_pq) == 1312
    assert lines[4] == f"auth-pq {b64encode(HYBRID.auth_pq)}"
    assert lines[5].startswith("age age1pq1")
    assert lines[6] == "" and len(lines) == 7
    assert parse_card(HYBRID_TEXT) == HYBRID and HYBRID.is_hybrid
    assert parse_card("\r\n" + HYBRID_TEXT.replace("\n", "\r\n")) == HYBRID
    # Same age and Ed25519 keys as the classical card, a different key id.
    assert HYBRID.recipient == CARD.recipient and HYBRID.auth_key == CARD.auth_key
    assert HYBRID.key_id != CARD.key_id and not CARD.is_hybrid


def test_hybrid_key_id_recipe_from_the_docstring() -> None:
    assert HYBRID.auth_pq is not None
    auth, auth_pq = b64encode(HYBRID.auth_key), b64encode(HYBRID.auth_pq)
    text = f"amanat.key-id/v2\n{HYBRID.recipient}\n{auth}\n{auth_pq}\n"
    assert HYBRID.key_id == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert derive_key_id(HYBRID.recipient, HYBRID.auth_key, HYBRID.auth_pq) == HYBRID.key_id
    shell = subprocess.run(
        ["sh", "-c",
         'printf \'amanat.key-id/v2\\n%s\\n%s\\n%s\\n\' "$1" "$2" "$3" | sha256sum | cut -c1-16',
         "sh", HYBRID.recipient, auth, auth_pq],
        capture_output=True, text=True, check=True,
    )
    assert shell.stdout.strip() == HYBRID.key_id


def _hybrid_line(number: int, text: str) -> str:
    lines = HYBRID_TEXT.split("\n")
    lines[number] = text
    return "\n".join(lines)


def _auth_pq_text() -> str:
    assert HYBRID.auth_pq is not None
    return b64encode(HYBRID.auth_pq)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # Another valid ML-DSA-44 key: the key id no longer matches.
        (_hybrid_line(4, "auth-pq " + b64encode(b"\x44" * 1312)), "does not match its keys"),
        (_hybrid_line(4, "auth-pq " + _auth_pq_text()[:-4]), "1312-byte"),
        (_hybrid_line(4, "auth-pq " + _auth_pq_text().rstrip("=")), "canonical base64"),
        (_hybrid_line(4, "authpq " + _auth_pq_text()), "line 5 of the card must start with"),
        (_hybrid_line(4, "auth " + _auth_pq_text()), "line 5 of the card must start with"),
        # A v2 card without its auth-pq line, or a v1 card with one, is the wrong length.
        ("\n".join(HYBRID_TEXT.split("\n")[:4] + HYBRID_TEXT.split("\n")[5:]),
         "6 lines, this one has 5"),
        (HYBRID_TEXT.replace("amanat.card/v2", "amanat.card/v1"), "5 lines, this one has 6"),
        # Dropping the auth-pq line and relabelling the card v1 gives the classical card,
        # whose key id is another one: the claimed v2 key id is refused.
        ("\n".join(["amanat.card/v1", *HYBRID_TEXT.split("\n")[1:4],
                    *HYBRID_TEXT.split("\n")[5:]]), "does not match its keys"),
    ],
)
def test_damaged_hybrid_cards_are_refused(text: str, match: str) -> None:
    with pytest.raises(CardError, match=match):
        parse_card(text)


def test_every_character_change_in_the_auth_pq_line_is_caught() -> None:
    start = HYBRID_TEXT.index("\nauth-pq ") + len("\nauth-pq ")
    end = HYBRID_TEXT.index("\n", start)
    for index in range(start, end):
        ch = HYBRID_TEXT[index]
        damaged = HYBRID_TEXT[:index] + ("b" if ch != "b" else "c") + HYBRID_TEXT[index + 1 :]
        with pytest.raises(CardError):
            parse_card(damaged)


def test_a_wrong_size_auth_pq_key_is_refused() -> None:
    with pytest.raises(CardError, match="1312-byte ML-DSA-44"):
        PublicCard("Gulnara", CARD.recipient, CARD.auth_key, b"\x01" * 1311)
