"""What a witness sees on an 80x24 terminal: the codename stays on screen.

`submit` runs on a real pseudo-terminal against the workflow server; the witness types the
statement (after a hint says how to end it), and the screen is emulated as a terminal of
that size would show it. The codename is the last thing shown, and the command waits until
the witness types YES, so nothing scrolls it away; the receipt is not printed at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workflows.conftest import World, amanat, base_env, codename_from
from tests.workflows.terminal import Screen, TerminalProcess
from vault.codename import check_codename

STATEMENT_LINES = [f"Line {n} of what I saw in the camp at Ghulja in 2018." for n in range(1, 9)]
HINT = ("amanat: type or paste your statement; to finish, press Ctrl-D at the start of a line "
        "(on Windows: Ctrl-Z, then Enter)")
CONFIRM = "type YES and press Enter: "


def test_screen_wraps_redraws_and_scrolls() -> None:
    screen = Screen(columns=10, rows=3)
    screen.feed("first\r\nprogress 1\rprog 2\r\n" + "x" * 12 + "\r\nlast")
    assert screen.visible() == ["xxxxxxxxxx", "xx", "last"]
    screen.feed("\r\n" + "y" * 10 + "\r\n")
    assert screen.visible() == ["last", "yyyyyyyyyy", ""]


@pytest.fixture
def terminal(world: World, tmp_path: Path) -> Iterator[TerminalProcess]:
    shown = TerminalProcess(
        ["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-",
         "--language", "en"], cwd=tmp_path, env=base_env(HOME=str(tmp_path)))
    yield shown
    shown.close()


def test_codename_is_on_screen_when_submit_returns(terminal: TerminalProcess,
                                                   tmp_path: Path) -> None:
    terminal.wait_for(HINT)  # said before anything is read
    terminal.type("\n".join(STATEMENT_LINES) + "\n\x04")  # Ctrl-D ends the statement
    terminal.wait_for(CONFIRM)
    assert terminal.stays_running(1.0), "submit ended before the codename was written down"
    terminal.type("\n")  # Enter alone is not a confirmation
    terminal.type("ok\n")
    assert terminal.stays_running(1.0), "submit ended before YES was typed"
    terminal.type("YES\n")
    assert terminal.finish() == 0, terminal.transcript

    codename = codename_from(terminal.transcript)
    check_codename(codename)
    screen = terminal.screen.visible()
    on_screen = "\n".join(screen)
    for number, word in enumerate(codename.split(), start=1):
        assert f"{number:>2}. {word}" in on_screen, on_screen
    assert "YOUR CODENAME - shown only this once" in on_screen
    assert [line for line in screen if line.startswith("amanat: delivered ")], on_screen
    # The receipt is neither shown nor kept; the delivery line comes before the codename.
    assert "tlog-proof" not in terminal.transcript
    assert terminal.transcript.index("amanat: delivered ") < \
        terminal.transcript.index("YOUR CODENAME")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["\x04", "\x03"], ids=["ctrl-d", "ctrl-c"])
def test_end_of_input_or_interrupt_also_ends_the_wait(terminal: TerminalProcess,
                                                      key: str) -> None:
    """The testimony is delivered by then: the command still succeeds."""
    terminal.wait_for(HINT)
    terminal.type("What I saw.\n\x04")
    terminal.wait_for(CONFIRM)
    terminal.type(key)
    assert terminal.finish() == 0, terminal.transcript
    assert "interrupted" not in terminal.transcript
    assert "YOUR CODENAME" in terminal.screen.text()


def test_a_reused_codename_is_typed_unseen(world: World, tmp_path: Path) -> None:
    first = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement",
                    "-"], cwd=tmp_path, stdin="What I saw first.\n")
    codename = codename_from(first.stderr)
    again = TerminalProcess(
        ["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-",
         "--reuse-codename"], cwd=tmp_path, env=base_env(HOME=str(tmp_path)))
    try:
        again.wait_for("Codename: ")  # asked before the statement is typed
        assert HINT not in again.transcript
        again.type(codename + "\n")
        again.wait_for(HINT)
        again.type("And what I saw later.\n\x04")
        assert again.finish() == 0, again.transcript  # no new codename: nothing to wait for
    finally:
        again.close()
    screen = [line for line in again.screen.visible() if line]
    assert "Codename:" in screen  # nothing typed after the prompt was shown: no echo
    assert codename not in again.transcript and "YOUR CODENAME" not in again.transcript
    assert screen[-1].startswith("amanat: delivered ")


def test_no_wait_when_the_codename_is_not_on_a_screen(world: World, tmp_path: Path) -> None:
    """With standard error sent to a file, there is no screen to keep the codename on and
    nobody would see a question: submit ends once the testimony is delivered."""
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err:
        shown = TerminalProcess(
            ["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-"],
            cwd=tmp_path, env=base_env(HOME=str(tmp_path)), stderr=err.fileno())
    try:
        shown.type("What I saw.\n\x04")
        assert shown.finish(timeout=30) == 0
    finally:
        shown.close()
    written = log.read_text("utf-8")
    assert "YOUR CODENAME" in written and CONFIRM not in written


def test_answers_typed_at_the_terminal_get_the_same_hint(world: World, tmp_path: Path) -> None:
    template = amanat(["form", "template", "--language", "kk"], cwd=tmp_path).stdout
    template = template.replace('"status": "unknown"', '"status": "camp"')  # one answer
    sealed = tmp_path / "sealed.age"
    typed = TerminalProcess(
        ["seal", "--roster", str(world.admin / "roster.txt"), "--org", world.org_vkey,
         "--form", "-", "--no-reply", "-o", str(sealed)],
        cwd=tmp_path, env=base_env(HOME=str(tmp_path)))
    try:
        typed.wait_for("amanat: type or paste your answers (see `amanat form template`); to "
                       "finish, press Ctrl-D at the start of a line (on Windows: Ctrl-Z, then "
                       "Enter)")
        typed.type(template + "\x04")
        assert typed.finish() == 0, typed.transcript
    finally:
        typed.close()
    assert sealed.stat().st_size > 0
