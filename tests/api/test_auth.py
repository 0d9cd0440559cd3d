"""Challenges and tokens: single use, short-lived, bound to key id and server, kept hashed.

The challenge and token mechanics are exercised with an Ed25519 key alone, under the
classical login policy (``classical_logins=True``); the default policy, which requires an
ML-DSA-44 signature too, is tested at the end of this file and against a real server in
tests/e2e/test_hybrid_login.py."""

from __future__ import annotations

import base64
import hashlib

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

from vault.service.auth import (
    Authenticator,
    ChallengeError,
    ClassicalLoginError,
    MemoryTokens,
    OutdatedLoginError,
    SignatureError,
    TokenError,
    WrongServerError,
    challenge_message,
    server_origin,
)
from vault.service.mailbox import (
    MailboxSecretError,
    decode_mailbox_secret,
    encode_mailbox_secret,
    mailbox_id,
)

LOG = "amanat-log-test+01020304+AQ=="
KEY_ID = "0011223344556677"
SERVER = "http://abcdefghijklmnop.onion:80"


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
    return Authenticator(LOG, classical_logins=True,
                          servers=["http://ABCDEFGHIJKLMNOP.onion/"], challenge_ttl=60,
                         token_ttl=900, clock=clock, tokens=MemoryTokens())


KEY = nacl.signing.SigningKey(b"\7" * 32)
AUTH_KEY = bytes(KEY.verify_key)


def answer(challenge: bytes, key: nacl.signing.SigningKey = KEY, log: str = LOG,
           key_id: str = KEY_ID, server: str = SERVER) -> bytes:
    return bytes(key.sign(challenge_message(server, log, key_id, challenge)).signature)


def test_login_and_token(authn: Authenticator, clock: Clock) -> None:
    challenge = authn.new_challenge(KEY_ID)
    token = authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    session = authn.session(token)
    assert session.key_id == KEY_ID and session.expires_in == 900
    clock.now += 899
    assert authn.session(token).key_id == KEY_ID
    clock.now += 1
    with pytest.raises(TokenError):
        authn.session(token)


def test_secrets_are_kept_only_hashed(clock: Clock) -> None:
    tokens = MemoryTokens()
    authn = Authenticator(LOG, classical_logins=True,
                          servers=[SERVER], clock=clock, tokens=tokens)
    challenge = authn.new_challenge(KEY_ID)
    token = authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    assert tokens.get_token(hashlib.sha256(token.encode()).hexdigest()) == (KEY_ID, 1900)
    assert token not in repr(tokens._tokens)
    assert authn._redeemed == {hashlib.sha256(challenge).digest(): 1060.0}


def test_issuing_challenges_stores_nothing(authn: Authenticator) -> None:
    """A flood of challenges fills no table: each carries its own expiry and MAC."""
    challenges = {authn.new_challenge(KEY_ID) for _ in range(10_000)}
    assert len(challenges) == 10_000
    assert authn._redeemed == {} and authn.sweep() == 0
    challenge = challenges.pop()
    assert len(challenge) == 48 and len(base64.b64encode(challenge)) == 64
    assert authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)


def test_made_up_tampered_or_foreign_challenges_are_refused(authn: Authenticator,
                                                           clock: Clock) -> None:
    challenge = authn.new_challenge(KEY_ID)
    later = (int.from_bytes(challenge[:8], "big") + 3600).to_bytes(8, "big")
    other = Authenticator(LOG, classical_logins=True,
                          servers=[SERVER], clock=clock)  # another secret
    for bad in (b"\1" * 48, challenge[:-1], later + challenge[8:],
                challenge[:20] + bytes([challenge[20] ^ 1]) + challenge[21:],
                other.new_challenge(KEY_ID)):
        with pytest.raises(ChallengeError):
            authn.redeem(KEY_ID, bad, answer(bad), AUTH_KEY, SERVER)


