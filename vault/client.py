"""HTTP client for the amanat server API (``/api/v1``), used by the CLI, the tests and tools.

Protects the witness on the wire: it sends a fixed, generic User-Agent, no cookies and no
Referer; it can go through a SOCKS proxy that resolves names itself (``socks5h://`` for Tor,
so no DNS query leaves the machine; needs httpx's ``socks`` extra, the ``socksio`` package);
the mailbox secret travels in a header, never in a URL; sealed files are streamed from and to
disk, never held whole in memory; every download is checked against the server's SHA-256.
A hostile server cannot fill memory or disk: every answer read into memory is refused as
soon as it passes a bound fit for what it is (`SMALL_ANSWER_BYTES`, `LISTING_ANSWER_BYTES`,
the roster's limit), a download as soon as it passes the size listed, and a listing after
`MAX_LISTED_SUBMISSIONS` (`AnswerTooLargeError`, `MalformedAnswerError`).

Errors are sentences a person can act on, never the name of a Python exception:
``AddressError`` is a server or proxy address that cannot work (no ``http://``; an onion
address without Tor, or through a proxy that would resolve it with local DNS);
``ClientError`` carries the HTTP status and the server's one-line message;
``TransportError`` means the server could not be reached or the connection broke (saying
whether nothing listens there, the name does not resolve, or Tor is not running).

Bad networks: a client given a `RetryPolicy` keeps trying what is safe to try again (a
connection refused, reset or timed out; 502, 503, 504; 429 after its Retry-After) with
exponential backoff and jitter, for a bounded time counted from the last success, and tells
``on_wait`` how long it waits. Refusals (other 4xx) are never retried. An upload that broke
goes on from the offset the server reports after it reconnects (`send_resumable`).

A hostile server (or one posing as the vault) gets no more than that: answers read into
memory stop at a limit suited to what they are (`SMALL_ANSWER_BYTES`,
`LISTING_ANSWER_BYTES`, the roster's own) and must arrive within the timeout; downloads stop at the
size the listing gave; an upload offset must lie between what the server already confirmed
and the end of the file, and an append must be confirmed exactly; only bytes the server
takes restart the retry count, so ``--retry-for`` bounds every wait between them.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import re
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, BinaryIO, TypeVar

import httpx

from keys.roster import MAX_ROSTER_BYTES
from vault.service.auth import challenge_message, server_origin
from vault.service.mailbox import MAILBOX_SECRET_HEADER, encode_mailbox_secret
from vault.service.work import MAX_BITS as MAX_WORK_BITS
from vault.service.work import WORK_HEADER, solve
from vault.store import is_valid_id
from vault.tlog.tiles import MAX_ENTRY_BYTES, Tile

API = "/api/v1"
DEFAULT_USER_AGENT = "amanat"
UPLOAD_OFFSET = "Upload-Offset"
STREAM_BYTES = 256 * 1024
DEFAULT_UPLOAD_CHUNK = 8 * 1024 * 1024
RESYNC_LIMIT = 5  # 400/408/409 answers in a row to a PATCH before giving up
# A download must bring at least this much in every timeout's span (64 KiB in 120 s, about
# 0.5 KiB/s, far below the slowest Tor circuit that works), or it is broken off.
MIN_DOWNLOAD_BYTES = 64 * 1024
# The shortest wait for one attempt under a retry policy nearly out of time (a slow Tor
# circuit still answers within it).
MIN_ATTEMPT_SECONDS = 10.0
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII digits only: int() also takes "١٢", "+1", "1_0"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
WORK_ATTEMPTS = 4
TOR_PROXY = "socks5h://127.0.0.1:9050"
# What the client holds in memory of one answer: a hostile server could send without end.
SMALL_ANSWER_BYTES = 64 * 1024  # ids, offsets, tokens, receipts, proofs, checkpoints, errors
LISTING_ANSWER_BYTES = 4 * 1024 * 1024  # the mailbox, a page of a listing or of the log
MAX_REPLY_BYTES = 16 * 1024 * 1024  # a sealed reply (the server's default limit)
PAGE_FILE_BYTES = 4 * 1024 * 1024  # one file of the witness page (the server's own limit)
MAX_LISTED_SUBMISSIONS = 100_000  # what `iter_submissions` holds across its pages
_SYSTEM_RANDOM = secrets.SystemRandom()  # jitter, from the OS like all randomness here


class AddressError(ValueError):
    """A server or proxy address that cannot work as given; the message says what to write."""


class ClientError(Exception):
    """The server refused a request; ``status`` is the HTTP status, ``retry_after`` the
    seconds its Retry-After header asks to wait (or None)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"server refused ({status}): {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class NotAmanatError(ClientError):
    """The address answers, but not as an amanat server: no such API path there (a wrong
    port or path, another web server)."""

    def __init__(self, server: str, path: str) -> None:
        super().__init__(404, f"no amanat server answers at {server} (nothing at {path} "
                              "there)")
        self.args = (f"{self.message}: check the address, the port and any path after the "
                     "host name",)


class TransportError(Exception):
    """The server could not be reached, or the connection broke mid-request; ``short`` is a
    few words for a status line ("server unreachable"). ``retryable`` is False when trying
    again cannot help (the address does not speak the protocol asked for)."""

    def __init__(self, message: str, short: str = "server unreachable", *,
                 retryable: bool = True) -> None:
        super().__init__(message)
        self.short = short
        self.retryable = retryable


class GaveUpError(TransportError):
    """A `RetryPolicy` ran out of time: the server stayed out of reach, or busy, throughout
    the ``seconds`` it allowed; the message is the last failure's."""

    def __init__(self, message: str, short: str, seconds: float) -> None:
        super().__init__(message, short)
        self.seconds = seconds


