"""The age v1 header: recipient stanzas and the header MAC, parsed strictly.

Protects: *one spelling per file*. The parser accepts only the canonical encoding (exact
version line, ``-> `` stanza lines with non-empty VCHAR arguments, canonical unpadded
base64 wrapped at 64 columns ending in a short line, a ``---`` MAC line), so a header cannot
be altered into another valid-looking header, and the MAC, keyed from the file key, binds
every stanza to the payload.

Limits enforced (beyond the spec, to bound memory on hostile input): a header line is at
most :data:`MAX_LINE` bytes and a whole header at most :data:`MAX_HEADER` bytes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.age._io import Reader
from vault.age.errors import HeaderError

VERSION_LINE = b"age-encryption.org/v1\n"
VERSION_PREFIX = b"age-encryption.org/"
STANZA_PREFIX = b"-> "
MAC_PREFIX = b"---"
COLUMNS = 64
MAX_LINE = 64 * 1024
MAX_HEADER = 4 * 1024 * 1024
FILE_KEY_SIZE = 16
MAC_SIZE = 32

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def b64encode(data: bytes) -> str:
    """Standard base64 without padding, as used throughout the age header."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str | bytes) -> bytes:
    """Decode canonical unpadded base64; raise :class:`ValueError` on anything else."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if len(raw) % 4 == 1 or not _B64_ALPHABET.issuperset(raw):
        raise ValueError("not canonical unpadded base64")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error:  # pragma: no cover - excluded by the checks above
        raise ValueError("not canonical unpadded base64") from None
    if base64.b64encode(data).rstrip(b"=") != raw:
        raise ValueError("not canonical unpadded base64")
    return data


def _is_argument(text: str) -> bool:
    return bool(text) and all(0x21 <= ord(c) <= 0x7E for c in text)


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its type (first argument), further arguments, and body."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        """The stanza's canonical encoding (argument line and wrapped body)."""
        words = (self.type, *self.args)
        if not all(_is_argument(w) for w in words):
            raise ValueError("stanza arguments must be non-empty printable ASCII without spaces")
        encoded = b64encode(self.body).encode("ascii")
        lines = [b"-> " + " ".join(words).encode("ascii")]
        lines += [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
        if len(encoded) % COLUMNS == 0:
            lines.append(b"")
        return b"\n".join(lines) + b"\n"


@dataclass(frozen=True)
class HeaderInfo:
    """A parsed header.

    ``length`` counts the bytes up to and including the MAC line (where the payload
    starts); ``mac`` is the claimed header MAC, which only the file key can check.
    """

    stanzas: tuple[Stanza, ...]
    length: int
    mac: bytes
    mac_input: bytes

    def verify_mac(self, file_key: bytes) -> bool:
        """Whether the header MAC is correct for ``file_key``."""
        return hmac.compare_digest(header_mac(file_key, self.mac_input), self.mac)


def _hmac_key(file_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"header").derive(file_key)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA-256 of the header up to and including ``---``, keyed from the file key."""
    return hmac.new(_hmac_key(file_key), mac_input, sha256).digest()


def encode_header(stanzas: list[Stanza] | tuple[Stanza, ...], file_key: bytes) -> bytes:
    """Encode a complete header (version, stanzas, MAC line) for ``file_key``."""
    if not stanzas:
        raise ValueError("a header needs at least one stanza")
    mac_input = VERSION_LINE + b"".join(s.encode() for s in stanzas) + MAC_PREFIX
    mac = header_mac(file_key, mac_input)
    return mac_input + b" " + b64encode(mac).encode("ascii") + b"\n"


class _LineReader:
    """Reads header lines, keeping the raw bytes for the MAC and enforcing limits."""

    def __init__(self, src: Reader) -> None:
        self._src = src
        self.consumed = bytearray()

    def line(self) -> bytes:
        line = self._src.readline(MAX_LINE + 1)
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE:
                raise HeaderError("header line too long")
            if not line and not self.consumed:
                raise HeaderError("the file is empty")
            raise HeaderError("the header ends early (truncated file?)")
        if len(self.consumed) + len(line) > MAX_HEADER:
            raise HeaderError("header too large")
        self.consumed += line
        return line[:-1]


def _parse_stanza(argument_line: bytes, lines: _LineReader) -> Stanza:
    try:
        words = argument_line[len(STANZA_PREFIX) :].decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise HeaderError("non-ASCII character in a stanza argument") from None
    if not all(_is_argument(w) for w in words):
        raise HeaderError("empty or invalid stanza argument")
    body = bytearray()
    while True:
        line = lines.line()
        if len(line) > COLUMNS:
            raise HeaderError("stanza body line longer than 64 columns")
        try:
            body += b64decode(line)
        except ValueError:
            raise HeaderError("stanza body is not canonical base64") from None
        if len(line) < COLUMNS:
            break
    return Stanza(words[0], tuple(words[1:]), bytes(body))


def parse_header(src: Reader) -> HeaderInfo:
    """Read and strictly parse a header from ``src``, stopping right after the MAC line.

    Raises :class:`HeaderError`. The MAC is not checked (that needs the file key).
    """
    lines = _LineReader(src)
    version = lines.line()
    if version + b"\n" != VERSION_LINE:
        if version + b"\n" == VERSION_LINE.replace(b"\n", b"\r\n"):
            raise HeaderError("the file has CRLF line endings: it was altered in transit")
        if version.startswith(VERSION_PREFIX):
            raise HeaderError("unsupported age format version")
        raise HeaderError("not an age file (missing version line)")
    stanzas: list[Stanza] = []
    while True:
        start = len(lines.consumed)
        line = lines.line()
        if line.startswith(STANZA_PREFIX):
            stanzas.append(_parse_stanza(line, lines))
        elif line.startswith(MAC_PREFIX):
            break
        else:
            raise HeaderError("malformed header line (expected a stanza or the MAC)")
    if not stanzas:
        raise HeaderError("the header has no recipient stanza")
    words = line.split(b" ")
    if len(words) != 2 or words[0] != MAC_PREFIX:
        raise HeaderError("malformed MAC line")
    try:
        mac = b64decode(words[1])
    except ValueError:
        raise HeaderError("the header MAC is not canonical base64") from None
    if len(mac) != MAC_SIZE:
        raise HeaderError("the header MAC has the wrong length")
    mac_input = bytes(lines.consumed[: start + len(MAC_PREFIX)])
    return HeaderInfo(tuple(stanzas), len(lines.consumed), mac, mac_input)


def inspect_header(src: Reader) -> HeaderInfo:
    """Parse the header of a binary age file without any key (the MAC stays unchecked).

    For checking the recipient types and count of a file before storing it. Reads from
    ``src`` only up to the end of the header. Raises :class:`HeaderError`.
    """
    return parse_header(src)
