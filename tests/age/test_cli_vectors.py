"""Conformance of the command line: every C2SP CCTV age vector through `amanat decrypt`.

Each vector is decrypted by a separate `python -m vault.cli decrypt -o OUT FILE` process,
as a person would run it: the vector's identities in files given with `-i`, its passphrase
in AMANAT_PASSPHRASE (no `-i`: a passphrase-encrypted file is detected from its header). A
success must write exactly the expected plaintext and nothing on stderr; every failure must
exit non-zero with one `amanat: ...` line that names the kind of failure, and leave no
output file (not even a partial one) behind. The processes have no terminal, so a prompt
could never hang the run.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.age.test_vectors import (
    EXPECTED_COUNT,
    Vector,
    load_vector,
    vector_params,
    vector_paths,
)
from tests.support import ROOT

pytestmark = [pytest.mark.vectors, pytest.mark.slow]

WORKERS = 2  # the machine has two cores; more processes only queue
# What the one line on stderr must say for each kind of failure CCTV expects.
MESSAGES = {
    "no match": r"no identity matched|wrong passphrase|not encrypted with a passphrase",
    "HMAC failure": r"header MAC does not verify",
    "header failure": r"malformed header|work factor 23 is above the limit of 22",
    "payload failure": r"damaged or truncated",
    "armor failure": r"armor",
}
# The command line detects armor from the first byte, as age does: a file that starts with
# garbage is not recognised as armored, so it fails as not being an age file at all.
AUTO_DETECTED = {"armor_garbage_leading": "header failure"}


@dataclass(frozen=True)
class Outcome:
    vector: Vector
    returncode: int
    stderr: str
    output: bytes | None  # the -o file, None when it was not created
    leftovers: list[str]  # files in the working directory other than the input


def _decrypt_with_cli(vector: Vector, workdir: Path) -> Outcome:
    workdir.mkdir()
    sealed = workdir / "sealed"
    sealed.write_bytes(vector.body)
    argv = [sys.executable, "-m", "vault.cli", "decrypt"]
    for i, line in enumerate(vector.identity_lines):
        key = workdir.parent / f"{workdir.name}.key{i}"
        key.write_text(f"{line}\n")
        argv += ["-i", str(key)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    if vector.passphrases:
        env["AMANAT_PASSPHRASE"] = vector.passphrases[0]
    out = workdir / "out"
    proc = subprocess.run(
        [*argv, "-o", str(out), str(sealed)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        start_new_session=True,  # no controlling terminal: a prompt fails instead of waiting
        timeout=120,
        check=False,
    )
    return Outcome(
        vector,
        proc.returncode,
        proc.stderr.decode("utf-8", "replace"),
        out.read_bytes() if out.exists() else None,
        sorted(p.name for p in workdir.iterdir() if p.name not in ("sealed", "out")),
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    # Skips (with AMANAT_REQUIRE_VECTORS=1: fails) where the vectors are absent.
    vectors = [load_vector(path) for path in vector_paths()]
    base = tmp_path_factory.mktemp("cli-vectors")
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = pool.map(lambda v: _decrypt_with_cli(v, base / v.name), vectors)
        yield {outcome.vector.name: outcome for outcome in results}


def test_every_vector_ran(outcomes: dict[str, Outcome]) -> None:
    assert len(outcomes) == EXPECTED_COUNT
    assert any(o.vector.passphrases and o.vector.expect == "success" for o in outcomes.values())


@pytest.mark.parametrize("path", vector_params(), ids=lambda p: p.name)
def test_vector_through_the_cli(path: Path, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[path.name]
    vector = outcome.vector
    assert outcome.leftovers == [], f"{vector.name}: files left behind"
    if vector.expect == "success":
        assert outcome.returncode == 0, outcome.stderr
        assert outcome.stderr == ""
        assert outcome.output is not None
        assert hashlib.sha256(outcome.output).hexdigest() == vector.payload_sha256
        return
    assert outcome.returncode == 1, f"{vector.name}: exit {outcome.returncode}"
    assert outcome.output is None, f"{vector.name}: an output file was written"
    assert outcome.stderr.startswith("amanat: ") and outcome.stderr.count("\n") == 1, (
        outcome.stderr
    )
    assert "Traceback" not in outcome.stderr and "Error" not in outcome.stderr
    expect = AUTO_DETECTED.get(vector.name, vector.expect)
    assert re.search(MESSAGES[expect], outcome.stderr), (
        f"{vector.name} ({vector.expect}): {outcome.stderr}"
    )
