"""The vault's collector of cosignatures (vault/service/cosigning.py), against the real
cosigner logic (vault.cosigner.witness) called in place of HTTP.

Shows: a restarted vault learns a cosigner's size from its 409 and sends the proof from
there; only verified lines are kept; a cosigner that refuses (a fork), answers garbage or is
down is retried with backoff, counted as failing, and never blocks anything; a new roster's
cosigner is picked up without a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from keys.cosigner import CosignerKey
from vault.cosigner.store import CosignerStore
from vault.cosigner.witness import Cosigner as CosignerService
from vault.cosigner.witness import Refusal, SizeConflict
from vault.service import cosigning
from vault.service.cosigning import CosignatureCollector
from vault.store.auditlog import AuditLog
from vault.tlog.cosigning import Cosigner, CosigningPolicy
from vault.tlog.note import Signer

ORIGIN = "vault.example/log"
SIGNER = Signer.generate(ORIGIN)


def _cosigner(tmp_path: Path, name: str) -> tuple[CosignerService, Cosigner]:
    key = CosignerKey.generate(name)
    store = CosignerStore(tmp_path / name.replace("/", "_"), create=True)
    store.add_log(ORIGIN, "classical " + SIGNER.vkey())
    return (CosignerService(store, key.signers()),
            Cosigner.from_vkeys(*key.vkeys(), f"http://{name.split('/')[0]}"))


def _post(services: dict[str, CosignerService], calls: list[str]
          ) -> Callable[[str, bytes, float], tuple[int, str, bytes]]:
    def post(url: str, body: bytes, timeout: float) -> tuple[int, str, bytes]:
        host = url.removeprefix("http://").removesuffix("/add-checkpoint")
        calls.append(host)
        service = services.get(host)
        if service is None:
            raise ConnectionRefusedError("down")
        try:
            return 200, "text/plain", service.add_checkpoint(body).encode()
        except SizeConflict as exc:
            return 409, "text/x.tlog.size", exc.body().encode()
        except Refusal as exc:
            return exc.status, "text/plain", exc.message.encode()
    return post


def _wait(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cosigning, "MIN_BACKOFF", 0.05)
    monkeypatch.setattr(cosigning, "MAX_BACKOFF", 0.2)


def test_gathers_learns_sizes_and_keeps_only_verified_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN)
    service_a, a = _cosigner(tmp_path, "a.example/c")
    service_b, b = _cosigner(tmp_path, "b.example/c")
    policy = CosigningPolicy(2, (a, b))
    calls: list[str] = []
    kept = threading.Event()
    collector = CosignatureCollector(log, lambda: policy, on_cosigned=kept.set,
                                     post=_post({"a.example": service_a, "b.example": service_b},
                                                calls))
    try:
        log.append([b"one", b"two"])
        collector.start()
        _wait(lambda: policy.is_cosigned(log.cosigned_checkpoint_at(2)))
        assert kept.is_set() and collector.answering() == 2
        assert log.cosigned_sizes(4) == [2]
    finally:
        collector.stop()
    # A new collector (a restarted vault) starts from size 0; each cosigner answers 409
    # with its size, and the next request carries the proof from there.
    log.append([b"three"])
    calls.clear()
    collector = CosignatureCollector(log, lambda: policy, post=_post(
        {"a.example": service_a, "b.example": service_b}, calls))
    try:
        collector.start()
        _wait(lambda: policy.is_cosigned(log.cosigned_checkpoint_at(3)))
        assert calls.count("a.example") == 2 and calls.count("b.example") == 2
    finally:
        collector.stop()
    assert policy.check(log.receipt(0, 3).split("\n\n", 1)[1]) == ["a.example/c", "b.example/c"]
    log.close()


def test_a_restarted_vault_gathers_its_cosignatures_again(tmp_path: Path) -> None:
    """Cosignatures live in memory only (each carries a precise time): after a restart the
    log has none, and the collector gets the same size cosigned again, so the cosigned
    checkpoint is back without any new entry."""
    log = AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN)
    service_a, a = _cosigner(tmp_path, "a.example/c")
    policy = CosigningPolicy(1, (a,))
    services = {"a.example": service_a}
    collector = CosignatureCollector(log, lambda: policy, post=_post(services, []))
    try:
        log.append([b"one", b"two"])
        collector.start()
        _wait(lambda: policy.is_cosigned(log.cosigned_checkpoint_at(2)))
    finally:
        collector.stop()
    log.close()
    log = AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN)  # the restart
    assert log.cosigned_sizes() == [] and not policy.is_cosigned(log.cosigned_checkpoint_at(2))
    collector = CosignatureCollector(log, lambda: policy, post=_post(services, []))
    try:
        collector.start()
        _wait(lambda: policy.is_cosigned(log.cosigned_checkpoint_at(2)))
    finally:
        collector.stop()
    assert log.size() == 2
    log.close()


def test_an_idle_logs_checkpoint_is_cosigned_again_with_a_newer_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing new is logged, yet the newest checkpoint is sent again every REFRESH_SECONDS:
    the cosigner cosigns the size it holds again with its current time, and the newer line
    replaces the older (one per key), so a stateless auditor sees recent cosignatures."""
    monkeypatch.setattr(cosigning, "REFRESH_SECONDS", 0.1)
    log = AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN)
    key = CosignerKey.generate("a.example/c")
    store = CosignerStore(tmp_path / "a", create=True)
    store.add_log(ORIGIN, "classical " + SIGNER.vkey())
    clock = iter(range(1_800_000_000, 1_900_000_000, 60))
    service = CosignerService(store, key.signers(), clock=lambda: float(next(clock)))
    policy = CosigningPolicy(1, (Cosigner.from_vkeys(*key.vkeys(), "http://a.example"),))
    calls: list[str] = []
    collector = CosignatureCollector(log, lambda: policy,
                                     post=_post({"a.example": service}, calls))
    try:
        log.append([b"one", b"two"])
        collector.start()
        _wait(lambda: policy.is_cosigned(log.cosigned_checkpoint_at(2)))
        first = policy.cosigned_as_of(log.cosigned_checkpoint_at(2))
        _wait(lambda: policy.cosigned_as_of(log.cosigned_checkpoint_at(2)) > first)
    finally:
        collector.stop()
    assert log.size() == 2 and store.latest(ORIGIN).size == 2
    assert len(log.cosigned_checkpoint_at(2).split("\n\n")[1].splitlines()) == 1 + 2
    log.close()


