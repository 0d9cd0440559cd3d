"""A 4 GiB testimony seals and opens in constant memory.

Witnesses attach video; investigators open it on ordinary laptops. Sealing and opening must
stream in 64 KiB chunks, never holding the file: here 4 GiB flows through
`amanat encrypt | amanat decrypt` over pipes (nothing touches the disk), the output must hash
to the input, and each process must peak well under 100 MiB of resident memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.peak_rss import ProbedProcess
from tests.interop.tools import AMANAT, MIB, amanat_keygen, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

TOTAL = 4 * 1024 * MIB
BLOCK = MIB
PAGE = 4096
RSS_LIMIT = 100 * MIB


def feed(
    sink: ProbedProcess,
    hash_update: Callable[[memoryview], object],
    errors: list[BaseException],
) -> None:
    """Write TOTAL bytes into ``sink``'s stdin, hashing them on the way.

    Every 4 KiB page starts with its own index, so a dropped, repeated or reordered chunk
    changes the output hash even though the rest of each block repeats.
    """
    assert sink.stdin is not None
    block = bytearray(hashlib.shake_256(b"amanat-large-file").digest(BLOCK))
    view = memoryview(block)
    try:
        for first_page in range(0, TOTAL // PAGE, BLOCK // PAGE):
            for i in range(BLOCK // PAGE):
                struct.pack_into(">Q", block, i * PAGE, first_page + i)
            hash_update(view)
            sink.stdin.write(view)
        sink.stdin.close()
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)
        with contextlib.suppress(OSError):
            sink.stdin.close()


def test_4_gib_streams_through_pipes_in_under_100_mib(tmp_path: Path) -> None:
    key = amanat_keygen(tmp_path, "large", post_quantum=True)
    env = tool_env()
    seal = ProbedProcess(
        [*AMANAT, "encrypt", "-r", key.recipient],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert seal.stdout is not None
    open_ = ProbedProcess(
        [*AMANAT, "decrypt", "-i", key.identity_file],
        stdin=seal.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    seal.stdout.close()  # the decrypting process holds the only read end now
    assert open_.stdout is not None

    sent = hashlib.sha256()
    errors: list[BaseException] = []
    writer = threading.Thread(target=feed, args=(seal, sent.update, errors), daemon=True)
    writer.start()

    received = hashlib.sha256()
    received_bytes = 0
    with open_.stdout:
        while chunk := open_.stdout.read(BLOCK):
            received.update(chunk)
            received_bytes += len(chunk)
    writer.join(timeout=60)

    sealed = seal.wait(timeout=60)
    opened = open_.wait(timeout=60)
    assert seal.stderr is not None and open_.stderr is not None
    with seal.stderr, open_.stderr:
        seal_err = seal.stderr.read().decode("utf-8", "replace").strip()
        open_err = open_.stderr.read().decode("utf-8", "replace").strip()

    assert sealed.returncode == 0, f"amanat encrypt failed: {seal_err}"
    assert opened.returncode == 0, f"amanat decrypt failed: {open_err}"
    assert not errors, f"feeding the plaintext failed: {errors[0]!r}"
    assert received_bytes == TOTAL
    assert received.hexdigest() == sent.hexdigest()
    print(
        f"\n4 GiB through encrypt|decrypt: {sealed.seconds:.1f} s / {opened.seconds:.1f} s; "
        f"peak RSS: encrypt {sealed.max_rss_bytes / MIB:.1f} MiB, "
        f"decrypt {opened.max_rss_bytes / MIB:.1f} MiB"
    )
    assert sealed.max_rss_bytes < RSS_LIMIT, f"encrypt peaked at {sealed.max_rss_bytes} bytes"
    assert opened.max_rss_bytes < RSS_LIMIT, f"decrypt peaked at {opened.max_rss_bytes} bytes"
