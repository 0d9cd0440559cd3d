"""Fuzz harnesses for every parser of outside input; see tests/fuzz/__main__.py."""
