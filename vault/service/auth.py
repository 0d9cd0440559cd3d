"""Investigator authentication: sign a fresh server challenge, get a short-lived token.

Protects "only investigators on the current roster read testimony" at the HTTP door:

* a challenge is stateless, so a flood of them fills nothing: its expiry time, 16 random
  bytes and an HMAC-SHA256 (with a server secret kept in the data directory) over those and
  the key id it was issued for. Issuing one stores nothing; it is accepted until it expires
  and only once: a redeemed challenge is remembered (as its SHA-256) until it expires, and
  only redeeming needs a valid investigator signature, which bounds that memory;
* the investigator signs ``challenge_message(...)`` with the auth keys listed for their key
  id in the current signed roster: Ed25519 and ML-DSA-44 (pure ML-DSA, empty context), and
  both signatures must verify, so a forger of either scheme alone (a future quantum computer
  against Ed25519) cannot log in. A missing or wrong one is refused like a wrong signature,
  spending nothing. An older, classical roster entry (Ed25519 alone) is refused with a
  message naming the fix (``amanat keys upgrade``, then the new card to the admin), unless
  the server runs under the explicit classical login policy (``classical_logins``), which
  accepts an Ed25519 signature alone from such entries. The message names the address the client
  connected to (`server_origin`: ``scheme://host:port``) and the log key of its roster; the
  server accepts it only for an address it is configured to be reachable at (never its
  ``Host`` header, which a relay chooses). A look-alike server that relays a challenge from
  the real one gets a signature for its own address, which the real server refuses;
* a token is 32 random bytes, kept only as its SHA-256 (in the store, so a restart keeps
  investigators logged in), valid for ``token_ttl`` seconds and only while its key id is
  still on the current roster (removal revokes at once). The store holds a live token's
  digest, key id and expiry, and forgets it when it expires: a seized disk holds no usable
  token, and only the logins of the last ``token_ttl`` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

AUTH_DOMAIN = "amanat/auth/v2"
DEFAULT_PORTS = {"http": 80, "https": 443}
CHALLENGE_DOMAIN = b"amanat/challenge/v1\n"
SECRET_BYTES = 32
_EXPIRY_BYTES = 8
_NONCE_BYTES = 16
_MAC_BYTES = 24
CHALLENGE_BYTES = _EXPIRY_BYTES + _NONCE_BYTES + _MAC_BYTES  # 48: 64 base64 characters
TOKEN_BYTES = 32
DEFAULT_CHALLENGE_TTL = 60.0
DEFAULT_TOKEN_TTL = 900.0


class AuthError(Exception):
    """Authentication failed. The message is safe to show and says nothing secret."""


class ChallengeError(AuthError):
    """The challenge is unknown, already used or expired."""


class SignatureError(AuthError):
    """The signature does not verify with the auth key the roster lists for that key id."""


class TokenError(AuthError):
    """The bearer token is unknown, malformed or expired, or its investigator left the roster."""


class ClassicalLoginError(AuthError):
    """The roster lists an Ed25519-only auth key for this key id, and the server does not
    accept classical logins."""


class WrongServerError(AuthError):
    """A genuine signature made for an address this server is not configured to be reachable
    at: the investigator was talking to another server, which relayed the challenge."""


class OutdatedLoginError(AuthError):
    """The client signed the old login message, which names no server address."""


def server_origin(url: str) -> str:
    """``url``'s origin as logins name it: ``scheme://host:port``, scheme and host in lower
    case, the port always written, an IPv6 address in brackets, a trailing dot dropped; the
    path is ignored. ValueError (a sentence) for an address that is not http(s)://host."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} is not a valid address") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        raise ValueError(f"{url!r} is not an address like http://HOST[:PORT]")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r} has a user name in it; write http://HOST[:PORT]")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{url!r} has a host name that cannot be written in ASCII") from None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        host = f"[{address.compressed}]" if address.version == 6 else address.compressed
    return f"{scheme}://{host}:{port if port is not None else DEFAULT_PORTS[scheme]}"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a listen address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_origins(port: int) -> tuple[str, ...]:
    """The addresses a server listening on loopback ``port`` is reachable at from its own
    machine: what it accepts logins for when no public address is configured."""
    return tuple(f"http://{host}:{port}" for host in ("127.0.0.1", "localhost", "[::1]"))


def challenge_message(server: str, log_vkey: str, key_id: str, challenge: bytes) -> bytes:
    """The exact bytes an investigator signs to answer ``challenge`` from the server they
    connected to at ``server`` (an origin from `server_origin`)."""
    encoded = base64.b64encode(challenge).decode("ascii")
    return (f"{AUTH_DOMAIN}\nserver {server}\nlog {log_vkey}\nkey-id {key_id}\n"
            f"challenge {encoded}\n").encode()