def test_tokens_and_challenges_survive_a_restart(clock: Clock) -> None:
    """Same secret and token store (the data directory): a new process keeps the login."""
    tokens, secret = MemoryTokens(), b"\5" * 32
    first = Authenticator(LOG, classical_logins=True,
                          servers=[SERVER], clock=clock, tokens=tokens, secret=secret)
    challenge = first.new_challenge(KEY_ID)
    token = first.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    second = Authenticator(LOG, classical_logins=True,
                          servers=[SERVER], clock=clock, tokens=tokens, secret=secret)
    assert second.session(token).key_id == KEY_ID
    challenge = first.new_challenge(KEY_ID)
    assert second.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)


def test_a_challenge_gives_one_token(authn: Authenticator) -> None:
    challenge = authn.new_challenge(KEY_ID)
    authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    with pytest.raises(ChallengeError, match="used"):
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    # A wrong signature spends nothing (remembering it would let anyone fill memory); the
    # genuine one still works once.
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(SignatureError):
        authn.redeem(KEY_ID, challenge, b"\0" * 64, AUTH_KEY, SERVER)
    assert authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)


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
        authn.redeem(KEY_ID, challenge, forge(challenge), AUTH_KEY, SERVER)  # type: ignore[operator]


RELAY = "http://127.0.0.1:9999"


def test_a_login_signed_for_another_address_is_refused(authn: Authenticator) -> None:
    """A look-alike server at RELAY passes the real server's challenge on: the investigator's
    genuine signature names RELAY, and the real server, not reachable there, refuses it."""
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(WrongServerError, match="look-alike server"):
        authn.redeem(KEY_ID, challenge, answer(challenge, server=RELAY), AUTH_KEY, RELAY)
    with pytest.raises(ChallengeError):  # spent by the refused attempt
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    # Claiming this server's address does not make a signature made for RELAY verify.
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(SignatureError):
        authn.redeem(KEY_ID, challenge, answer(challenge, server=RELAY), AUTH_KEY, SERVER)
    # The address is compared once normalized, as the client and the settings write it.
    challenge = authn.new_challenge(KEY_ID)
    assert authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY,
                        "http://AbcdefghijklmnoP.onion./")


def test_no_configured_address_accepts_no_login(clock: Clock) -> None:
    authn = Authenticator(LOG, classical_logins=True,
                          clock=clock)
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(WrongServerError):
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)


def test_an_outdated_login_is_refused_with_a_clear_reason(authn: Authenticator) -> None:
    challenge = authn.new_challenge(KEY_ID)
    old = KEY.sign(f"amanat/auth/v1\nlog {LOG}\nkey-id {KEY_ID}\nchallenge ".encode()
                   + base64.b64encode(challenge) + b"\n").signature
    with pytest.raises(OutdatedLoginError, match="update amanat"):
        authn.redeem(KEY_ID, challenge, bytes(old), AUTH_KEY, None)
    assert challenge_message(SERVER, LOG, KEY_ID, b"").startswith(
        b"amanat/auth/v2\nserver http://abcdefghijklmnop.onion:80\nlog ")


