"""Proof of work for anonymous writes: a flood costs the flooder, a quiet server costs nothing.

Protects "the vault stays open under attack" (DESIGN.md, 8) where per-address limits cannot
(over Tor every client has the same address). Creating an upload, a one-request submission
and asking for a login challenge need a solved puzzle while the server is under load:

* ``GET /api/v1/work`` issues a stateless seed: expiry (8 bytes, big-endian seconds), the
  difficulty in bits (1 byte), 15 random bytes and the first 16 bytes of HMAC-SHA256 over
  those with a key derived from the server's secret (``auth.secret``). Issuing one stores
  nothing.
* A solution is a decimal counter ``c`` such that SHA-256(seed || ASCII(c)) starts with at
  least ``bits`` zero bits (hashcash). It goes in the ``Amanat-Work: <seed base64>.<c>``
  header. Plain SHA-256, so a page can solve it in JavaScript with JIT and WebAssembly off.
* The difficulty is 0 (no header needed) while the server is quiet, and rises with the rate
  of admitted anonymous writes (refused ones cost nothing, so they raise nothing) and with
  how full the upload places are: 2 bits per doubling of the rate past ``quiet_rate`` per
  second over the last 10 s, plus up to 8 bits as places fill past half.
* A solved seed is spent by its first use and remembered (as SHA-256) until it expires:
  each remembered one cost its solver the work, which bounds that memory.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

WORK_HEADER = "Amanat-Work"
WORK_DOMAIN = b"amanat/work/v1\n"
# A seed lives long enough for a phone in Tor Browser at "Safer" (no JIT: tens of thousands
# of hashes a second) to solve the hardest puzzle, MAX_BITS (about a million hashes).
SEED_SECONDS = 600
MAX_BITS = 20
# A seed solved at a difficulty at most this many bits below the one asked now is still
# accepted (the difficulty may have risen while a genuine client solved it); any easier
# one is refused, so seeds collected while the server was quiet buy nothing under load.
SLACK_BITS = 2
_RATE_SECONDS = 10.0


class WorkError(Exception):
    """The request needs a solved puzzle and has none, or a wrong, spent or stale one."""


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def solves(seed: bytes, counter: str, bits: int) -> bool:
    return leading_zero_bits(hashlib.sha256(seed + counter.encode("ascii")).digest()) >= bits


def solve(seed: bytes, bits: int, on_progress: Callable[[int], None] | None = None) -> str:
    """The first counter that solves ``seed`` at ``bits`` (about 2**bits hashes);
    ``on_progress`` hears how many were tried, every 2**16."""
    counter = 0
    while not solves(seed, str(counter), bits):
        counter += 1
        if on_progress is not None and counter % 65536 == 0:
            on_progress(counter)
    return str(counter)


@runtime_checkable
class SharedWrites(Protocol):
    """What several server processes sharing one vault (vault/store/postgres.py) share so
    that the rate counts every worker's writes and a seed is spent once across them. Nothing
    of it is stored with a time: writes are announced, not recorded."""

    def announce_write(self) -> None:
        """Tell every process (this one included) that an anonymous write was admitted."""
        ...

    def on_write(self, heard: Callable[[], None]) -> None:
        """Call ``heard`` whenever any process announces a write."""
        ...

    def spend_seed(self, digest: bytes, expires: int) -> bool:
        """Remember a solved seed until it expires; False when any process spent it."""
        ...


class WorkGate:
    """Issues seeds and checks solutions; keeps only the recent write rate and spent seeds."""

    def __init__(self, key: bytes, *, quiet_rate: float = 0.0, min_bits: int = 0,
                 places_used: Callable[[], float] = lambda: 0.0,
                 clock: Callable[[], float] = time.time,
                 shared: SharedWrites | None = None) -> None:
        # quiet_rate 0: no work is asked for the rate of writes or the places in use, only
        # ``min_bits`` (a floor an operator sets during an attack; 0: none).
        self._key = key
        self.quiet_rate = quiet_rate
        self.min_bits = min_bits
        self.places_used = places_used
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: collections.deque[float] = collections.deque()
        self._spent: dict[bytes, float] = {}
        # Several workers: writes counted as announced by all, seeds spent in the store.
        self._shared = shared
        if shared is not None:
            shared.on_write(lambda: self._count(self._clock()))

    def bits(self) -> int:
        """The difficulty now: ``min_bits`` (normally 0) while quiet."""
        floor = min(MAX_BITS, self.min_bits)
        if self.quiet_rate <= 0:
            return floor
        now = self._clock()
        with self._lock:
            while self._recent and self._recent[0] <= now - _RATE_SECONDS:
                self._recent.popleft()
            rate = len(self._recent) / _RATE_SECONDS
        rate_bits = 0 if rate <= self.quiet_rate else 2 * math.ceil(math.log2(
            rate / self.quiet_rate))
        used = self.places_used()
        place_bits = 0 if used <= 0.5 else math.ceil(16 * (used - 0.5))
        return min(MAX_BITS, max(floor, rate_bits + place_bits))

    def seed(self) -> tuple[bytes, int]:
        bits = self.bits()
        head = (int(self._clock() + SEED_SECONDS).to_bytes(8, "big") + bytes([bits])
                + secrets.token_bytes(15))
        return head + self._mac(head), bits

    def _mac(self, head: bytes) -> bytes:
        return hmac.new(self._key, head, hashlib.sha256).digest()[:16]

    def admit(self, header: str | None) -> None:
        """Check an anonymous write's work (none needed while quiet) and count it;
        WorkError when it needs one."""
        now = self._clock()
        required = self.bits()
        if required == 0:
            self._count_admitted(now)
            return
        if not header:
            raise WorkError("the server is busy: solve a proof of work first (GET /api/v1/work)")
        encoded, _, counter = header.partition(".")
        try:
            seed = base64.b64decode(encoded, validate=True)
        except ValueError:
            seed = b""
        if (len(seed) != 40 or not (counter.isascii() and counter.isdigit()) or len(counter) > 20
                or not hmac.compare_digest(seed[24:], self._mac(seed[:24]))):
            raise WorkError("this proof of work is not one this server issued; get a new one")
        expires, bits = int.from_bytes(seed[:8], "big"), seed[8]
        if expires <= now:
            raise WorkError("this proof of work expired; get a new one")
        if bits < required - SLACK_BITS or not solves(seed, counter, bits):
            raise WorkError("this proof of work is not solved, or too easy now; get a new one")
        digest = hashlib.sha256(seed).digest()
        if self._shared is not None:
            if not self._shared.spend_seed(digest, expires):
                raise WorkError("this proof of work was used already; get a new one")
        else:
            with self._lock:
                for old in [d for d, t in self._spent.items() if t <= now]:
                    del self._spent[old]
                if digest in self._spent:
                    raise WorkError("this proof of work was used already; get a new one")
                self._spent[digest] = float(expires)
        self._count_admitted(now)

    def _count_admitted(self, now: float) -> None:
        if self._shared is not None:
            self._shared.announce_write()  # heard back here too, like every worker
        else:
            self._count(now)

    def _count(self, now: float) -> None:
        """Count an admitted write (only those: refusals cost a flooder nothing, so they
        must not raise the difficulty for everyone)."""
        with self._lock:
            self._recent.append(now)
            if len(self._recent) > 100_000:
                self._recent.popleft()
