"""ASCII armor for age files: strict PEM with the label "AGE ENCRYPTED FILE".

Protects: *no malleability through the text encoding*. The decoder accepts exactly one
spelling of a given file: a ``-----BEGIN AGE ENCRYPTED FILE-----`` line, canonical padded
base64 in lines of exactly 64 columns with only the last line shorter, and the END line;
no headers, no blank or indented lines, no trailing spaces. The only allowances (from the
spec) are LF or CRLF line endings and up to 1 KiB of whitespace before and after the
block. Decoding streams line by line in constant memory.
"""

from __future__ import annotations

import base64
import binascii
import io

from vault.age._io import Reader, Writer
from vault.age.errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
BYTES_PER_LINE = COLUMNS // 4 * 3
MAX_WHITESPACE = 1024
_LINES_PER_BATCH = 1024
_READ_SIZE = 64 * 1024


def _strict_b64decode(line: bytes) -> bytes:
    try:
        data = base64.b64decode(line, validate=True)
    except binascii.Error:
        raise ArmorError("invalid armor: the base64 is malformed") from None
    if base64.b64encode(data) != line:
        raise ArmorError("invalid armor: the base64 is not canonical")
    return data


class _ArmorDecoder(io.RawIOBase):
    """Raw stream of the bytes inside an armored file, validated as they are read.

    Reads ``src`` in large blocks. Runs of full 64-column LF lines are checked and decoded
    in bulk; everything else (the BEGIN line, CRLF lines, the short last line, the END
    line, anything malformed) goes through the line-by-line path, which also pinpoints
    errors so that the bytes before a malformed line are still returned first.
    """

    def __init__(self, src: Reader) -> None:
        super().__init__()
        self._src = src
        self._buffer = bytearray()
        self._position = 0
        self._eof = False
        self._started = False
        self._finished = False
        self._pending = b""
        self._error: ArmorError | None = None

    def readable(self) -> bool:
        return True

    def _more(self) -> bool:
        """Append the next block of ``src`` to the buffer; False at the end of ``src``."""
        if self._eof:
            return False
        data = self._src.read(_READ_SIZE)
        if not data:
            self._eof = True
            return False
        del self._buffer[: self._position]
        self._position = 0
        self._buffer += data
        return True

    def _line(self, limit: int) -> bytes:
        """The next line without its LF or CRLF; at most ``limit`` characters."""
        while True:
            end = self._buffer.find(b"\n", self._position)
            if end >= 0:
                line = bytes(self._buffer[self._position : end])
                self._position = end + 1
                break
            if len(self._buffer) - self._position > limit + 1:
                raise ArmorError("invalid armor: line too long")
            if not self._more():
                if self._position == len(self._buffer):
                    raise ArmorError("invalid armor: unexpected end of file before the END line")
                line = bytes(self._buffer[self._position :])
                self._position = len(self._buffer)
                break
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > limit:
            raise ArmorError("invalid armor: line too long")
        return line

    def _start(self) -> None:
        whitespace = 0
        while True:
            line = self._line(MAX_WHITESPACE)
            if line == BEGIN:
                break
            if line.strip():
                raise ArmorError("invalid armor: the file does not start with the BEGIN line")
            whitespace += len(line) + 1
            if whitespace > MAX_WHITESPACE:
                raise ArmorError("invalid armor: too much leading whitespace")
        self._started = True

    def _finish(self) -> None:
        while len(self._buffer) - self._position <= MAX_WHITESPACE and self._more():
            pass
        trailing = bytes(self._buffer[self._position :])
        if trailing.strip():
            raise ArmorError("invalid armor: data after the END line")
        if len(trailing) > MAX_WHITESPACE:
            raise ArmorError("invalid armor: too much trailing whitespace")
        self._finished = True

    def _decode_full_lines(self) -> bytes:
        """Decode the run of full 64-column LF lines at the buffer position, if any."""
        count = (len(self._buffer) - self._position) // (COLUMNS + 1)
        if not count:
            return b""
        block = self._buffer[self._position : self._position + count * (COLUMNS + 1)]
        if (
            block.count(b"\n") != count
            or block[COLUMNS :: COLUMNS + 1] != b"\n" * count
            or b"=" in block
        ):
            return b""
        try:
            data = base64.b64decode(block.replace(b"\n", b""), validate=True)
        except binascii.Error:
            return b""  # the line-by-line path finds and reports the bad line
        self._position += len(block)
        return data

    def _decode_line(self) -> bytes:
        line = self._line(COLUMNS)
        if line == END:
            self._finish()
            return b""
        if not line:
            raise ArmorError("invalid armor: empty line")
        data = _strict_b64decode(line)
        if len(data) < BYTES_PER_LINE:
            if self._line(COLUMNS) != END:
                raise ArmorError("invalid armor: a short line must be the last one")
            self._finish()
        return data

    def _fill(self, want: int) -> None:
        decoded = []
        size = 0
        try:
            if not self._started:
                self._start()
            while not self._finished and size < want:
                data = self._decode_full_lines() or self._decode_line()
                decoded.append(data)
                size += len(data)
        except ArmorError as exc:
            self._error = exc
        self._pending = b"".join(decoded)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if not self._pending:
            if self._error is not None:
                raise self._error
            if self._finished:
                return 0
            self._fill(max(len(buffer), BYTES_PER_LINE))
            if not self._pending:
                return self.readinto(buffer)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def armored_reader(src: Reader) -> io.BufferedReader:
    """A reader of the binary age file inside the armored file ``src``.

    Reading raises :class:`ArmorError` where the armor is malformed; the bytes before that
    point are returned first.
    """
    return io.BufferedReader(_ArmorDecoder(src), buffer_size=BYTES_PER_LINE * _LINES_PER_BATCH)


class ArmoredWriter:
    """Writes the armored form of what is written to it; :meth:`close` writes the END line.

    ``close`` does not close ``dst``.
    """

    def __init__(self, dst: Writer) -> None:
        self._dst = dst
        self._partial = bytearray()
        self._closed = False
        dst.write(BEGIN + b"\n")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed ArmoredWriter")
        self._partial += data
        whole = len(self._partial) - len(self._partial) % BYTES_PER_LINE
        if whole:
            self._dst.write(_wrap(bytes(self._partial[:whole])))
            del self._partial[:whole]
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._partial:
            self._dst.write(_wrap(bytes(self._partial)))
        self._dst.write(END + b"\n")


def _wrap(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
    return b"\n".join(lines) + b"\n"


def armor(data: bytes) -> bytes:
    """The armored form of a binary age file held in memory."""
    step = BYTES_PER_LINE * _LINES_PER_BATCH
    lines = b"".join(_wrap(data[i : i + step]) for i in range(0, len(data), step))
    return BEGIN + b"\n" + lines + END + b"\n"


def unarmor(text: bytes) -> bytes:
    """The binary age file inside an armored file held in memory; raises ArmorError."""
    return armored_reader(io.BytesIO(text)).read()