def verify_login(message: bytes, signature: bytes, auth_key: bytes,
                 signature_mldsa: bytes | None, auth_pq: bytes | None) -> bool:
    """Whether ``message`` carries a valid Ed25519 signature by ``auth_key`` and, when the
    roster lists an ML-DSA-44 key (``auth_pq``), a valid ML-DSA-44 signature by it too (pure
    ML-DSA, empty context)."""
    try:
        nacl.signing.VerifyKey(auth_key).verify(message, signature)
    except (ValueError, nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
            nacl.exceptions.TypeError):
        return False
    if auth_pq is None:
        return True
    if signature_mldsa is None:
        return False
    try:
        mldsa.MLDSA44PublicKey.from_public_bytes(auth_pq).verify(signature_mldsa, message)
    except (ValueError, InvalidSignature):
        return False
    return True


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


@dataclass(frozen=True)
class Session:
    """Who a valid token belongs to."""

    key_id: str
    expires_in: float


class TokenStore(Protocol):
    """Where live tokens are kept, by the SHA-256 (hex) of the token; expiry in seconds
    since the epoch. vault.store's stores implement it."""

    def put_token(self, digest: str, key_id: str, expires: int) -> None: ...

    def get_token(self, digest: str) -> tuple[str, int] | None: ...

    def delete_token(self, digest: str) -> None: ...

    def delete_tokens_expired(self, now: int) -> int: ...


@runtime_checkable
class SpentChallenges(Protocol):
    """Where redeemed challenges are remembered (by SHA-256) until they expire, when several
    server processes must agree that each is spent once (vault/store/postgres.py); one
    process alone keeps them in memory."""

    def spend_challenge(self, digest: bytes, expires: int) -> bool:
        """Remember ``digest`` until ``expires``; False if it was spent already."""
        ...


