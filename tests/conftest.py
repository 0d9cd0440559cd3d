"""pytest configuration; helpers live in tests/support.py."""