@pytest.mark.parametrize(("url", "origin"), [
    ("http://ABC.onion", "http://abc.onion:80"),
    ("http://abc.onion:80/amanat/", "http://abc.onion:80"),
    ("https://vault.example.org", "https://vault.example.org:443"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://[0:0::1]:8000", "http://[::1]:8000"),
    ("http://b\u00fccher.example", "http://xn--bcher-kva.example:80"),
])
def test_server_origin(url: str, origin: str) -> None:
    assert server_origin(url) == origin


@pytest.mark.parametrize("url", ["abc.onion", "ftp://abc.onion", "http://", "http://a:b@x",
                                 "http://x:99999"])
def test_server_origin_refuses(url: str) -> None:
    with pytest.raises(ValueError, match=r"address|user name"):
        server_origin(url)


def test_challenge_expiry_and_binding(authn: Authenticator, clock: Clock) -> None:
    challenge = authn.new_challenge(KEY_ID)
    clock.now += 60
    with pytest.raises(ChallengeError, match="expired"):
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(ChallengeError):  # issued for another key id
        authn.redeem("7766554433221100", challenge, answer(challenge), AUTH_KEY, SERVER)
    authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    clock.now += 61
    assert authn.sweep() == 1  # the redeemed challenge is forgotten once expired
    clock.now += 900
    assert authn.sweep() == 1  # and the token


def test_revoke_and_bad_tokens(authn: Authenticator) -> None:
    challenge = authn.new_challenge(KEY_ID)
    token = authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
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


def test_a_hybrid_log_key_is_named_whole_or_by_its_ed25519_half(clock: Clock) -> None:
    # After the server's log key gains its ML-DSA-44 half, the roster still names the
    # Ed25519 half until the admin re-signs it: logins naming either are the same key.
    hybrid = f"{LOG} amanat-log-test+05060708+/w=="
    authn = Authenticator(hybrid, classical_logins=True,
                          servers=[SERVER], clock=clock, tokens=MemoryTokens())
    for named in (hybrid, LOG):
        challenge = authn.new_challenge(KEY_ID)
        assert authn.redeem(KEY_ID, challenge, answer(challenge, log=named), AUTH_KEY, SERVER)
    challenge = authn.new_challenge(KEY_ID)
    with pytest.raises(SignatureError):
        authn.redeem(KEY_ID, challenge, answer(challenge, log="amanat-log-other+01020304+AQ=="),
                     AUTH_KEY, SERVER)
    with pytest.raises(SignatureError):
        authn.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, "not a url")


# --- the default policy: Ed25519 and ML-DSA-44 -------------------------------------------

PQ_KEY = mldsa.MLDSA44PrivateKey.from_seed_bytes(b"\x09" * 32)
AUTH_PQ = PQ_KEY.public_key().public_bytes_raw()


def pq_answer(challenge: bytes, key: mldsa.MLDSA44PrivateKey = PQ_KEY, server: str = SERVER
              ) -> bytes:
    return key.sign(challenge_message(server, LOG, KEY_ID, challenge))


@pytest.fixture
def strict(clock: Clock) -> Authenticator:
    return Authenticator(LOG, servers=[SERVER], clock=clock, tokens=MemoryTokens())


def test_a_hybrid_entry_needs_both_signatures(strict: Authenticator) -> None:
    challenge = strict.new_challenge(KEY_ID)
    other = mldsa.MLDSA44PrivateKey.from_seed_bytes(b"\x0a" * 32)
    wrong = [
        (answer(challenge), None),                                    # Ed25519 only
        (b"\0" * 64, pq_answer(challenge)),                           # ML-DSA-44 only
        (answer(challenge), pq_answer(challenge, key=other)),         # another ML-DSA key
        (answer(challenge), pq_answer(challenge, server=RELAY)),      # another message
        (answer(challenge), pq_answer(challenge)[:-1]),               # truncated
        (answer(challenge), b""),
        (answer(challenge), bytes(2420)),
    ]
    for signature, signature_mldsa in wrong:
        with pytest.raises(SignatureError, match="does not match"):
            strict.redeem(KEY_ID, challenge, signature, AUTH_KEY, SERVER,
                          signature_mldsa=signature_mldsa, auth_pq=AUTH_PQ)
    # None of the refusals spent the challenge.
    token = strict.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER,
                          signature_mldsa=pq_answer(challenge), auth_pq=AUTH_PQ)
    assert strict.session(token).key_id == KEY_ID


def test_a_classical_entry_is_refused_by_default_naming_the_fix(
        strict: Authenticator, clock: Clock) -> None:
    challenge = strict.new_challenge(KEY_ID)
    with pytest.raises(ClassicalLoginError, match="amanat keys upgrade"):
        strict.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
    # Not spent: the same challenge still logs in once the server accepts classical logins.
    relaxed = Authenticator(LOG, servers=[SERVER], clock=clock, tokens=MemoryTokens(),
                            secret=strict._secret, classical_logins=True)
    assert relaxed.redeem(KEY_ID, challenge, answer(challenge), AUTH_KEY, SERVER)
