"""Tests of vault.tlog: signed notes, Merkle proofs, checkpoints, receipts."""
