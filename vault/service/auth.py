"""Investigator authentication: sign a fresh server challenge, get a short-lived token.

Protects "only investigators on the current roster read testimony" at the HTTP door:

* a challenge is 32 random bytes, single-use (consumed by the first attempt, right or
  wrong), expires after ``challenge_ttl`` seconds and is kept only as its SHA-256;
* the investigator signs ``challenge_message(...)`` with the Ed25519 auth key listed for
  their key id in the current signed roster. The message names the address the client
  connected to (`server_origin`: ``scheme://host:port``) and the log key of its roster; the
  server accepts it only for an address it is configured to be reachable at (never its
  ``Host`` header, which a relay chooses). A look-alike server that relays a challenge from
  the real one gets a signature for its own address, which the real server refuses;
* a token is 32 random bytes, kept only as its SHA-256, valid for ``token_ttl`` seconds and
  only while its key id is still on the current roster (removal revokes at once).

This state lives in memory and never touches disk: a seized disk holds no live token and no
record of when anyone logged in; restarting the server logs everyone out.
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

import nacl.exceptions
import nacl.signing

AUTH_DOMAIN = "amanat/auth/v2"
DEFAULT_PORTS = {"http": 80, "https": 443}
CHALLENGE_BYTES = 32
TOKEN_BYTES = 32
DEFAULT_CHALLENGE_TTL = 60.0
DEFAULT_TOKEN_TTL = 900.0
MAX_OUTSTANDING_CHALLENGES = 10_000


class AuthError(Exception):
    """Authentication failed. The message is safe to show and says nothing secret."""


class ChallengeError(AuthError):
    """The challenge is unknown, already used or expired."""


class SignatureError(AuthError):
    """The signature does not verify with the auth key the roster lists for that key id."""


class TokenError(AuthError):
    """The bearer token is unknown, malformed or expired, or its investigator left the roster."""


class WrongServerError(AuthError):
    """A genuine signature made for an address this server is not configured to be reachable
    at: the investigator was talking to another server, which relayed the challenge."""


class OutdatedLoginError(AuthError):
    """The client signed the old login message, which names no server address."""


class BusyError(AuthError):
    """Too many outstanding challenges; try again shortly."""


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


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


@dataclass(frozen=True)
class Session:
    """Who a valid token belongs to."""

    key_id: str
    expires_in: float


@dataclass
class _Pending:
    key_id: str
    expires: float


class Authenticator:
    """Issues challenges and tokens; all secrets are held only as SHA-256 digests."""

    def __init__(
        self,
        log_vkey: str,
        *,
        servers: Iterable[str] = (),
        challenge_ttl: float = DEFAULT_CHALLENGE_TTL,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_outstanding: int = MAX_OUTSTANDING_CHALLENGES,
    ) -> None:
        self.log_vkey = log_vkey
        # The addresses this server is reachable at: a login made for any other is refused.
        # None configured, none accepted.
        self.servers = frozenset(server_origin(s) for s in servers)
        self.challenge_ttl = challenge_ttl
        self.token_ttl = token_ttl
        self._clock = clock
        self._max_outstanding = max_outstanding
        self._lock = threading.Lock()
        self._challenges: dict[bytes, _Pending] = {}
        self._tokens: dict[bytes, _Pending] = {}

    def new_challenge(self, key_id: str) -> bytes:
        """A fresh challenge for ``key_id`` (the caller checked the key id is on the roster)."""
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        now = self._clock()
        with self._lock:
            if len(self._challenges) >= self._max_outstanding:
                self._expire(now)
                if len(self._challenges) >= self._max_outstanding:
                    raise BusyError("too many logins in progress; try again in a minute")
            self._challenges[_digest(challenge)] = _Pending(key_id, now + self.challenge_ttl)
        return challenge

    def redeem(self, key_id: str, challenge: bytes, signature: bytes, auth_key: bytes,
               server: str | None) -> str:
        """Check a challenge signed for ``server`` (the address the client connected to, as
        it says; None from a client older than that); return a new bearer token.

        The challenge is consumed whatever the outcome, so it can never be tried twice.
        """
        now = self._clock()
        with self._lock:
            pending = self._challenges.pop(_digest(challenge), None)
        if pending is None or pending.expires <= now:
            raise ChallengeError("unknown, used or expired challenge: ask for a new one")
        if not hmac.compare_digest(pending.key_id, key_id):
            raise ChallengeError("this challenge was issued for another key id")
        if server is None:
            raise OutdatedLoginError(
                f"this amanat signs an older login message, which does not name the server "
                f"and could be relayed by a look-alike server; update amanat ({AUTH_DOMAIN})")
        try:
            origin = server_origin(server)
            nacl.signing.VerifyKey(auth_key).verify(
                challenge_message(origin, self.log_vkey, key_id, challenge), signature
            )
        except (ValueError, nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
                nacl.exceptions.TypeError):
            raise SignatureError("the signature does not match this key id's auth key") from None
        if origin not in self.servers:
            raise WrongServerError(
                "this server is not reachable at the address the login was signed for: you "
                "may be talking to a look-alike server that passes challenges on; check the "
                "address with your organization (if it is this server's own, its admin must "
                "add it with --public-url)")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            self._tokens[_digest(token.encode("ascii"))] = _Pending(key_id, now + self.token_ttl)
        return token

    def session(self, token: str) -> Session:
        """The session a bearer token stands for; TokenError when invalid or expired."""
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            raise TokenError("invalid or expired token") from None
        now = self._clock()
        digest = _digest(raw)
        with self._lock:
            pending = self._tokens.get(digest)
            if pending is not None and pending.expires <= now:
                del self._tokens[digest]
                pending = None
        if pending is None:
            raise TokenError("invalid or expired token")
        return Session(pending.key_id, pending.expires - now)

    def revoke(self, token: str) -> None:
        """Forget a token (logout)."""
        with self._lock:
            self._tokens.pop(_digest(token.encode("ascii", "replace")), None)

    def sweep(self) -> int:
        """Forget expired challenges and tokens; return how many were dropped."""
        with self._lock:
            return self._expire(self._clock())

    def _expire(self, now: float) -> int:
        dropped = 0
        for table in (self._challenges, self._tokens):
            for digest in [d for d, p in table.items() if p.expires <= now]:
                del table[digest]
                dropped += 1
        return dropped
