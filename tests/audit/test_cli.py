"""`amanat audit verify` / `amanat receipt verify` without a server process: argument
checks, exit statuses, and a server (an httpx mock over the in-memory log) that refuses,
answers nonsense or misbehaves."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.audit.fakes import FakeLog, Org, new_log, receipt_file, submission
from tests.audit.serverkit import amanat
from tests.e2e.conftest import free_port
from vault.cli import log_cmd
from vault.client import VaultClient

Handler = Callable[[httpx.Request], httpx.Response]


def serve(log: FakeLog) -> Handler:
    """The log endpoints of the HTTP API, answered from ``log``."""

    def handler(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/api/v1/roster":
            return httpx.Response(200, text=log.roster_text())
        if path == "/api/v1/log/checkpoint":
            return httpx.Response(200, text=log.checkpoint())
        if path == "/api/v1/log/entries":
            start, end = int(params["start"]), int(params["end"])
            entries = [base64.b64encode(e).decode() for e in log.entries(start, end)]
            return httpx.Response(200, json={"start": start, "entries": entries})
        if path == "/api/v1/log/proof/consistency":
            old, new = int(params["old"]), int(params["new"])
            hashes = [base64.b64encode(h).decode() for h in log.consistency_proof(old, new)]
            return httpx.Response(200, json={"old": old, "new": new, "hashes": hashes})
        if path == "/api/v1/log/held":
            start, end = int(params["start"]), int(params["end"])
            answered, held = log.held(start, end)
            return httpx.Response(200, json={"start": start, "end": answered,
                                             "held": sorted(held)})
        return httpx.Response(404, json={"error": "not found"})

    return handler


@pytest.fixture
def mock_server(monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], str]:
    def install(handler: Handler) -> str:
        def client(server: str, proxy: str | None) -> VaultClient:
            return VaultClient(server, transport=httpx.MockTransport(handler))

        monkeypatch.setattr(log_cmd, "_client", client)
        return "http://vault.invalid"

    return install


def test_audit_ok_and_state(
    mock_server: Callable[[Handler], str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    org = Org()
    log = new_log(org, 4)
    url = mock_server(serve(log))
    state = tmp_path / "state.json"
    argv = ("audit", "verify", "--server", url, "--org", org.vkey, "--state", str(state))
    status, out, err = amanat(capsys, *argv, "--full")
    assert (status, err) == (0, "")
    assert out.endswith(
        "; first checkpoint seen from this log; all 4 entries re-hashed: 4 submissions; "
        "all 4 undeleted submissions held\n")
    log.append(submission(8))
    status, out, _ = amanat(capsys, *argv)
    assert status == 0 and out.endswith("; consistent with size 4 seen before\n")


def test_audit_failure_without_evidence_file(
    mock_server: Callable[[Handler], str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    org = Org()
    log = new_log(org, 4)
    log.served[1] = submission(30)
    url = mock_server(serve(log))
    status, out, err = amanat(capsys, "audit", "verify", "--server", url, "--org", org.vkey,
                              "--full")
    assert (status, out) == (1, "")
    assert err.startswith("amanat: entries do not match the checkpoint: ")
    assert list(tmp_path.iterdir()) == []


def test_bad_org_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = amanat(capsys, "audit", "verify", "--server", "http://x.invalid",
                            "--org", "nonsense")
    assert status == 2 and err.startswith("amanat: --org: the organization key is mistyped")
    status, _, err = amanat(capsys, "receipt", "verify", str(tmp_path / "r"), "--org", "x+y")
    assert status == 2 and err.startswith("amanat: --org: the organization key is mistyped")


def test_receipt_needs_server_or_roster(capsys: pytest.CaptureFixture[str]) -> None:
    org = Org()
    status, _, err = amanat(capsys, "receipt", "verify", "receipt.txt", "--org", org.vkey)
    assert status == 2
    assert err == "amanat: give --server URL, or --roster FILE to check offline\n"


def test_unreadable_and_malformed_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    org = Org()
    log = new_log(org, 2)
    roster = tmp_path / "roster.txt"
    roster.write_text(log.roster)
    check = ("receipt", "verify", "--org", org.vkey, "--roster", str(roster))
    status, _, err = amanat(capsys, *check, str(tmp_path / "absent"))
    assert status == 2 and err.startswith("amanat: cannot read ")
    big = tmp_path / "big"
    big.write_bytes(b"x" * (log_cmd.MAX_RECEIPT_BYTES + 1))
    status, _, err = amanat(capsys, *check, str(big))
    assert status == 1 and err.startswith("amanat: malformed receipt: ")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    status, _, err = amanat(capsys, *check, str(binary))
    assert status == 1 and err.endswith("is not UTF-8 text\n")
    good = tmp_path / "good"
    good.write_text(receipt_file(log, 1))
    roster.write_bytes(b"\xff")
    status, _, err = amanat(capsys, *check, str(good))
    assert status == 1 and err.startswith("amanat: bad roster: ")
    # A key file given as the roster is the user's mistake, not a finding: nothing checked.
    roster.write_text("amanat.org-key/v1\n$argon2id$v=19$m=8,t=1,p=1$AAAA\n")
    status, _, err = amanat(capsys, *check, str(good))
    assert (status, err) == (2, f"amanat: {roster} is an organization key file "
                                "(amanat.org-key/v1), not a signed roster\n")


def test_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    org = Org()
    url = f"http://127.0.0.1:{free_port()}"
    status, _, err = amanat(capsys, "audit", "verify", "--server", url, "--org", org.vkey)
    assert status == 2 and err.startswith(f"amanat: cannot reach {url}")


def test_proxy_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    org = Org()
    status, _, err = amanat(capsys, "audit", "verify", "--server", "http://vault.invalid",
                            "--org", org.vkey, "--proxy", f"socks5h://127.0.0.1:{free_port()}")
    assert status == 2 and err.startswith("amanat: ")


def test_server_refusing_or_answering_nonsense(
    mock_server: Callable[[Handler], str], capsys: pytest.CaptureFixture[str]
) -> None:
    org = Org()
    log = new_log(org, 3)
    honest = serve(log)

    def refusing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/roster":
            return httpx.Response(503, json={"error": "no roster has been published yet"})
        return honest(request)

    url = mock_server(refusing)
    status, _, err = amanat(capsys, "audit", "verify", "--server", url, "--org", org.vkey)
    assert status == 2
    assert err == "amanat: the server refused the roster: no roster has been published yet\n"

    def nonsense(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/log/entries":
            return httpx.Response(200, json={"rows": []})
        return honest(request)

    url = mock_server(nonsense)
    status, _, err = amanat(capsys, "audit", "verify", "--server", url, "--org", org.vkey,
                            "--full")
    assert status == 2
    assert err == "amanat: the server sent a malformed answer for entries 0 to 3\n"


def test_online_receipt_with_a_server_that_refuses_proofs(
    mock_server: Callable[[Handler], str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    org = Org()
    log = new_log(org, 3)
    receipt = tmp_path / "receipt.txt"
    receipt.write_text(receipt_file(log, 1))
    log.append(submission(5))
    honest = serve(log)

    def no_proofs(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v1/log/proof/"):
            return httpx.Response(400, json={"error": "need 0 < old <= new <= 4"})
        return honest(request)

    url = mock_server(no_proofs)
    status, _, err = amanat(capsys, "receipt", "verify", str(receipt), "--org", org.vkey,
                            "--server", url)
    assert status == 2
    assert err.startswith("amanat: the server refused a consistency proof from size 3 to 4")
    url = mock_server(honest)
    status, out, _ = amanat(capsys, "receipt", "verify", str(receipt), "--org", org.vkey,
                            "--server", url)
    assert status == 0 and out.endswith(
        "the log at size 4 still contains it, and the server still holds it\n")


def test_damaged_state_file(
    mock_server: Callable[[Handler], str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    org = Org()
    url = mock_server(serve(new_log(org, 1)))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"format": "other"}))
    status, _, err = amanat(capsys, "audit", "verify", "--server", url, "--org", org.vkey,
                            "--state", str(state))
    assert status == 2 and "is damaged" in err
