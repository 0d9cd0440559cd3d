"""How long `amanat keys new` takes with the default Argon2id parameters (budget: 2 s).

Runs the real command in a fresh interpreter (start-up, key generation, Argon2id, atomic
write), best of several runs, and prints it against the budget; then Argon2id alone with the
defaults against RFC 9106 §4's second recommended option (m=64 MiB, t=3, p=4), the floor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keys.keyfile import DEFAULT_KDF, KdfParams, derive_file_key

BUDGET_SECONDS = 2.0
RFC9106_SECOND_OPTION = KdfParams(memory_kib=64 * 1024, iterations=3, parallelism=4)
ROOT = Path(__file__).resolve().parent.parent


def _best(runs: int, action: object) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return min(timings)


def time_keys_new(runs: int = 3) -> float:
    """Best wall-clock time of `amanat keys new` as a separate process, in seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, AMANAT_PASSPHRASE="benchmark passphrase", PYTHONPATH=str(ROOT))
        counter = iter(range(runs))

        def once() -> None:
            target = Path(tmp) / f"bench{next(counter)}.identity"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "vault.cli",
                    "keys",
                    "new",
                    "--name",
                    "Bench",
                    "-o",
                    str(target),
                ],
                env=env,
                check=True,
                capture_output=True,
            )

        return _best(runs, once)


def time_argon2(params: KdfParams, runs: int = 3) -> float:
    return _best(runs, lambda: derive_file_key("benchmark passphrase", b"\0" * 16, params))


def main() -> int:
    """Print the figures; non-zero when `keys new` exceeds its budget."""
    keys_new = time_keys_new()
    defaults = time_argon2(DEFAULT_KDF)
    floor = time_argon2(RFC9106_SECOND_OPTION)
    d = DEFAULT_KDF
    print(
        f"keys new (fresh process, Argon2id m={d.memory_kib // 1024} MiB t={d.iterations} "
        f"p={d.parallelism}): {keys_new:.2f} s = {keys_new / BUDGET_SECONDS:.2f}x the "
        f"{BUDGET_SECONDS:.0f} s budget"
    )
    print(
        f"Argon2id alone: {defaults:.3f} s = {defaults / floor:.1f}x RFC 9106 second option "
        f"(m=64 MiB t=3 p=4: {floor:.3f} s)"
    )
    return 0 if keys_new <= BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
