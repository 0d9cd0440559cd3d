"""Routers, one per audience: witness (no accounts), investigator (bearer token), log (public)."""