def test_refusals_garbage_and_outages_are_retried_and_block_nothing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN)
    service_a, a = _cosigner(tmp_path, "a.example/c")
    _, b = _cosigner(tmp_path, "b.example/c")
    forked = Signer.generate(ORIGIN)  # a copied log key would do the same
    other = AuditLog(tmp_path / "other.sqlite3", forked, ORIGIN)
    other.append([b"another history", b"of two entries"])
    service_a.store.add_log(ORIGIN, "classical " + forked.vkey())
    service_a.add_checkpoint(b"old 0\n\n" + other.latest_checkpoint().encode())
    other.close()
    wrong = CosignerKey.generate("b.example/c")  # b's name, another key: lines that fail

    def garbage(url: str, body: bytes, timeout: float) -> tuple[int, str, bytes]:
        if "b.example" in url:
            note = body.decode().split("\n\n", 1)[1]
            checkpoint_body = note[: note.rfind("\n\n") + 1]
            lines = "".join(s.sign(checkpoint_body, 5).line() for s in wrong.signers())
            return 200, "text/plain", lines.encode()
        return _post({"a.example": service_a}, [])(url, body, timeout)

    policy = CosigningPolicy(1, (a, b))
    collector = CosignatureCollector(log, lambda: policy, post=garbage)
    try:
        log.append([b"one", b"two"])  # same size as the history a cosigned: a fork for a
        collector.start()
        _wait(lambda: collector.answering() == 0)
        before = time.monotonic()
        log.append([b"three"])  # the log goes on: nothing waits for the cosigners
        collector.notify()
        assert time.monotonic() - before < 1.0
        time.sleep(0.5)
        assert log.cosigned_sizes() == []  # nothing refused or forged is kept
    finally:
        collector.stop()
    log.close()


def test_a_new_rosters_cosigner_is_picked_up(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "log.sqlite3", SIGNER, ORIGIN)
    service_a, a = _cosigner(tmp_path, "a.example/c")
    current: list[CosigningPolicy | None] = [None]
    collector = CosignatureCollector(log, lambda: current[0],
                                     post=_post({"a.example": service_a}, []))
    try:
        collector.start()
        log.append([b"one"])
        collector.notify()
        assert collector.answering() == 0 and log.cosigned_sizes() == []
        current[0] = CosigningPolicy(1, (a,))
        collector.notify()
        _wait(lambda: log.cosigned_sizes() == [1])
        current[0] = None  # removed from the roster: its worker ends
        collector.notify()
    finally:
        collector.stop()
    log.close()


def test_a_cosigners_refusal_reaches_the_log_as_one_printable_line() -> None:
    """A cosigner's answer is outside input: what the server logs of it is its first line,
    cut to 200 bytes, with terminal escapes and other unprintable bytes replaced."""
    assert cosigning._reason(b"") == "(no reason given)"
    assert cosigning._reason(b"stale size\nsecond line") == "stale size"
    said = cosigning._reason(b"\x1b[31mred\x1b[0m \xff\xfe" + b"x" * 500)
    assert said.startswith("?[31mred?[0m ??") and len(said) <= 200
    assert all(" " <= c <= "~" for c in said)
