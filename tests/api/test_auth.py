"""Challenges and tokens: single use, short-lived, bound to key id and server, kept hashed."""

from __future__ import annotations

import hashlib

import nacl.signing
import pytest

from vault.service.auth import (
    Authenticator,
    BusyError,
    ChallengeError,
    SignatureError,
    TokenError,
    challenge_message,
)
from vault.service.mailbox import (
    MailboxSecretError,
    decode_mailbox_secret,
    encode_mailbox_secret,
    mailbox_id,
)

LOG = "amanat-log-test+01020304+AQ=="
KEY_ID = "0011223344556677"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authn(clock: Clock) -> Authenticator:
    return Authenticator(LOG, challenge_ttl=60, token_ttl=900, clock=clock, max_outstanding=3)


KEY = nacl.signing.SigningKey(b"\7" * 32)
AUTH_KEY = bytes(KEY.verify_key)


def answer(challenge: bytes, key: nacl.signing.SigningKey = KEY, log: str = LOG,
           key_id: str = KEY_ID) -> bytes:
    return bytes(key.sign(challenge_message(log, key_id, challenge)).signature)


def test_login_and_token(authn: Authenticator, clock: Clock) -> None:
    challenge = authn.new_challenge(KEY_ID)
    token = authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY)
    session = authn.session(token)
    assert session.key_id == KEY_ID and session.expires_in == 900
    clock.now += 899
    assert authn.session(token).key_id == KEY_ID
    clock.now += 1
    with pytest.raises(TokenError):
        authn.session(token)


def test_secrets_are_kept_only_hashed(authn: Authenticator) -> None:
    challenge = authn.new_challenge(KEY_ID)
    assert challenge not in authn._challenges
    assert hashlib.sha256(challenge).digest() in authn._challenges
    token = authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY)
    assert hashlib.sha256(token.encode()).digest() in authn._tokens
    assert all(token not in repr(k) for k in authn._tokens)


def test_challenge_is_single_use_even_when_the_answer_is_wrong(authn: Authenticator) -> None:
    challenge = authn.new_challenge(KEY_ID)
    authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY)
    with pytest.raises(ChallengeError):
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY)
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(SignatureError):
        authn.redeem(KEY_ID, challenge, b"\0" * 64, AUTH_KEY)
    with pytest.raises(ChallengeError):
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY)


@pytest.mark.parametrize("forge", [
    lambda c: answer(c, key=nacl.signing.SigningKey(b"\x08" * 32)),
    lambda c: answer(c, log="another-log+01020304+AQ=="),
    lambda c: answer(c, key_id="7766554433221100"),
    lambda c: answer(c)[:-1],
    lambda c: b"",
])
def test_forged_answers(authn: Authenticator, forge: object) -> None:
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(SignatureError):
        authn.redeem(KEY_ID, challenge, forge(challenge), AUTH_KEY)  # type: ignore[operator]


def test_challenge_expiry_binding_and_limits(authn: Authenticator, clock: Clock) -> None:
    challenge = authn.new_challenge(KEY_ID)
    clock.now += 60
    with pytest.raises(ChallengeError):
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY)
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(ChallengeError):  # issued for another key id
        authn.redeem("7766554433221100", challenge, answer(challenge), AUTH_KEY)
    for _ in range(3):
        authn.new_challenge(KEY_ID)
    with pytest.raises(BusyError):
        authn.new_challenge(KEY_ID)
    clock.now += 61
    authn.new_challenge(KEY_ID)  # expired ones made room
    clock.now += 61
    assert authn.sweep() == 1


def test_revoke_and_bad_tokens(authn: Authenticator) -> None:
    challenge = authn.new_challenge(KEY_ID)
    token = authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY)
    authn.revoke(token)
    for bad in (token, "", "é", "x" * 1000):
        with pytest.raises(TokenError):
            authn.session(bad)


def test_mailbox_ids() -> None:
    secret = bytes(range(32))
    assert mailbox_id(secret) == hashlib.sha256(secret).hexdigest()
    assert decode_mailbox_secret(encode_mailbox_secret(secret)) == secret
    for bad in ("", "0" * 63, "GG" * 16, "AA" * 16, "00" * 15, "00" * 129):
        with pytest.raises(MailboxSecretError):
            decode_mailbox_secret(bad)
    with pytest.raises(MailboxSecretError):
        mailbox_id(b"short")
