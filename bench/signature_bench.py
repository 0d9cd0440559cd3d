"""What the post-quantum half of a signature costs: verifying a roster and a checkpoint
signed by a hybrid key (Ed25519 + ML-DSA-44, both required) against Ed25519 alone.

Anchors: Ed25519 verification (pynacl) is the floor the classical policy paid; the hybrid
verification is that plus one ML-DSA-44 verification (``cryptography``). Also the signing
cost (once per roster, once per checkpoint batch on the server) and the sizes on the wire.
Then an investigator's login: signing the challenge message (the investigator's machine)
and verifying it (the server), with both auth keys against Ed25519 alone.

    .venv/bin/python -m bench.signature_bench
"""

from __future__ import annotations

import time
from collections.abc import Callable

import nacl.signing

from keys.identity import InvestigatorIdentity
from vault.service.auth import challenge_message, verify_login
from vault.tlog import note
from vault.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from vault.tlog.merkle import leaf_hash

NAME = "bench.example/log"
ROSTER_TEXT = "amanat.roster/v1 bench.example/log\nversion 1\n" + "x" * 20_000 + "\n"


def _per_call(action: Callable[[], object], seconds: float = 0.5) -> float:
    """Best of three timings of ``action`` run for about ``seconds``, in microseconds."""
    best = float("inf")
    for _ in range(3):
        count, started = 0, time.perf_counter()
        while True:
            action()
            count += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds / 3:
                break
        best = min(best, elapsed / count)
    return best * 1e6


def main() -> int:
    key = note.HybridSigner(note.Signer(NAME, nacl.signing.SigningKey(b"\x01" * 32)),
                            note.MLDSASigner(NAME, b"\x02" * 32))
    hybrid, classical = key.verifier(), note.HybridVerifier(key.classical.verifier())
    checkpoint = Checkpoint(NAME, 123_456, leaf_hash(b"root"))
    signed_both = sign_checkpoint(checkpoint, *key.signers())
    signed_ed = sign_checkpoint(checkpoint, key.classical)
    roster_both = note.sign_note(ROSTER_TEXT, *key.signers())
    roster_ed = note.sign_note(ROSTER_TEXT, key.classical)
    rows = [
        ("checkpoint verify, Ed25519 only", _per_call(
            lambda: open_checkpoint(signed_ed, classical, NAME))),
        ("checkpoint verify, both halves", _per_call(
            lambda: open_checkpoint(signed_both, hybrid, NAME))),
        ("roster (20 KB) verify, Ed25519 only", _per_call(lambda: classical.open(roster_ed))),
        ("roster (20 KB) verify, both halves", _per_call(lambda: hybrid.open(roster_both))),
        ("checkpoint sign, both halves", _per_call(
            lambda: sign_checkpoint(checkpoint, *key.signers()))),
    ]
    rows.extend(_login_rows())
    print(f"{'operation':<40} {'µs per call':>12}")
    for label, micros in rows:
        print(f"{label:<40} {micros:>12.0f}")
    ratio = rows[1][1] / rows[0][1]
    print(f"both halves / Ed25519 alone (checkpoint): {ratio:.1f}x")
    login = {label: micros for label, micros in rows if label.startswith("login")}
    both = login["login sign, both keys"] + login["login verify, both keys"]
    alone = login["login sign, Ed25519 only"] + login["login verify, Ed25519 only"]
    print(f"login, sign + verify: both keys {both:.0f} µs, Ed25519 alone {alone:.0f} µs "
          f"(the ML-DSA-44 half adds {both - alone:.0f} µs per login; request body "
          f"+3.3 KB)")
    print(f"signature lines: Ed25519 {len(signed_ed) - len(checkpoint.format()) - 1} bytes, "
          f"both {len(signed_both) - len(checkpoint.format()) - 1} bytes; public form "
          f"{len(hybrid.vkey())} characters (Ed25519 alone {len(classical.vkey())})")
    return 0


def _login_rows() -> list[tuple[str, float]]:
    """An investigator's login: the challenge message signed by the identity's auth keys,
    and checked as the server checks it (vault.service.auth.verify_login)."""
    hybrid = InvestigatorIdentity("Bench", b"\x03" * 32, b"\x04" * 32, b"\x05" * 32)
    classical = InvestigatorIdentity("Bench", b"\x03" * 32, b"\x04" * 32)
    message = challenge_message("http://127.0.0.1:8000", f"{NAME}+00000000+AA==",
                                hybrid.key_id, bytes(48))
    card = hybrid.card()
    both = hybrid.sign_login(message)
    ed25519 = classical.sign_login(message)
    assert verify_login(message, both[0], card.auth_key, both[1], card.auth_pq)
    return [
        ("login sign, Ed25519 only", _per_call(lambda: classical.sign_login(message))),
        ("login sign, both keys", _per_call(lambda: hybrid.sign_login(message))),
        ("login verify, Ed25519 only", _per_call(
            lambda: verify_login(message, ed25519[0], card.auth_key, None, None))),
        ("login verify, both keys", _per_call(
            lambda: verify_login(message, both[0], card.auth_key, both[1], card.auth_pq))),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
