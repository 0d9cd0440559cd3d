"""How strong a new passphrase must be before it protects a key file.

Protects: a copied or seized key file (the organization's root key, an investigator's
identity) can be attacked offline, at the attacker's pace, with as much hardware as a state
can rent. Argon2id (``keys.keyfile.DEFAULT_KDF``: 256 MiB, 3 passes) makes every guess cost
about 2 GB of memory traffic, so one GPU tries on the order of a few hundred guesses a
second; a thousand GPUs still try 10^10 guesses in well under a day. No cost setting rescues
a passphrase that is among the first guesses an attacker makes.

So a new passphrase must reach zxcvbn's top score, 4 (its estimate is at least 10^10
guesses), for both kinds of key file:

* the organization key decides whom testimony is sealed to;
* an investigator's identity opens every testimony sealed to them, which can name a
  witness's family. It lives on a laptop that crosses borders, so it is more exposed than
  the organization key, which stays on an offline machine. Score 3 (below 10^10 guesses)
  falls to the attack above, so investigators need score 4 too.

Score 4 is a floor, not a goal: six random words from a diceware list carry about 77 bits,
more than 10^23 guesses, and are easier to remember than a jumble of symbols.

The estimate is zxcvbn's (Dropbox's estimator: common passwords, dictionaries, names,
keyboard patterns, dates, repeats, substitutions), with the organization or investigator
name, the key file's name and "amanat" as user inputs, so a passphrase built from them
counts as weak. Passphrases are judged in Unicode NFC (as the key file derives its key) and
on their first ``MAX_SCORED_CHARS`` characters (zxcvbn's time grows steeply with length;
a longer passphrase is at least as strong as its beginning).

Messages never contain the passphrase or any part of it: only zxcvbn's fixed warnings and
suggestions, and how to make a strong one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zxcvbn import zxcvbn

from keys.errors import WeakPassphraseError

# zxcvbn scores 0 to 4; 4 means its estimate is at least 10^10 guesses.
MIN_SCORE = 4
MAX_SCORE = 4
# zxcvbn refuses longer inputs by default and slows down steeply with length.
MAX_SCORED_CHARS = 100

HOW_TO_CHOOSE = (
    "Use six or more random words, picked by rolling dice on a diceware word list, "
    "and learn them by heart."
)

_WORD_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Strength:
    """zxcvbn's verdict on a passphrase, without the passphrase or any part of it."""

    score: int
    warning: str
    suggestions: tuple[str, ...]
    uses_names: bool  # built (partly) from the names given as user inputs


def context_words(*texts: str) -> list[str]:
    """The user inputs for zxcvbn: each text, each of its words, and "amanat"."""
    words = ["amanat"]
    for text in texts:
        words.append(text)
        words.extend(word for word in _WORD_SEPARATORS.split(text) if word)
    return words


def _zxcvbn(text: str, user_inputs: list[str]) -> dict[str, Any]:
    return dict(zxcvbn(text, user_inputs=user_inputs, max_length=MAX_SCORED_CHARS))


def estimate(passphrase: str, user_inputs: Iterable[str] = ()) -> Strength:
    """zxcvbn's score (0 to 4), warning and suggestions for ``passphrase``.

    zxcvbn counts a name from ``user_inputs`` as one cheap guess, but still scores a few
    such names in a row highly; an attacker who knows whose key it is tries them all. So
    when the passphrase contains such names, the score is the lower of zxcvbn's and that of
    what is left once they are taken out.
    """
    scored = unicodedata.normalize("NFC", passphrase)[:MAX_SCORED_CHARS]
    result = _zxcvbn(scored, list(user_inputs))
    score = int(result["score"])
    names = [(m["i"], m["j"]) for m in result["sequence"]
             if m.get("dictionary_name") == "user_inputs"]
    if names:
        rest = "".join(ch for k, ch in enumerate(scored)
                       if not any(i <= k <= j for i, j in names))
        score = min(score, int(_zxcvbn(rest, [])["score"]) if rest.strip() else 0)
    feedback = result["feedback"]
    suggestions = [str(s) for s in feedback["suggestions"]]
    if not any("A" <= ch <= "Z" for ch in scored):
        # zxcvbn's test for "all uppercase" is "no letter a-z", which every word in Cyrillic
        # or Arabic script passes.
        suggestions = [s for s in suggestions if "uppercase" not in s]
    return Strength(score=score, warning=str(feedback["warning"]),
                    suggestions=tuple(suggestions), uses_names=bool(names))


def check_new_passphrase(
    passphrase: str, *, protects: str, user_inputs: Iterable[str] = ()
) -> None:
    """Refuse a passphrase too weak for a key file; ``protects`` names what it would protect
    (e.g. "the organization key"). Raises ``WeakPassphraseError`` with advice, never with
    the passphrase."""
    if not passphrase:
        raise WeakPassphraseError("the passphrase is empty")
    strength = estimate(passphrase, user_inputs)
    if strength.score >= MIN_SCORE:
        return
    reasons = []
    if strength.uses_names:
        reasons.append("It contains a name that belongs with the key, which is guessed first.")
    if strength.warning:
        reasons.append(strength.warning)
    reasons.extend(strength.suggestions)
    advice = " ".join([*reasons, HOW_TO_CHOOSE])
    raise WeakPassphraseError(
        f"this passphrase is too weak to protect {protects}: whoever copies the file can "
        f"try guesses offline, as fast as they can pay for, and its strength estimate is "
        f"{strength.score} of {MAX_SCORE} where {MIN_SCORE} is needed. {advice}"
    )


__all__ = [
    "HOW_TO_CHOOSE",
    "MAX_SCORED_CHARS",
    "MIN_SCORE",
    "Strength",
    "check_new_passphrase",
    "context_words",
    "estimate",
]