class DeliveryUnknownError(Exception):
    """The connection broke while the server was finishing an upload and the upload is gone:
    it was most likely stored, but its receipt never arrived."""


class IntegrityError(Exception):
    """Downloaded bytes do not match the SHA-256 the server announced."""


class MalformedAnswerError(Exception):
    """The server's answer does not have the shape the protocol gives it (a broken or
    hostile server); nothing in it is used."""


class AnswerTooLargeError(MalformedAnswerError):
    """The server's answer is larger than what it can be (a broken or hostile server): it
    was refused while it arrived, before it could fill memory or disk."""


def _too_large(what: str, limit: int) -> AnswerTooLargeError:
    return AnswerTooLargeError(f"the server's answer ({what}) is larger than {limit} bytes, "
                               "more than it can be: refusing it (a broken or hostile server)")


def _capped_body(response: httpx.Response, limit: int, what: str, *,
                 deadline: float | None = None,
                 too_slow: Callable[[], Exception] | None = None) -> bytes:
    """The body of a streamed ``response``, read while it arrives and refused as soon as it
    passes ``limit`` bytes (AnswerTooLargeError); a compressed body is refused (the client
    asks for none), so ``limit`` bounds what is held, not what is sent. With ``deadline``
    (a `time.monotonic` value), the whole body must have come by then: a byte now and then
    is no answer (``too_slow()`` is raised)."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise MalformedAnswerError(f"malformed answer from the server: {what} is compressed")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(what, limit)
    body = bytearray()
    for chunk in response.iter_bytes():  # as they come: a drip is timed, not buffered
        body += chunk
        if len(body) > limit:
            raise _too_large(what, limit)
        if deadline is not None and too_slow is not None and time.monotonic() > deadline:
            raise too_slow()
    return bytes(body)


def _error_body(response: httpx.Response) -> httpx.Response:
    """A refusal's ``response`` with at most SMALL_ANSWER_BYTES of its body (a longer one is
    dropped: the reason phrase stands in for it)."""
    try:
        body = _capped_body(response, SMALL_ANSWER_BYTES, "an error message")
    except MalformedAnswerError:
        body = b""
    return httpx.Response(response.status_code, headers=_plain(response.headers),
                          content=body, request=response.request)


def _plain(headers: httpx.Headers) -> httpx.Headers:
    plain = httpx.Headers(headers)
    for name in ("Content-Encoding", "Content-Length", "Transfer-Encoding"):
        plain.pop(name, None)
    return plain


@dataclass(frozen=True)
class SubmissionReceipt:
    id: str
    sha256: str
    size: int
    received: str
    log_index: int
    entry: str
    receipt: str


@dataclass(frozen=True)
class SubmissionInfo:
    id: str
    sha256: str
    size: int
    received: str
    log_index: int


@dataclass(frozen=True)
class ReplyInfo:
    id: str
    sha256: str
    size: int
    received: str
    log_index: int


_Record = TypeVar("_Record", "SubmissionInfo", "ReplyInfo", "SubmissionReceipt")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:00Z")
_CHECKS: dict[str, Callable[[Any], bool]] = {
    "id": lambda v: isinstance(v, str) and is_valid_id(v),
    "sha256": lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None,
    "received": lambda v: isinstance(v, str) and _HOUR.fullmatch(v) is not None,
    "size": lambda v: type(v) is int and v >= 0,
    "log_index": lambda v: type(v) is int and v >= -1,
    "entry": lambda v: isinstance(v, str),
    "receipt": lambda v: isinstance(v, str),
}


def _record(cls: type[_Record], obj: Any) -> _Record:
    """Build ``cls`` from a JSON object of the server, checking every field's shape (ids,
    digests and hours are later printed and put in URLs); extra fields are ignored."""
    if not isinstance(obj, dict):
        raise MalformedAnswerError(f"malformed answer from the server: no {cls.__name__}")
    values: dict[str, Any] = {}
    for field in fields(cls):
        value = obj.get(field.name)
        if not _CHECKS[field.name](value):
            raise MalformedAnswerError(
                f"malformed answer from the server: bad {field.name} in {cls.__name__}")
        values[field.name] = value
    return cls(**values)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested too deep
        raise MalformedAnswerError("malformed answer from the server: not JSON") from None


def _list(body: Any, key: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise MalformedAnswerError(f"malformed answer from the server: no {key} list")
    return items


def _base64_list(body: Any, key: str) -> list[bytes]:
    """The list ``key`` of base64 strings in a JSON answer, decoded."""
    try:
        return [base64.b64decode(item, validate=True) for item in _list(body, key)]
    except (TypeError, ValueError):  # not a string, or not base64
        raise MalformedAnswerError(
            f"malformed answer from the server: {key} that are not base64") from None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.reason_phrase or "error"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if _DIGITS.fullmatch(value):
        return float(value)
    return None


def _count(value: object, what: str, *, header: bool = False) -> int:
    """A non-negative count the server sent, checked: a JSON integer, or with ``header``
    the text of a header (ASCII digits)."""
    if not header and type(value) is int and value >= 0:
        return value
    if header and isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise MalformedAnswerError(f"malformed answer from the server: bad {what}")


def _refusal(response: httpx.Response) -> ClientError:
    return ClientError(response.status_code, _message(response), _retry_after(response))


def _is_amanat_refusal(response: httpx.Response) -> bool:
    """Whether a 404 comes from an amanat route (``{"error": ...}`` naming what is missing),
    rather than from a server or path where no amanat route exists (an answer to HEAD has no
    body, and is taken as amanat's)."""
    if response.request.method == "HEAD":
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return (isinstance(body, dict) and isinstance(body.get("error"), str)
            and body["error"] != "Not Found")


def _errno_of(exc: BaseException) -> int | None:
    """The OS error number somewhere in ``exc``'s chain (httpx wraps the socket's error)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, socket.gaierror):
            return -1
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_error_of(exc: BaseException) -> ssl.SSLError | None:
    """The TLS failure somewhere in ``exc``'s chain, if the connection failed in TLS."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None or isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_failure(where: str, server: str, tls: ssl.SSLError) -> TransportError:
    if isinstance(tls, ssl.SSLCertVerificationError):
        reason = tls.verify_message or "it cannot be verified"
        return TransportError(f"{where}: its https certificate is not trusted ({reason}); "
                              "check the address", "certificate not trusted", retryable=False)
    plain = "http://" + server.removeprefix("https://")
    return TransportError(f"{where}: no https there (the TLS handshake failed); if the server "
                          f"runs without TLS, write {plain}", "TLS handshake failed",
                          retryable=False)


def _proxy_address(proxy: str) -> str:
    url = httpx.URL(proxy)
    return f"{url.host}:{url.port}" if url.port is not None else url.host


def describe_transport_error(exc: httpx.TransportError, server: str,
                             proxy: str | None) -> TransportError:
    """``exc`` as a sentence a person can act on (no exception names)."""
    where = f"cannot reach {server}"
    number = _errno_of(exc)
    if isinstance(exc, httpx.ProxyError):
        return TransportError(f"{where}: the proxy could not connect to it ({exc}); check the "
                              "address, or wait for Tor to build a circuit and try again",
                              "the proxy cannot reach the server")
    if isinstance(exc, httpx.ConnectError) and proxy is not None:
        address = _proxy_address(proxy)
        if number == errno.ECONNREFUSED and not proxy.startswith("socks"):
            return TransportError(f"{where}: nothing answers at the proxy {address} (connection "
                                  "refused); check --proxy, and that the proxy is running",
                                  f"the proxy is not running (nothing answers at {address})")
        if number == errno.ECONNREFUSED:
            return TransportError(
                f"{where}: Tor is not running (nothing answers at the proxy {address}); start "
                "Tor, or Tor Browser and give --proxy socks5h://127.0.0.1:9150",
                f"Tor is not running (nothing answers at {address})")
        return TransportError(f"{where}: cannot connect to the proxy {address}",
                              f"cannot connect to the proxy {address}")
    tls = _tls_error_of(exc)
    if isinstance(exc, httpx.ConnectError) and tls is not None:
        return _tls_failure(where, server, tls)
    if isinstance(exc, httpx.ConnectError):
        if number == errno.ECONNREFUSED:
            return TransportError(f"{where}: nothing is listening there (connection refused); "
                                  "check the address, and that the server is running")
        if number == -1:
            return TransportError(f"{where}: no such host name; check the address",
                                  "server name not found")
        return TransportError(f"{where}: cannot connect; check the address and your network")
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(f"{where}: no answer in time; the network or the server is slow "
                              "or down", "server not answering")
    return TransportError(f"{where}: the connection broke", "connection broke")


def check_addresses(server: str, proxy: str | None) -> None:
    """Refuse a server or proxy address that cannot work, or would leak an onion lookup."""
    if not server:
        raise AddressError("the server address is empty: give --server http://HOST:PORT")
    scheme, colon, rest = server.partition(":")
    if colon and scheme.lower() in ("http", "https") and not rest.startswith("//"):
        raise AddressError(f"the server address {server} needs two slashes: write it as "
                           f"{scheme}://{rest.lstrip('/')}")
    try:
        url = httpx.URL(server)
    except httpx.InvalidURL:
        raise AddressError(f"the server address {server} is not a valid URL") from None
    if url.scheme in ("http", "https") and not url.host:
        raise AddressError(f"the server address {server} has no host name: write it as "
                           f"{url.scheme}://HOST:PORT")
    if url.scheme not in ("http", "https") or not url.host:
        if "://" not in server:
            raise AddressError(f"the server address {server} has no http:// or https://: "
                               f"write it as http://{server}")
        raise AddressError(f"the server address {server} must start with http:// or https://")
    if proxy is not None:
        try:
            proxy_url = httpx.URL(proxy)
        except httpx.InvalidURL:
            raise AddressError(f"the proxy address {proxy} is not a valid URL") from None
        if "://" not in proxy or not proxy_url.host:
            raise AddressError(f"the proxy address {proxy} has no scheme: for Tor write "
                               f"socks5h://{proxy}")
        if proxy_url.scheme.startswith("socks") and proxy_url.port is None:
            raise AddressError(f"the proxy address {proxy} has no port: for Tor write "
                               f"{proxy.rstrip('/')}:9050 (Tor Browser: :9150)")
    if not url.host.endswith(".onion"):
        return
    if proxy is None:
        raise AddressError(f"{server} is an onion address, reachable only through Tor: add "
                           f"--proxy {TOR_PROXY} (Tor Browser: socks5h://127.0.0.1:9150)")
    scheme = proxy_url.scheme
    if scheme in ("socks5", "socks4", "socks4a"):
        raise AddressError(f"--proxy {scheme}:// looks up names on this machine, which would "
                           "show the onion address to the local network: use socks5h:// "
                           "(for example --proxy socks5h://127.0.0.1:9050)")


def is_retryable(exc: BaseException) -> bool:
    """Whether trying again later is safe and may succeed: the server could not be reached,
    or answered 429, 502, 503 or 504. Never a refusal of the request itself."""
    if isinstance(exc, GaveUpError):
        return False
    if isinstance(exc, TransportError):
        return exc.retryable
    return isinstance(exc, ClientError) and exc.status in RETRY_STATUSES


@dataclass(frozen=True)
class RetryWait:
    """One second of a wait before trying again, as shown to the person waiting."""

    reason: str  # "server unreachable", "server busy (503)"
    delay: float  # seconds until the next attempt
    gives_up_in: float  # seconds until the policy gives up


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TransportError):
        return exc.short
    if isinstance(exc, ClientError) and exc.status == 429:
        return "server asks to slow down (429)"
    if isinstance(exc, ClientError):
        return f"server busy ({exc.status}: {exc.message})"
    return "server busy"


