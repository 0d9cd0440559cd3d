"""The retry policy: what is retried (outages, 429, 502-504) and what never is (refusals),
how long it waits (exponential backoff with jitter, Retry-After honoured, bounded by the
time since the last success), and the countdown the commands show while it waits."""

from __future__ import annotations

import io

import httpx
import pytest

from vault.cli.network import LINE_INTERVAL, Countdown
from vault.client import (
    ClientError,
    GaveUpError,
    RetryPolicy,
    RetryWait,
    TransportError,
    VaultClient,
)


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def policy(seconds: float, time: FakeTime, jitter: float = 1.0,
           waits: list[RetryWait] | None = None) -> RetryPolicy:
    return RetryPolicy(seconds, clock=time.clock, sleep=time.sleep, jitter=lambda: jitter,
                       on_wait=None if waits is None else waits.append)


def waited(time: FakeTime) -> float:
    return round(sum(time.slept), 6)


def scripted(answers: list[int | Exception], headers: dict[str, str] | None = None
             ) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        step = answers.pop(0)
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, headers=headers or {}, text="roster" if step == 200 else
                              '{"error": "no"}')

    return httpx.MockTransport(answer), seen


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    time = FakeTime()
    retry = policy(10_000, time, jitter=1.0)
    delays = []
    for _ in range(7):
        before = waited(time)
        retry.wait(TransportError("down"))
        delays.append(round(waited(time) - before, 6))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    low = FakeTime()
    retry = policy(10_000, low, jitter=0.0)
    for _ in range(3):
        retry.wait(TransportError("down"))
    assert waited(low) == 0.5 + 1 + 2  # never less than half the step


def test_gives_up_after_its_time_counted_from_the_last_success() -> None:
    time = FakeTime()
    retry = policy(10, time)
    for _ in range(4):  # 1 + 2 + 4 + 3 (the rest of the ten seconds)
        retry.wait(TransportError("cannot reach x: down"))
    assert waited(time) == 10
    with pytest.raises(GaveUpError) as gave_up:
        retry.wait(TransportError("cannot reach x: down"))
    assert str(gave_up.value) == "cannot reach x: down" and gave_up.value.seconds == 10
    retry.succeeded()  # a success starts the count again
    retry.wait(TransportError("down"))
    assert waited(time) == 11
    with pytest.raises(GaveUpError, match=r"^cannot reach x: down$"):
        policy(0, FakeTime()).wait(TransportError("cannot reach x: down"))


def test_retryable_answers_are_retried_and_retry_after_is_honoured() -> None:
    time = FakeTime()
    transport, seen = scripted([429, 502, 503, 504, httpx.ConnectError("refused"), 200],
                               headers={"Retry-After": "7"})
    with VaultClient("http://vault.invalid", transport=transport,
                     retry=policy(600, time)) as client:
        assert client.roster_text() == "roster"
    assert seen == ["GET"] * 6
    # 429, 502, 503, 504 all carry Retry-After: 7 (longer than the backoff's 1, 2, 4 s; the
    # fourth step, 8 s, is longer); the refused connection waits its own 16 s.
    assert waited(time) == 7 + 7 + 7 + 8 + 16


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 500])
def test_refusals_are_never_retried(status: int) -> None:
    time = FakeTime()
    transport, seen = scripted([status, 200])
    with (VaultClient("http://vault.invalid", transport=transport,
                      retry=policy(600, time)) as client,
          pytest.raises(ClientError) as refused):
        client.roster_text()
    assert refused.value.status == status and seen == ["GET"] and time.slept == []


def test_without_a_policy_nothing_is_retried() -> None:
    transport, seen = scripted([503, 200])
    with (VaultClient("http://vault.invalid", transport=transport) as client,
          pytest.raises(ClientError)):
        client.roster_text()
    assert seen == ["GET"]


def test_the_wait_is_announced_every_second() -> None:
    time = FakeTime()
    waits: list[RetryWait] = []
    retry = policy(600, time, waits=waits)
    for _ in range(4):
        retry.wait(TransportError("down", "server unreachable"))
    last = waits[-4:]  # the fourth wait: 8 s, announced at 8, 7, ... 1 s left
    assert [w.delay for w in waits[-8:]] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert [round(w.gives_up_in) for w in last] == [600 - 7 - 4, 600 - 7 - 5, 600 - 7 - 6,
                                                    600 - 7 - 7]
    assert {w.reason for w in waits} == {"server unreachable"}
    retry.wait(ClientError(503, "too many uploads in progress"))
    assert waits[-1].reason == "server busy (503: too many uploads in progress)"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_countdown_redraws_in_place_on_a_terminal() -> None:
    screen = Terminal()
    show = Countdown(screen)
    for left in (3.0, 2.0, 1.0):
        show(RetryWait("server unreachable", left, 572 - (3 - left)))
    text = screen.getvalue()
    assert text.count("\r") == 3 and text.count("\n") == 1 and text.endswith("\n")
    drawn = [part.rstrip() for part in text.strip().split("\r") if part]
    assert drawn == ["amanat: server unreachable; retrying in 3 s (gives up in 9:32)",
                     "amanat: server unreachable; retrying in 2 s (gives up in 9:31)",
                     "amanat: server unreachable; retrying in 1 s (gives up in 9:30)"]


def test_countdown_shows_a_hostile_reason_on_one_line() -> None:
    log = io.StringIO()
    Countdown(log)(RetryWait("server busy (503: \x1b[2Jwiped\nfake line)", 5, 60))
    assert log.getvalue() == ("amanat: server busy (503: \\x1b[2Jwiped\\x0afake line); "
                              "retrying in 5 s (gives up in 1:00)\n")


def test_countdown_is_rate_limited_elsewhere() -> None:
    log = io.StringIO()
    time = FakeTime()
    show = Countdown(log, clock=time.clock)
    for second in range(25):
        show(RetryWait("server unreachable", 30 - second, 500 - second))
        time.sleep(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 3 == 1 + 24 // int(LINE_INTERVAL)
    assert lines[0] == "amanat: server unreachable; retrying in 30 s (gives up in 8:20)"
    assert "\r" not in log.getvalue()
    show(RetryWait("Tor is not running", 4, 400))  # another reason is shown at once
    assert log.getvalue().splitlines()[3:] == [
        "amanat: Tor is not running; retrying in 4 s (gives up in 6:40)"]


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "1e9", "soon"])
def test_retry_for_is_a_bound_or_refused(value: str, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    """"inf" would wait on a hostile server's Retry-After for ever (and break the
    countdown); it is refused before anything is read or sent."""
    from vault.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["upload", "--server", "http://127.0.0.1:9", "--retry-for", value, "missing"])
    assert stopped.value.code == 2
    assert (f"argument --retry-for: {value!r} is not a number of seconds from 0 to 604800 "
            "(a week)") in capsys.readouterr().err
