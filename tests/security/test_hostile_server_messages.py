"""A hostile server cannot write to the user's terminal through an error message.

Error messages of `amanat` quote what the server said (``server refused (400): ...``). A
compromised server could answer with terminal escape sequences (rewrite what the witness
sees, set the window title, or make some terminals answer with keystrokes) or with extra
lines. Every message is printed as one line with such characters escaped.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from keys.org import OrgKey
from vault.cli import main, one_line

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31mall is well\nsecond line\r\u202eevil"


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"error": HOSTILE}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def hostile_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_one_line_escapes_controls_and_keeps_scripts() -> None:
    assert one_line("a\nb\x1b[0m\x7f\u202e") == "a\\x0ab\\x1b[0m\\x7f\\u202e"
    text = "Гүлнар ئامانەت 名字 zero\u200cwidth"
    assert one_line(text) == text


def test_server_error_reaches_the_terminal_escaped(
        hostile_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sealed = tmp_path / "testimony.age"
    sealed.write_bytes(b"age-encryption.org/v1\n")
    org = OrgKey.generate("hostile.example/amanat").vkey()
    for argv in (["upload", "--server", hostile_url, str(sealed)],
                 ["audit", "verify", "--server", hostile_url, "--org", org]):
        status = main(argv)
        captured = capsys.readouterr()
        assert status != 0
        assert captured.err.count("\n") == 1, captured.err
        assert "\x1b" not in captured.err and "\r" not in captured.err
        assert "\u202e" not in captured.err and "\x07" not in captured.err
        assert "all is well" in captured.err  # the message is still shown, defused


def test_listings_from_the_server_reach_the_terminal_escaped(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """What the server lists (ids, hours) is printed by `inbox` and `replies`: escaped."""
    import contextlib

    import vault.investigator
    import vault.witness
    from vault.cli import investigator_cmd
    from vault.client import SubmissionInfo
    from vault.codename import new_codename
    from vault.witness import OpenedReply

    @contextlib.contextmanager
    def no_session(_: object) -> Iterator[object]:
        yield object()

    monkeypatch.setattr(investigator_cmd, "_session", no_session)
    monkeypatch.setattr(vault.investigator, "list_inbox", lambda _: [
        SubmissionInfo(HOSTILE, "00" * 32, 1, HOSTILE, 0)])
    monkeypatch.setattr(vault.investigator, "unlisted_submissions", lambda _s, _l: [])
    assert main(["inbox", "--server", "http://127.0.0.1:9", "-i", "x.identity"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\x1b" not in out and "\r" not in out

    monkeypatch.setenv("AMANAT_CODENAME", new_codename())
    monkeypatch.setattr(vault.witness, "iter_replies", lambda client, keys: iter([
        OpenedReply(HOSTILE, HOSTILE, "Thank you.\nWe will write again.\n")]))
    assert main(["replies", "--server", "http://127.0.0.1:9"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert out.endswith("---\nThank you.\nWe will write again.\n")
    assert out.count("\n") == 3
