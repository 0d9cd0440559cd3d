"""Proof of work: stateless seeds, hashcash solutions, difficulty that follows the load."""

from __future__ import annotations

import base64
import io

import pytest

from vault.cli.network import work_progress
from vault.service.work import (
    SEED_SECONDS,
    WorkError,
    WorkGate,
    leading_zero_bits,
    solve,
    solves,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def header(seed: bytes, counter: str) -> str:
    return f"{base64.b64encode(seed).decode()}.{counter}"


def test_leading_zero_bits() -> None:
    assert leading_zero_bits(b"\x00\x00\x01") == 23
    assert leading_zero_bits(b"\x80") == 0
    assert leading_zero_bits(b"\x0f") == 4


def test_quiet_servers_ask_nothing_and_off_means_off() -> None:
    clock = Clock()
    off = WorkGate(b"k" * 32, clock=clock)
    for _ in range(1000):
        off.admit(None)
    assert off.bits() == 0
    quiet = WorkGate(b"k" * 32, quiet_rate=5, clock=clock)
    for _ in range(40):
        quiet.admit(None)
    assert quiet.bits() == 0


def test_difficulty_rises_with_rate_and_places_and_falls_back() -> None:
    clock = Clock()
    used = {"share": 0.0}
    gate = WorkGate(b"k" * 32, quiet_rate=5, places_used=lambda: used["share"], clock=clock)
    for _ in range(100):  # 10 per second over the window: twice the quiet rate
        gate.admit(None) if gate.bits() == 0 else gate.admit(_solved(gate))
    assert gate.bits() == 2
    used["share"] = 1.0
    assert gate.bits() == 2 + 8
    clock.now += 11
    used["share"] = 0.0
    assert gate.bits() == 0


def test_an_operators_floor_holds_while_quiet_and_under_load() -> None:
    clock = Clock()
    floor = WorkGate(b"k" * 32, min_bits=6, clock=clock)  # rate off, floor on
    assert floor.bits() == 6 and floor.seed()[1] == 6
    with pytest.raises(WorkError, match="solve a proof of work"):
        floor.admit(None)
    floor.admit(_solved(floor))
    busy = WorkGate(b"k" * 32, quiet_rate=1, min_bits=3, places_used=lambda: 1.0,
                    clock=clock)
    assert busy.bits() == 8  # the load asks more than the floor
    assert WorkGate(b"k" * 32, min_bits=99, clock=clock).bits() == 20


def test_settings_turn_work_on_by_default_and_bound_the_floor() -> None:
    from api.settings import Settings, SettingsError

    assert Settings().limits().work_quiet_rate == 2.0
    assert Settings.from_env({"AMANAT_WORK_MIN_BITS": "12"}).limits().work_min_bits == 12
    with pytest.raises(SettingsError, match="work_min_bits must be at most 20"):
        Settings(work_min_bits=21)


def test_seeds_collected_while_quiet_buy_nothing_under_load() -> None:
    """Seeds are free to ask for: one solved at an easy difficulty must not pass once the
    server asks for more than 2 bits more (a flooder would collect them in advance)."""
    clock = Clock()
    gate = WorkGate(b"k" * 32, min_bits=4, clock=clock)
    cheap = [gate.seed() for _ in range(3)]
    assert {bits for _, bits in cheap} == {4}
    gate.min_bits = 7
    seed, bits = cheap[0]
    with pytest.raises(WorkError, match="too easy now"):
        gate.admit(header(seed, solve(seed, bits)))
    gate.min_bits = 6  # risen by 2 while a genuine client solved it: still accepted
    seed, bits = cheap[1]
    gate.admit(header(seed, solve(seed, bits)))


def _solved(gate: WorkGate) -> str:
    seed, bits = gate.seed()
    return header(seed, solve(seed, bits))


def busy_gate(clock: Clock) -> WorkGate:
    gate = WorkGate(b"k" * 32, quiet_rate=1, places_used=lambda: 1.0, clock=clock)
    assert gate.bits() == 8
    return gate


def test_a_solved_seed_is_admitted_once() -> None:
    clock = Clock()
    gate = busy_gate(clock)
    seed, bits = gate.seed()
    counter = solve(seed, bits)
    assert solves(seed, counter, 8)
    gate.admit(header(seed, counter))
    with pytest.raises(WorkError, match="used already"):
        gate.admit(header(seed, counter))


def test_missing_forged_unsolved_and_expired_work_is_refused() -> None:
    clock = Clock()
    gate = busy_gate(clock)
    with pytest.raises(WorkError, match="solve a proof of work"):
        gate.admit(None)
    seed, bits = gate.seed()
    counter = solve(seed, bits)
    easier = seed[:8] + b"\x00" + seed[9:]  # claims no difficulty: the MAC breaks
    other = WorkGate(b"x" * 32, quiet_rate=1, clock=clock).seed()[0]
    for bad in (header(easier, "0"), header(other, solve(other, 0)), "AAAA.1", "x", ".",
                header(seed, "-1"), header(seed, counter + "0" * 30)):
        with pytest.raises(WorkError, match="not one this server issued"):
            gate.admit(bad)
    wrong = next(str(c) for c in range(10_000) if not solves(seed, str(c), bits))
    with pytest.raises(WorkError, match="not solved"):
        gate.admit(header(seed, wrong))
    clock.now += SEED_SECONDS + 1
    with pytest.raises(WorkError, match="expired"):
        gate.admit(header(seed, counter))


def test_the_command_line_shows_its_progress() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 1.0, 11.0])
    show = work_progress(out, clock=lambda: next(ticks))
    show(18, 65536)
    show(18, 131072)  # within ten seconds of the last line: not repeated off a terminal
    show(18, 196608)
    assert out.getvalue().splitlines() == [
        "amanat: the server is busy; solving its proof of work (18 bits, 65,536 tries)",
        "amanat: the server is busy; solving its proof of work (18 bits, 196,608 tries)"]


def test_fuzz_finding_a_counter_of_non_ascii_digits_is_refused() -> None:
    """Fuzzing (tests/fuzz http_headers) found that a counter of digits other than ASCII
    ("²", "٣": str.isdigit() says yes, and Starlette decodes header values as Latin-1)
    reached the hash as ASCII and raised UnicodeEncodeError, a 500, instead of WorkError."""
    clock = Clock()
    gate = busy_gate(clock)
    seed, _ = gate.seed()
    for counter in ("\u00b2", "1\u00b3", "\u0663"):
        with pytest.raises(WorkError, match="not one this server issued"):
            gate.admit(header(seed, counter))
