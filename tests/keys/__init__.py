"""Tests of keys: key files, identities, the org key, cards, the signed roster, and their CLI."""
