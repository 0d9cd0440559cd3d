"""The store setting: AMANAT_STORE or --store, a postgresql:// address kept out of reprs."""

from __future__ import annotations

import pytest

from api.settings import Settings, SettingsError


def test_the_store_comes_from_the_environment_and_stays_out_of_reprs() -> None:
    dsn = "postgresql://amanat:pw-in-the-address@db.internal/amanat"
    settings = Settings.from_env({"AMANAT_STORE": dsn})
    assert settings.store == dsn
    assert "pw-in-the-address" not in repr(settings)
    assert Settings.from_env({}).store is None  # the embedded store by default
    assert Settings.from_env({"AMANAT_STORE": ""}).store is None


@pytest.mark.parametrize("bad", ["/srv/amanat/vault.sqlite3", "sqlite:///x", "mysql://db/x"])
def test_anything_but_a_postgresql_address_is_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match="--store must be a postgresql://"):
        Settings.from_env({"AMANAT_STORE": bad})