class MemoryTokens:
    """A TokenStore in memory (tests, and tools that need no restart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, int]] = {}

    def put_token(self, digest: str, key_id: str, expires: int) -> None:
        with self._lock:
            self._tokens[digest] = (key_id, expires)

    def get_token(self, digest: str) -> tuple[str, int] | None:
        with self._lock:
            return self._tokens.get(digest)

    def delete_token(self, digest: str) -> None:
        with self._lock:
            self._tokens.pop(digest, None)

    def delete_tokens_expired(self, now: int) -> int:
        with self._lock:
            old = [d for d, (_, expires) in self._tokens.items() if expires <= now]
            for digest in old:
                del self._tokens[digest]
            return len(old)


class Authenticator:
    """Issues stateless challenges and tokens kept only as SHA-256 digests."""

    def __init__(
        self,
        log_vkey: str,
        *,
        secret: bytes | None = None,
        tokens: TokenStore | None = None,
        spent: SpentChallenges | None = None,
        servers: Iterable[str] = (),
        challenge_ttl: float = DEFAULT_CHALLENGE_TTL,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        clock: Callable[[], float] = time.time,
        classical_logins: bool = False,
    ) -> None:
        self.log_vkey = log_vkey
        # The classical login policy: roster entries without an ML-DSA-44 auth key may log
        # in with Ed25519 alone. Off by default.
        self.classical_logins = classical_logins
        # The addresses this server is reachable at: a login made for any other is refused.
        # None configured, none accepted.
        self.servers = frozenset(server_origin(s) for s in servers)
        self.challenge_ttl = challenge_ttl
        self.token_ttl = token_ttl
        self._secret = secret if secret is not None else secrets.token_bytes(SECRET_BYTES)
        if len(self._secret) < SECRET_BYTES:
            raise ValueError(f"the challenge secret must have at least {SECRET_BYTES} bytes")
        self._tokens = tokens if tokens is not None else MemoryTokens()
        self._clock = clock
        self._lock = threading.Lock()
        # Redeemed challenges (their SHA-256) until they expire: at most one per login. In
        # ``spent`` when given (shared by several processes), else here.
        self._redeemed: dict[bytes, float] = {}
        self._spent = spent

    def _log_names(self) -> tuple[str, ...]:
        """How a login message may name this server's log: its public form, or (a hybrid key
        whose ML-DSA-44 half is newer than the roster's log line) its Ed25519 half alone,
        the same key, until the roster names the whole."""
        classical = self.log_vkey.split(" ")[0]
        return (self.log_vkey,) if classical == self.log_vkey else (self.log_vkey, classical)

    def derive_key(self, domain: bytes) -> bytes:
        """A key for another purpose (``domain``) derived from the server secret."""
        return hmac.new(self._secret, domain, hashlib.sha256).digest()

    def _mac(self, key_id: str, expiry_and_nonce: bytes) -> bytes:
        message = CHALLENGE_DOMAIN + key_id.encode("utf-8") + b"\n" + expiry_and_nonce
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def new_challenge(self, key_id: str) -> bytes:
        """A fresh challenge for ``key_id`` (the caller checked the key id is on the roster).
        Stores nothing."""
        expires = int(self._clock() + self.challenge_ttl)
        head = expires.to_bytes(_EXPIRY_BYTES, "big") + secrets.token_bytes(_NONCE_BYTES)
        return head + self._mac(key_id, head)

    def redeem(self, key_id: str, challenge: bytes, signature: bytes, auth_key: bytes,
               server: str | None, *, signature_mldsa: bytes | None = None,
               auth_pq: bytes | None = None) -> str:
        """Check a challenge signed for ``server`` (the address the client connected to, as
        it says; None from a client older than that) with ``auth_key`` (Ed25519) and, for a
        hybrid roster entry, ``auth_pq`` (ML-DSA-44); return a new bearer token.

        A challenge gives at most one token: the first valid signature redeems it.
        """
        now = self._clock()
        head, mac = challenge[:-_MAC_BYTES], challenge[-_MAC_BYTES:]
        if len(challenge) != CHALLENGE_BYTES or not hmac.compare_digest(
                mac, self._mac(key_id, head)):
            raise ChallengeError("unknown challenge, or one issued for another key id: ask "
                                 "for a new one")
        expires = int.from_bytes(head[:_EXPIRY_BYTES], "big")
        if expires <= now:
            raise ChallengeError("expired challenge: ask for a new one")
        if server is None:
            raise OutdatedLoginError(
                f"this amanat signs an older login message, which does not name the server "
                f"and could be relayed by a look-alike server; update amanat ({AUTH_DOMAIN})")
        if auth_pq is None and not self.classical_logins:
            raise ClassicalLoginError(
                f"the roster lists only an Ed25519 auth key for {key_id}, and this server "
                "accepts only logins signed with Ed25519 and ML-DSA-44: the investigator "
                "runs `amanat keys upgrade IDENTITY` and sends the new card to the "
                "organization's admin, who replaces the old one on the roster")
        try:
            origin = server_origin(server)
        except ValueError:
            raise SignatureError("the signature does not match this key id's auth key") from None
        if not any(verify_login(challenge_message(origin, log, key_id, challenge),
                                signature, auth_key, signature_mldsa, auth_pq)
                   for log in self._log_names()):
            raise SignatureError("the signature does not match this key id's auth key")
        # Spent by its first genuine signature, even one made for another address. A wrong
        # signature spends nothing: remembering those would let anyone fill memory.
        digest = _digest(challenge)
        if self._spent is not None:
            if not self._spent.spend_challenge(digest, expires):
                raise ChallengeError("used challenge: ask for a new one")
        else:
            with self._lock:
                self._expire_redeemed(now)
                if digest in self._redeemed:
                    raise ChallengeError("used challenge: ask for a new one")
                self._redeemed[digest] = float(expires)
        if origin not in self.servers:
            raise WrongServerError(
                "this server is not reachable at the address the login was signed for: you "
                "may be talking to a look-alike server that passes challenges on; check the "
                "address with your organization (if it is this server's own, its admin must "
                "add it with --public-url)")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._tokens.put_token(_digest(token.encode("ascii")).hex(), key_id,
                               int(now + self.token_ttl))
        return token

    def session(self, token: str) -> Session:
        """The session a bearer token stands for; TokenError when invalid or expired."""
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            raise TokenError("invalid or expired token") from None
        now = self._clock()
        digest = _digest(raw).hex()
        found = self._tokens.get_token(digest)
        if found is not None and found[1] <= now:
            self._tokens.delete_token(digest)
            found = None
        if found is None:
            raise TokenError("invalid or expired token")
        return Session(found[0], found[1] - now)

    def revoke(self, token: str) -> None:
        """Forget a token (logout)."""
        self._tokens.delete_token(_digest(token.encode("ascii", "replace")).hex())

    def sweep(self) -> int:
        """Forget expired redeemed challenges and tokens; return how many were dropped."""
        now = self._clock()
        with self._lock:
            dropped = self._expire_redeemed(now)
        return dropped + self._tokens.delete_tokens_expired(int(now))

    def _expire_redeemed(self, now: float) -> int:
        old = [d for d, expires in self._redeemed.items() if expires <= now]
        for digest in old:
            del self._redeemed[digest]
        return len(old)
