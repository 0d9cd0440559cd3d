"""Transparency-log maths and formats, free of I/O, so every claim the log makes can be checked.

- `note`: C2SP signed notes (Ed25519), the one signature format for rosters and checkpoints.
- `merkle`: RFC 9162 Merkle tree hashing, inclusion and consistency proofs.
- `checkpoint`: C2SP tlog-checkpoint bodies, signed and opened as notes.
- `proof`: C2SP tlog-proof receipts that a witness can verify offline.
- `cosignature`: C2SP tlog-cosignature lines (Ed25519 and ML-DSA-44) by cosigners.
- `cosigning`: the k-of-n policy a checkpoint must meet before anyone relies on it.
- `tiles`: C2SP tlog-tiles paths, tile and entry-bundle bytes, the tree rebuilt from tiles.

Storage lives in `vault.store`; this package only computes and checks.
"""
