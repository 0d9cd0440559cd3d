"""`vault.audit.AuditState`: the auditor's memory, its file format and its failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.audit.fakes import Org, new_log
from vault import audit
from vault.audit import AuditState, AuditStateError, verify_log


def _write(path: Path, document: object) -> None:
    path.write_text(json.dumps(document))


def _valid_document(org_vkey: str = "org", log_vkey: str = "log") -> dict[str, object]:
    return {
        "format": "amanat.audit-state/v1",
        "organizations": {
            org_vkey: {
                "roster": {"version": 3, "sha256": "ab" * 32},
                "logs": {log_vkey: {"checkpoint": "signed text"}},
            }
        },
    }


def test_round_trip_and_repr(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _write(path, _valid_document())
    with AuditState.open(path) as state:
        assert state.roster_seen("org") == (3, bytes.fromhex("ab" * 32))
        assert state.checkpoint_seen("org", "log") == "signed text"
        assert state.checkpoint_seen("org", "other") is None
        assert state.checkpoint_seen("other", "log") is None
        assert state.roster_seen("other") is None
        assert "organizations=1" in repr(state)
        state.record("org", 4, b"\x01" * 32, "log2", "more text")
    with AuditState.open(path) as state:
        assert state.roster_seen("org") == (4, b"\x01" * 32)
        assert state.checkpoint_seen("org", "log") == "signed text"
        assert state.checkpoint_seen("org", "log2") == "more text"
    assert (tmp_path / "state.json.lock").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_in_memory_state_writes_nothing(tmp_path: Path) -> None:
    state = AuditState()
    state.record("org", 1, b"\x00" * 32, "log", "text")
    state.save()
    assert state.checkpoint_seen("org", "log") == "text"
    assert list(tmp_path.iterdir()) == []


def _damaged_documents() -> list[object]:
    def with_org(entry: object) -> dict[str, object]:
        return {"format": "amanat.audit-state/v1", "organizations": {"org": entry}}

    good_roster = {"version": 3, "sha256": "ab" * 32}
    return [
        [],
        {"format": "something else", "organizations": {}},
        {"format": "amanat.audit-state/v1", "organizations": []},
        with_org("not a dict"),
        with_org({"roster": good_roster}),
        with_org({"roster": [], "logs": {}}),
        with_org({"roster": {"version": "3", "sha256": "ab" * 32}, "logs": {}}),
        with_org({"roster": {"version": True, "sha256": "ab" * 32}, "logs": {}}),
        with_org({"roster": {"version": 0, "sha256": "ab" * 32}, "logs": {}}),
        with_org({"roster": {"version": 3, "sha256": "ab"}, "logs": {}}),
        with_org({"roster": {"version": 3, "sha256": 7}, "logs": {}}),
        with_org({"roster": {"version": 3, "sha256": "zz" * 32}, "logs": {}}),
        with_org({"roster": good_roster, "logs": {"log": "text"}}),
        with_org({"roster": good_roster, "logs": {"log": {"checkpoint": 5}}}),
    ]


@pytest.mark.parametrize("document", _damaged_documents())
def test_damaged_state_is_refused(tmp_path: Path, document: object) -> None:
    path = tmp_path / "state.json"
    _write(path, document)
    with pytest.raises(AuditStateError, match="is damaged"), AuditState.open(path):
        pass


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"\xff{")
    with pytest.raises(AuditStateError, match="is damaged"), AuditState.open(path):
        pass


def test_unreadable_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.mkdir()
    with pytest.raises(AuditStateError, match="cannot read the audit state"), AuditState.open(
        path
    ):
        pass


def test_cannot_lock(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AuditStateError, match="cannot lock the audit state"), AuditState.open(
        blocker / "state.json"
    ):
        pass


def test_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path, data: bytes) -> None:
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(audit, "write_private_file", refuse)
    org = Org()
    with (
        pytest.raises(AuditStateError, match="cannot write the audit state"),
        AuditState.open(tmp_path / "state.json") as state,
    ):
        verify_log(new_log(org, 1), org.vkey, state=state)