class RetryPolicy:
    """Try again after failures that are safe to retry, for at most ``seconds`` since the
    last success, waiting ``first_delay``, then twice as long each time up to ``max_delay``,
    each wait drawn between half and all of that (jitter, so that clients cut off together
    do not all come back at once). An answer with Retry-After waits at least that long.
    ``on_wait`` is called about once a second while waiting."""

    def __init__(self, seconds: float, *,
                 on_wait: Callable[[RetryWait], None] | None = None,
                 first_delay: float = 1.0, max_delay: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = _SYSTEM_RANDOM.random) -> None:
        self.seconds = max(0.0, seconds)
        self.on_wait = on_wait
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._since: float | None = None
        self._failures = 0

    def succeeded(self) -> None:
        """The server answered: the next failure starts a new count."""
        self._since = None
        self._failures = 0

    def wait(self, exc: BaseException) -> None:
        """Wait before the next attempt after ``exc``; GaveUpError when time is up."""
        now = self._clock()
        if self._since is None:
            self._since = now
        self._failures += 1
        left = self._since + self.seconds - now
        if left <= 0:
            raise self._gave_up(exc) from None
        step = min(self.max_delay, self.first_delay * 2 ** (self._failures - 1))
        delay = step / 2 + step / 2 * self._jitter()
        if isinstance(exc, ClientError) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        delay = min(delay, left)
        reason = _reason(exc)
        remaining = delay
        while remaining > 0:
            if self.on_wait is not None:
                self.on_wait(RetryWait(reason, remaining, left - (delay - remaining)))
            step = min(1.0, remaining)
            self._sleep(step)
            remaining -= step

    def attempt_timeout(self, timeout: float) -> float:
        """How long one attempt may wait for the server: ``timeout``, but no longer than
        what is left of ``seconds`` (at least `MIN_ATTEMPT_SECONDS`), so that a server that
        takes connections and never answers cannot hold the command far past its bound."""
        left = self.seconds if self._since is None else self._since + self.seconds - self._clock()
        return max(MIN_ATTEMPT_SECONDS, min(timeout, left))

    def _gave_up(self, exc: BaseException) -> GaveUpError:
        if isinstance(exc, ClientError):
            return GaveUpError(f"the server stayed busy ({exc.status}: {exc.message})",
                               _reason(exc), self.seconds)
        return GaveUpError(str(exc), _reason(exc), self.seconds)


