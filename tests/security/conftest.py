"""Fixtures of the security tests: a real ``amanat serve --dev`` process (tests/e2e)."""

from tests.e2e.conftest import server, server_factory

__all__ = ["server", "server_factory"]
