"""Tests of vault.store."""