def _pause(policy: RetryPolicy | None, exc: BaseException) -> None:
    """Wait per ``policy`` after a retryable ``exc``, or raise ``exc`` without one."""
    if policy is None:
        raise exc
    policy.wait(exc)


def _chunks(src: BinaryIO, limit: int | None = None) -> Iterator[bytes]:
    remaining = limit
    while remaining is None or remaining > 0:
        want = STREAM_BYTES if remaining is None else min(STREAM_BYTES, remaining)
        chunk = src.read(want)
        if not chunk:
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


class VaultClient:
    """One server. Use as a context manager, or call ``close()``.

    With ``retry`` the roster, upload and offset requests and `send_resumable` keep trying
    through outages as the policy says; without it the first failure is raised.
    """

    def __init__(
        self,
        server: str,
        *,
        proxy: str | None = None,
        timeout: float = 120.0,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.BaseTransport | None = None,
        token: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        server = server.strip()  # pasted with a space or a line break
        check_addresses(server, proxy)
        # Told (bits, hashes tried so far) while a proof of work is being solved.
        self.on_work: Callable[[int, int], None] | None = None
        self.asked_for_work = False  # whether this server has asked for a proof of work
        self.server = server.rstrip("/")
        self.proxy = proxy
        self.token = token
        self.retry = retry
        self._timeout = timeout
        try:
            self._http = httpx.Client(
                base_url=self.server,
                proxy=proxy,
                transport=transport,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 60.0)),
                headers={"User-Agent": user_agent, "Accept": "*/*",
                         "Accept-Encoding": "identity"},
                follow_redirects=False,
                trust_env=False,
            )
        except ImportError as exc:
            raise TransportError(
                "a SOCKS proxy needs the 'socksio' package (pip install 'httpx[socks]')"
            ) from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing ---
    def _headers(self, auth: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if auth:
            if self.token is None:
                raise ClientError(401, "log in first")
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _work(self) -> dict[str, str]:
        """The proof-of-work header an anonymous write needs now (none while the server is
        quiet, or from a server that asks for none): the puzzle from GET /work, solved."""
        try:
            body = _json(self._request("GET", "/work", retry=True))
        except ClientError as exc:
            if exc.status == 404:  # a server without proof of work
                return {}
            raise
        seed_text = body.get("seed") if isinstance(body, dict) else None
        bits = body.get("bits") if isinstance(body, dict) else None
        try:
            seed = base64.b64decode(str(seed_text), validate=True)
        except ValueError:
            seed = b""
        if not (isinstance(bits, int) and 0 <= bits <= MAX_WORK_BITS and len(seed) == 40):
            raise MalformedAnswerError("malformed answer from the server: bad proof of work")
        self.asked_for_work = True
        if bits == 0:
            return {}
        on_work = self.on_work
        counter = solve(seed, bits,
                        None if on_work is None else (lambda tried: on_work(bits, tried)))
        return {WORK_HEADER: f"{seed_text}.{counter}"}

    def _with_work(self, send: Callable[[dict[str, str]], httpx.Response]) -> httpx.Response:
        """``send(work header)``: first with none (a quiet server asks none, and a round
        trip over Tor is slow), then, when the server asks for work (428), with a solved
        puzzle, a few times (a retry may have spent it, or the difficulty risen)."""
        work: dict[str, str] = {}
        for _ in range(WORK_ATTEMPTS - 1):
            try:
                return send(work)
            except ClientError as exc:
                if exc.status != 428:
                    raise
            work = self._work()
        return send(work)

    def _broken(self, exc: httpx.TransportError) -> TransportError:
        return describe_transport_error(exc, self.server, self.proxy)

    def _bounded(self, method: str, path: str, headers: dict[str, str], limit: int,
                 **kwargs: Any) -> httpx.Response:
        """One request whose answer is read into memory up to ``limit`` bytes (an error's
        up to SMALL_ANSWER_BYTES), refused while it arrives beyond that."""
        with self._http.stream(method, API + path, headers=headers, **kwargs) as streamed:
            if streamed.status_code >= 400:
                return _error_body(streamed)
            body = b"" if method == "HEAD" else _capped_body(  # HEAD: no body, whatever
                streamed, limit, f"{method} {path.split('?')[0]}",  # its Content-Length
                deadline=time.monotonic() + self._timeout, too_slow=self._too_slow)
            return httpx.Response(streamed.status_code, headers=_plain(streamed.headers),
                                  content=body, request=streamed.request)

    def _request(self, method: str, path: str, *, auth: bool = False,
                 headers: dict[str, str] | None = None, retry: bool = False,
                 succeeded: bool = True, limit: int = SMALL_ANSWER_BYTES,
                 **kwargs: Any) -> httpx.Response:
        """One request; with ``retry`` (only for requests without a streamed body) a
        retryable failure is tried again as ``self.retry`` says, and an answer restarts the
        policy's count unless ``succeeded`` is False. The answer is held in memory up to
        ``limit`` bytes, all of it within the client's timeout (`_bounded`)."""
        while True:
            if retry and self.retry is not None:
                kwargs["timeout"] = self.retry.attempt_timeout(self._timeout)
            try:
                response = self._bounded(method, path, self._headers(auth, headers), limit,
                                         **kwargs)
                if response.status_code == 404 and not _is_amanat_refusal(response):
                    raise NotAmanatError(self.server, API + path)
                if response.status_code >= 400:
                    raise _refusal(response)
            except httpx.TransportError as exc:
                failure: Exception = self._broken(exc)
            except (ClientError, TransportError) as exc:  # TransportError: too slow an answer
                failure = exc
            else:
                if retry and succeeded and self.retry is not None:
                    self.retry.succeeded()
                return response
            if not (retry and is_retryable(failure)):
                raise failure
            _pause(self.retry, failure)

    def _too_slow(self) -> TransportError:
        return TransportError(
            f"cannot reach {self.server}: its answer did not arrive within "
            f"{self._timeout:.0f} s; the network or the server is slow or down",
            "server not answering")

    def _download(self, path: str, dst: BinaryIO, *, auth: bool = False,
                  headers: dict[str, str] | None = None,
                  limit: int | None = None) -> tuple[str, int]:
        """Stream a file into ``dst``; with ``limit`` (the size the listing or log gives),
        refused as soon as more arrives (AnswerTooLargeError)."""
        hasher = hashlib.sha256()
        size = 0
        try:
            with self._http.stream("GET", API + path,
                                   headers=self._headers(auth, headers)) as response:
                if response.status_code >= 400:
                    raise _refusal(_error_body(response))
                expected = response.headers.get("Amanat-Sha256")
                window, at_window = time.monotonic(), 0
                for chunk in response.iter_bytes():  # as they come: no waiting to fill a buffer
                    if time.monotonic() - window > self._timeout:
                        # A byte now and then would hold the download for ever.
                        if size + len(chunk) - at_window < MIN_DOWNLOAD_BYTES:
                            raise self._too_slow()
                        window, at_window = time.monotonic(), size
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise _too_large("a file of the size listed", limit)
                    hasher.update(chunk)
                    dst.write(chunk)
        except httpx.TransportError as exc:
            broken = self._broken(exc)
            raise TransportError(f"the download broke off ({broken})", broken.short) from None
        digest = hasher.hexdigest()
        if expected is not None and expected != digest:
            raise IntegrityError("the downloaded file does not match the server's SHA-256")
        return digest, size

    def page_file(self, path: str, limit: int = PAGE_FILE_BYTES
                  ) -> tuple[bytes, httpx.Headers]:
        """A file of the witness page the server serves (``path`` outside the API, such as
        ``/en/index.html``) and the headers it came with: a 200 answer only (a redirect or
        any other answer is a ClientError), up to ``limit`` bytes, uncompressed, within the
        timeout."""
        if not path.startswith("/") or path.startswith("/api/") or "?" in path:
            raise ValueError(f"not a page path: {path!r}")
        try:
            with self._http.stream("GET", path) as streamed:
                if streamed.status_code != 200:
                    raise _refusal(_error_body(streamed))
                body = _capped_body(streamed, limit, f"GET {path}",
                                    deadline=time.monotonic() + self._timeout,
                                    too_slow=self._too_slow)
                return body, httpx.Headers(streamed.headers)
        except httpx.TransportError as exc:
            raise self._broken(exc) from None

    # --- witness ---
    def roster_text(self) -> str:
        """The server's current signed roster (verify it against the pinned org key!)."""
        return self._request("GET", "/roster", retry=True, limit=MAX_ROSTER_BYTES).text

    def submit(self, sealed: BinaryIO | bytes, *, length: int | None = None
               ) -> SubmissionReceipt:
        """Submit a whole sealed file in one request (streamed from ``sealed``)."""
        if isinstance(sealed, bytes | bytearray):
            length = len(sealed)
            sealed = io.BytesIO(sealed)
        if length is None:
            length = _remaining(sealed)
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        start = sealed.tell() if sealed.seekable() else None
        if start is None:
            # The body can be sent once: a busy server's work is solved before it, not after.
            headers.update(self._work() if self.asked_for_work else {})
            response = self._request("POST", "/submissions", headers=headers,
                                     content=_chunks(sealed, length))
            return _receipt(_json(response))
        seekable = sealed

        def send(work: dict[str, str]) -> httpx.Response:
            seekable.seek(start)  # a body refused for want of work is sent again
            return self._request("POST", "/submissions", headers={**headers, **work},
                                 content=_chunks(seekable, length))

        if self.asked_for_work:  # a busy server: solve first rather than send twice
            return _receipt(_json(send(self._work())))
        return _receipt(_json(self._with_work(send)))

    def create_upload(self) -> str:
        """Start a resumable upload; returns its id."""
        body = _json(self._with_work(
            lambda work: self._request("POST", "/uploads", retry=True, headers=work)))
        upload_id = body.get("upload_id") if isinstance(body, dict) else None
        if not (isinstance(upload_id, str) and is_valid_id(upload_id)):
            raise MalformedAnswerError("malformed answer from the server: bad upload_id")
        return upload_id

    def upload_offset(self, upload_id: str, *, counts_as_success: bool = True) -> int:
        """The bytes the server holds of an open upload (ClientError 404 when it has none).
        An answer ends a wait of the retry policy unless ``counts_as_success`` is False
        (`send_resumable` counts only bytes the server took)."""
        response = self._request("HEAD", f"/uploads/{upload_id}", retry=True,
                                 succeeded=counts_as_success)
        return _count(response.headers.get(UPLOAD_OFFSET), "Upload-Offset", header=True)

    def append(self, upload_id: str, offset: int, data: bytes | Iterator[bytes],
               length: int | None = None) -> int:
        """Append at ``offset``; returns the new offset."""
        headers = {UPLOAD_OFFSET: str(offset), "Content-Type": "application/octet-stream"}
        if isinstance(data, bytes):
            length = len(data)
        if length is not None:
            headers["Content-Length"] = str(length)
        response = self._request("PATCH", f"/uploads/{upload_id}", headers=headers,
                                 content=data)
        body = _json(response)
        return _count(body.get("offset") if isinstance(body, dict) else None, "offset")

    def finish_upload(self, upload_id: str) -> SubmissionReceipt:
        return _receipt(_json(self._request("POST", f"/uploads/{upload_id}/finish")))

    def abandon_upload(self, upload_id: str) -> None:
        self._request("DELETE", f"/uploads/{upload_id}")

    def upload(
        self,
        sealed: BinaryIO,
        *,
        upload_id: str | None = None,
        chunk_bytes: int = DEFAULT_UPLOAD_CHUNK,
        progress: Callable[[int], None] | None = None,
    ) -> SubmissionReceipt:
        """Upload a seekable sealed file resumably: on a broken connection, ask the server
        for its offset and continue from there (see `send_resumable`). Pass the
        ``upload_id`` of an earlier attempt to resume it."""
        fresh = upload_id is None
        if upload_id is None:
            upload_id = self.create_upload()
        size = sealed.seek(0, os.SEEK_END)

        def take(offset: int, count: int) -> Iterator[bytes]:
            sealed.seek(offset)
            return _chunks(sealed, count)

        # An upload made just now holds nothing: no need to ask for its offset first.
        receipt = self.send_resumable(upload_id, size, take, chunk_bytes=chunk_bytes,
                                      progress=progress, start=0 if fresh else None)
        sealed.seek(0)
        hasher = hashlib.sha256()
        for chunk in _chunks(sealed):
            hasher.update(chunk)
        if hasher.hexdigest() != receipt.sha256:
            raise IntegrityError("the server stored different bytes than were sent")
        return receipt

    def send_resumable(
        self,
        upload_id: str,
        size: int,
        take: Callable[[int, int], Iterable[bytes]],
        *,
        chunk_bytes: int = DEFAULT_UPLOAD_CHUNK,
        progress: Callable[[int], None] | None = None,
        start: int | None = None,
    ) -> SubmissionReceipt:
        """Send ``size`` bytes to an open upload and finish it; ``take(offset, count)`` gives
        the ``count`` bytes at ``offset``. ``start``: the offset the server is known to
        hold (0 for an upload it has just created); asked first when None.

        After a broken request the server's offset is asked again and sending goes on from
        there: at once when the server answered that the body was cut off or that another
        request is still writing (400, 408, 409; up to ``RESYNC_LIMIT`` times in a row);
        after waiting as ``self.retry`` says when the server could not be reached or was
        busy (without a policy that failure is raised). A finish whose answer was lost is
        tried again while the server still has the upload; if it has not, the upload was
        most likely stored and `DeliveryUnknownError` says so. The caller compares the
        receipt's SHA-256 with what it sent."""
        resyncs = 0
        offset = reported = (self._held(upload_id, 0, size, counts_as_success=True)
                             if start is None else start)
        while True:
            if progress is not None and offset != reported:
                progress(offset)
                reported = offset
            try:
                if offset < size:
                    count = min(chunk_bytes, size - offset)
                    taken = self.append(upload_id, offset, iter(take(offset, count)), count)
                    if taken != offset + count:
                        raise MalformedAnswerError(
                            f"malformed answer from the server: it says it holds {taken} "
                            f"bytes after taking the {count} bytes at {offset}")
                    offset = taken
                    resyncs = 0
                    if self.retry is not None:
                        self.retry.succeeded()
                    continue
                return self.finish_upload(upload_id)
            except (TransportError, ClientError) as exc:
                finishing = offset >= size
                if is_retryable(exc):
                    _pause(self.retry, exc)
                elif (not finishing and isinstance(exc, ClientError)
                      and exc.status in (400, 408, 409)):
                    resyncs += 1
                    if resyncs > RESYNC_LIMIT:
                        raise
                    # The server may still be saving the bytes of the broken request.
                    time.sleep(min(5.0, 0.25 * resyncs))
                else:
                    raise
                try:
                    # Only bytes the server takes end the policy's count: a server that
                    # answers this but refuses every append as busy is given up on in time.
                    offset = self._held(upload_id, offset, size, counts_as_success=False)
                except ClientError as gone:
                    if finishing and gone.status == 404:
                        raise DeliveryUnknownError(
                            "the connection broke while the server was storing the upload, "
                            "and it no longer has it: it was most likely stored, but its "
                            "receipt never arrived") from None
                    raise

    def _held(self, upload_id: str, kept: int, size: int, *, counts_as_success: bool) -> int:
        """The server's offset for the upload of a ``size``-byte file, checked: never less
        than the ``kept`` bytes it already confirmed (they are on its disk), never past the
        end of the file (bytes would be skipped)."""
        offset = self.upload_offset(upload_id, counts_as_success=counts_as_success)
        if not kept <= offset <= size:
            raise MalformedAnswerError(
                f"malformed answer from the server: it says it holds {offset} bytes of a "
                f"{size}-byte file of which it had confirmed {kept}")
        return offset

    def replies(self, secret: bytes) -> list[ReplyInfo]:
        """Replies waiting in the mailbox of ``secret`` (sent in a header, never the URL)."""
        headers = {MAILBOX_SECRET_HEADER: encode_mailbox_secret(secret)}
        body = _json(self._request("GET", "/mailbox", headers=headers,
                                   limit=LISTING_ANSWER_BYTES))
        return [_record(ReplyInfo, r) for r in _list(body, "replies")]

    def fetch_reply(self, secret: bytes, reply_id: str, dst: BinaryIO,
                    size: int = MAX_REPLY_BYTES) -> str:
        """Download one sealed reply (at most ``size`` bytes, the size listed) into ``dst``;
        returns its SHA-256."""
        headers = {MAILBOX_SECRET_HEADER: encode_mailbox_secret(secret)}
        digest, _ = self._download(f"/mailbox/replies/{reply_id}", dst, headers=headers,
                                   limit=min(size, MAX_REPLY_BYTES))
        return digest

    # --- investigator ---
    def login(self, key_id: str, sign: Callable[[bytes], tuple[bytes, bytes | None]],
              log_vkey: str) -> str:
        """Authenticate: ``sign`` signs a message with the investigator's auth keys and
        returns the Ed25519 and the ML-DSA-44 signatures (None for a classical identity):
        ``identity.sign_login`` (keys.identity); ``log_vkey`` comes from the verified
        roster. The message names the address this client connects to, so only
        a server reachable there accepts it: a look-alike server relaying the challenge to
        the real one gets nothing it can use. Returns the bearer token, also kept for later
        calls."""
        origin = server_origin(self.server)
        body = _json(self._with_work(lambda work: self._request(
            "POST", "/auth/challenge", json={"key_id": key_id}, headers=work)))
        encoded = body.get("challenge") if isinstance(body, dict) else None
        try:
            challenge = base64.b64decode(str(encoded), validate=True)
        except ValueError:
            challenge = b""
        if not isinstance(encoded, str) or not challenge:
            raise MalformedAnswerError("malformed answer from the server: bad challenge")
        signature, signature_mldsa = sign(challenge_message(origin, log_vkey, key_id,
                                                            challenge))
        request = {"key_id": key_id, "challenge": encoded, "server": origin,
                   "signature": base64.b64encode(signature).decode("ascii")}
        if signature_mldsa is not None:
            request["signature_mldsa"] = base64.b64encode(signature_mldsa).decode("ascii")
        try:
            answer = _json(self._request("POST", "/auth/token", json=request))
        except ClientError as exc:
            if exc.status != 403:
                raise
            raise ClientError(403, f"a login signed for {origin}, the address you connected "
                                   f"to, was refused: {exc.message}") from None
        token = answer.get("token") if isinstance(answer, dict) else None
        if not (isinstance(token, str) and token.isascii() and token.isprintable()
                and token):
            raise MalformedAnswerError("malformed answer from the server: bad token")
        self.token = token
        return self.token

    def list_submissions(self, cursor: str | None = None, limit: int = 50
                         ) -> tuple[list[SubmissionInfo], str | None]:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = _json(self._request("GET", "/submissions", auth=True, params=params,
                                   limit=LISTING_ANSWER_BYTES))
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if cursor is not None and not (isinstance(cursor, str) and cursor.isdigit()):
            raise MalformedAnswerError("malformed answer from the server: bad next_cursor")
        return [_record(SubmissionInfo, s) for s in _list(body, "submissions")], cursor

    def iter_submissions(self, page: int = 100) -> Iterator[SubmissionInfo]:
        """Every submission, page after page: at most MAX_LISTED_SUBMISSIONS, each page's
        cursor past the last (a server paging without end is refused)."""
        cursor: str | None = None
        listed = pages = 0
        while True:
            previous = cursor
            items, cursor = self.list_submissions(cursor, page)
            listed += len(items)
            pages += 1
            if listed > MAX_LISTED_SUBMISSIONS or pages > MAX_LISTED_SUBMISSIONS:
                raise MalformedAnswerError(
                    f"malformed answer from the server: it lists more than "
                    f"{MAX_LISTED_SUBMISSIONS} submissions")
            yield from items
            if cursor is None:
                return
            if previous is not None and int(cursor) <= int(previous):
                raise MalformedAnswerError("malformed answer from the server: its listing "
                                           "does not move on from one page to the next")

    def download(self, submission_id: str, dst: BinaryIO, size: int | None = None) -> str:
        """Stream a sealed submission into ``dst`` (the access is logged), at most ``size``
        bytes (the size listed) when given; returns its SHA-256."""
        digest, _ = self._download(f"/submissions/{submission_id}", dst, auth=True, limit=size)
        return digest

    def delete_submission(self, submission_id: str) -> int:
        """Delete a submission (admin); returns the deletion's log index."""
        body = _json(self._request("DELETE", f"/submissions/{submission_id}", auth=True))
        return _count(body.get("log_index") if isinstance(body, dict) else None, "log_index")

    def post_reply(self, mailbox_id: str, sealed: bytes) -> ReplyInfo:
        """Leave a sealed reply in the mailbox ``mailbox_id``."""
        body = self._request("POST", f"/mailboxes/{mailbox_id}/replies", auth=True,
                             headers={"Content-Type": "application/octet-stream"},
                             content=sealed)
        return _record(ReplyInfo, _json(body))

    def publish_roster(self, signed_roster: str) -> int:
        """Publish a new signed roster; returns its version."""
        return int(self._request("PUT", "/roster", content=signed_roster.encode("utf-8"),
                                 headers={"Content-Type": "text/plain; charset=utf-8"}
                                 ).json()["version"])

    # --- public audit log ---
    def checkpoint(self) -> str:
        """The latest checkpoint, with the cosignatures gathered for it so far."""
        return self._request("GET", "/log/checkpoint").text

    def cosigned_checkpoint(self) -> str:
        """The newest checkpoint cosigned as the roster requires (ClientError 404 while none
        is)."""
        return self._request("GET", "/log/checkpoint/cosigned").text

    def entries(self, start: int, end: int) -> list[bytes]:
        body = _json(self._request("GET", "/log/entries", params={"start": start, "end": end},
                                   limit=LISTING_ANSWER_BYTES))
        return _base64_list(body, "entries")

    def held(self, start: int, end: int) -> tuple[int, set[str]]:
        """Which submissions logged in entries ``start`` to ``end`` the server still holds:
        (the end of the range it answered for, their ids)."""
        body = _json(self._request("GET", "/log/held", params={"start": start, "end": end},
                                   limit=LISTING_ANSWER_BYTES))
        ids = _list(body, "held")
        answered = body.get("end")
        if (type(answered) is not int or not start < answered <= end
                or not all(isinstance(i, str) and is_valid_id(i) for i in ids)):
            raise MalformedAnswerError("malformed answer from the server: bad held list")
        return answered, set(ids)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        body = _json(self._request("GET", "/log/proof/inclusion",
                                   params={"index": index, "size": size}))
        return _base64_list(body, "hashes")

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        body = _json(self._request("GET", "/log/proof/consistency",
                                   params={"old": old, "new": new}))
        return _base64_list(body, "hashes")

    def receipt(self, index: int) -> str:
        return self._request("GET", "/log/receipt", params={"index": index}).text

    def tile(self, tile: Tile) -> bytes:
        """A C2SP tlog-tiles tile or entry bundle (``/log/tile/...``), held up to the most
        it can be: 32 bytes a hash, 2 + 65,535 bytes an entry."""
        limit = tile.width * (2 + MAX_ENTRY_BYTES if tile.is_entries else 32)
        return self._request("GET", "/log/" + tile.path(), limit=limit).content

    # --- investigator: the start of a sealed file ---
    def download_prefix(self, submission_id: str, length: int) -> tuple[bytes, int]:
        """The first ``length`` bytes of a sealed submission (all of it when shorter) and
        the whole file's size, with one ranged GET (``Range: bytes=0-<length - 1>``); the
        access is logged like any download. From a server that ignores the range, only
        ``length`` bytes are read before the connection is closed, and they must arrive
        within the timeout. The bytes cannot be checked against the file's SHA-256; what is
        decrypted from them is authenticated."""
        if length < 1:
            raise ValueError("length must be at least 1")
        headers = self._headers(True, {"Range": f"bytes=0-{length - 1}"})
        data = bytearray()
        try:
            with self._http.stream("GET", f"{API}/submissions/{submission_id}",
                                   headers=headers) as response:
                if response.status_code >= 400:
                    raise _refusal(_error_body(response))
                total = _whole_size(response)
                deadline = time.monotonic() + self._timeout
                for chunk in response.iter_bytes():  # as they come
                    data += chunk
                    if len(data) >= length:
                        break
                    if time.monotonic() > deadline:  # a byte now and then is no answer
                        raise self._too_slow()
        except httpx.TransportError as exc:
            broken = self._broken(exc)
            raise TransportError(f"the download broke off ({broken})", broken.short) from None
        if len(data) < min(length, total):
            raise TransportError("download broke off: the server sent fewer bytes than it "
                                 "announced")
        return bytes(data[:length]), total


def _remaining(src: BinaryIO) -> int | None:
    try:
        here = src.tell()
        end = src.seek(0, os.SEEK_END)
        src.seek(here)
    except (OSError, ValueError):
        return None
    return end - here


_CONTENT_RANGE = re.compile(r"bytes 0-([0-9]{1,18})/([0-9]{1,18})")


def _whole_size(response: httpx.Response) -> int:
    """The size of the whole file behind a 200 (``Content-Length``) or a 206 for a range
    from byte 0 (``Content-Range: bytes 0-<last>/<size>``)."""
    if response.status_code == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) >= int(match.group(2)):
            raise MalformedAnswerError("malformed answer from the server: bad Content-Range")
        return int(match.group(2))
    length = response.headers.get("Content-Length", "")
    if response.status_code != 200 or re.fullmatch(r"[0-9]{1,18}", length) is None:
        raise MalformedAnswerError("malformed answer from the server: no file size")
    return int(length)


def _receipt(body: Any) -> SubmissionReceipt:
    return _record(SubmissionReceipt, body)
