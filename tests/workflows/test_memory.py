"""Memory does not grow with the attachment: `submit`, `seal` and `open` of a 512 MiB
recording kept as it is (``--keep-metadata``) each peak under 150 MiB (`open` apart from
the fixed memory cost of unlocking the identity file, which its Argon2id parameters set).

Each command runs as its own process against the real server of the workflow tests, through
``bench.peak_rss`` (the command's own peak resident memory, via wait4, not the test's), with
the same scenario `make bench` measures at 1 GiB (``bench.memory_bench``). A 64 MiB recording
gives each command's baseline: from 64 MiB to 512 MiB the peak may grow by fixed buffers
only, so no copy of the recording, the bundle or the sealed file is held anywhere. The
recording comes out of `open` bit for bit, and `open` showed its download's progress.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from bench.memory_bench import (
    GOAL_MIB,
    MIB,
    Run,
    Vault,
    identity_at_cost,
    measure_commands,
    write_recording,
)
from keys.keyfile import KdfParams
from tests.workflows.conftest import PASSPHRASE, World

SMALL_MIB = 64  # enough to fill every fixed buffer (STREAM batches, the plaintext queue)
LARGE_MIB = 512
# From a 64 MiB recording to a 512 MiB one: fixed buffers only. `open` hands decrypted
# batches (up to 2 MiB) to the extraction through a queue of at most 8, which fills only
# when the disk is slower than decryption (a busy machine); a copy of the recording, the
# bundle or the sealed file would add 448 MiB.
MAX_GROWTH_MIB = 24
CHEAP_KDF = KdfParams(memory_kib=8 * 1024, iterations=1, parallelism=1)


def _measure(world: World, directory: Path, size: int) -> tuple[dict[str, Run], str, Path]:
    directory.mkdir()
    # The identity's Argon2id memory cost (256 MiB by default) is a fixed cost of `open`,
    # the same for any submission: measured here with the 8 MiB of a dev identity.
    identity = identity_at_cost(Path(world.identity("a")), PASSPHRASE, CHEAP_KDF,
                                directory / "a-cheap.identity")
    vault = Vault(world.url, world.org_vkey, world.admin / "roster.txt", identity,
                  world.investigator_env())
    recording = directory / "recording.bin"
    digest = write_recording(recording, size)
    runs = measure_commands(vault, recording, directory)
    recording.unlink()
    (directory / "sealed.age").unlink()
    (opened,) = (directory / "case" / "attachments").iterdir()
    return runs, digest, opened


@pytest.mark.slow
def test_submit_seal_and_open_of_a_large_recording_in_bounded_memory(
        world: World, tmp_path: Path) -> None:
    small, _, _ = _measure(world, tmp_path / "small", SMALL_MIB * MIB)
    large, digest, opened = _measure(world, tmp_path / "large", LARGE_MIB * MIB)
    figures = ", ".join(f"{name} {small[name].peak_mib:.1f} -> {run.peak_mib:.1f} MiB"
                        for name, run in large.items())
    print(f"peak RSS from {SMALL_MIB} MiB to {LARGE_MIB} MiB: {figures}")
    assert list(large) == ["submit", "seal", "open"]
    for name, run in large.items():
        assert run.peak_mib < GOAL_MIB, f"{name}: {figures}"
        assert run.peak_mib - small[name].peak_mib < MAX_GROWTH_MIB, f"{name}: {figures}"
    with open(opened, "rb") as f:
        assert hashlib.file_digest(f, "sha256").hexdigest() == digest
    # The sealed file (padded, PADMÉ) is a little larger than the recording.
    assert re.search(r"^downloading ([\d.]+ MiB) of \1 \(100%\)", large["open"].stderr,
                     re.MULTILINE), large["open"].stderr
