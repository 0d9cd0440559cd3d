"""pytest configuration; helpers live in tests/support.py.

Hypothesis runs without per-example deadlines (a loaded 2-core CI machine must not turn a
slow example into a failure; the example budgets are bounded in each test) and without its
example database, so a test run writes nothing into the source tree.

``postgres_dsn`` gives a test a fresh, empty PostgreSQL database (tests/support.py says
where the server comes from); the server is started once per run, only when a test asks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import (
    POSTGRES_BIN,
    PostgresCluster,
    create_database,
    drop_database,
    postgres_missing,
)

settings.register_profile("amanat", deadline=None, database=None, print_blob=True)
settings.load_profile("amanat")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The DSN of a PostgreSQL server whose role may create databases."""
    given = os.environ.get("AMANAT_TEST_POSTGRES_DSN")
    if given:
        yield given
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        postgres_missing("the psycopg package is not installed")
    if not (POSTGRES_BIN / "initdb").exists():
        postgres_missing(f"no initdb in {POSTGRES_BIN}; set AMANAT_TEST_POSTGRES_DSN")
    # A short path: a Unix socket's path is limited to about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="amanat-pg-", dir="/tmp"))
    try:
        cluster = PostgresCluster(root)
    except Exception as exc:
        shutil.rmtree(root, ignore_errors=True)
        postgres_missing(f"cannot start a throwaway cluster: {exc}")
        raise
    try:
        yield cluster.dsn
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for this test (dropped afterwards)."""
    dsn = create_database(postgres_server)
    try:
        yield dsn
    finally:
        drop_database(postgres_server, dsn)
