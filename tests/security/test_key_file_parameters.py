"""A key file's Argon2id parameters cannot be lowered by whoever can write the file.

The parameters live in the file header, which is the associated data of the
XChaCha20-Poly1305 ciphertext: a file whose parameter line was rewritten to cheaper (still
valid) values never opens, even with the right passphrase, so an attacker cannot make the
owner's next unlock use weak parameters, and nothing is ever derived from a file that did
not authenticate. Parameters beyond the bounds are refused before any work.
"""

from __future__ import annotations

import re

import pytest

from keys.errors import KeyFileError, UnlockError
from keys.keyfile import KdfParams, key_file_params, open_key_file, seal_key_file

KIND = "amanat.identity/v1"
PASSPHRASE = "the owner's passphrase"
PARAMS = KdfParams(memory_kib=1024, iterations=3, parallelism=2)


def _with_params(data: bytes, m: int, t: int, p: int) -> bytes:
    return re.sub(rb"m=\d+,t=\d+,p=\d+", f"m={m},t={t},p={p}".encode(), data, count=1)


@pytest.mark.parametrize(("m", "t", "p"), [(16, 1, 1), (1024, 1, 2), (512, 3, 2),
                                           (1024, 3, 1)])
def test_lowered_parameters_never_open(m: int, t: int, p: int) -> None:
    data = seal_key_file(KIND, b"seed" * 8, PASSPHRASE, PARAMS)
    assert open_key_file(data, KIND, PASSPHRASE) == b"seed" * 8
    lowered = _with_params(data, m, t, p)
    assert key_file_params(lowered, KIND) == KdfParams(m, t, p)  # still well formed
    with pytest.raises(UnlockError):
        open_key_file(lowered, KIND, PASSPHRASE)


@pytest.mark.parametrize(("m", "t", "p"), [(7, 1, 1), (4 * 1024 * 1024 + 1, 1, 1),
                                           (1024, 101, 1), (1024, 1, 65)])
def test_parameters_out_of_bounds_are_refused_before_any_work(m: int, t: int, p: int) -> None:
    data = _with_params(seal_key_file(KIND, b"x", PASSPHRASE, PARAMS), m, t, p)
    with pytest.raises(KeyFileError, match="unsupported key file parameters"):
        key_file_params(data, KIND)
