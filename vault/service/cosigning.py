"""Gathering cosignatures: the vault sends each new checkpoint to the cosigners its roster
names (C2SP tlog-witness ``add-checkpoint``) and keeps the cosignatures they answer with.

Protects the no-split-view guarantee without ever standing in a submission's way: the work
is done by one background thread per cosigner, which sends only the newest checkpoint
(checkpoints issued while a cosigner was away are skipped, since cosigning the newest covers
them), with the consistency proof from the size that cosigner last cosigned, and sends it
again every ``REFRESH_SECONDS`` while nothing new is logged, so the cosignatures served stay
recent (a cosigner cosigns the size it holds again, with a new time). A cosigner that
is down, slow or refusing is retried with exponential backoff (``MIN_BACKOFF`` doubling up
to ``MAX_BACKOFF`` seconds) and each request has a deadline, so a submission never waits on
one: it is acknowledged with whatever cosignatures exist, and a cosigned checkpoint that
covers it can be fetched later. Every cosignature line is checked against the roster's keys
for that cosigner before it is kept (``AuditLog.add_cosignatures``); what a cosigner answers
otherwise is dropped and logged by class only.

A cosigner's answer 409 (``text/x.tlog.size``) tells the size it last cosigned; the next
request carries the proof from there. A cosigner that has cosigned a size this log never
reached, or a root this log never signed, refuses every request: that is a fork or a
rollback of this log, which is what cosigners exist to catch, and it shows as a checkpoint
that never gathers cosignatures (and ``amanat audit verify`` failing), not as a lost
submission.
"""

from __future__ import annotations

import base64
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from vault.tlog.checkpoint import Checkpoint
from vault.tlog.cosignature import CosignatureError, cosignatures_in_note
from vault.tlog.cosigning import Cosigner, CosigningPolicy

logger = logging.getLogger("amanat.cosigning")

MIN_BACKOFF = 0.5
MAX_BACKOFF = 60.0
REQUEST_SECONDS = 10.0
IDLE_SECONDS = 30.0
REFRESH_SECONDS = 3600.0
"""An idle log's newest checkpoint is sent again this often: each cosigner cosigns it again
with a new time, so an auditor who keeps nothing can tell the current view from an old one
(``vault.audit.DEFAULT_MAX_COSIGNED_AGE``). The time carries no entry: nothing was added."""
MAX_ANSWER_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class CosignedLog(Protocol):
    """What the collector needs of the audit log (``vault.store.auditlog.AuditLog``)."""

    def size(self) -> int: ...

    def latest_checkpoint(self) -> str: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...

    def add_cosignatures(self, size: int, lines: list[str]) -> None: ...


class CosignerRefused(Exception):
    """A cosigner answered something other than cosignatures (the message says what)."""


def request_body(old_size: int, proof: list[bytes], signed_checkpoint: str) -> bytes:
    """The ``add-checkpoint`` request body of c2sp.org/tlog-witness."""
    lines = [f"old {old_size}"] + [base64.b64encode(item).decode("ascii") for item in proof]
    return ("\n".join(lines) + "\n\n" + signed_checkpoint).encode("utf-8")


def _body_of(signed: str) -> str:
    return signed[: signed.rfind("\n\n") + 1]


class CosignatureCollector:
    """Background threads that keep the log's newest checkpoint going to each cosigner.

    ``policy`` is asked for the current cosigning policy (the roster's; None when there is
    none) every round, so a new roster's cosigners are picked up without a restart.
    ``post(url, body, timeout)`` sends one request and returns the status, content type and
    body (default: httpx, no redirects, through ``proxy`` when given, e.g.
    ``socks5h://127.0.0.1:9050`` to reach cosigners on onion addresses). ``on_cosigned`` is
    called (without arguments) after new cosignatures were kept.
    """

    def __init__(
        self,
        log: CosignedLog,
        policy: Callable[[], CosigningPolicy | None],
        *,
        post: Callable[[str, bytes, float], tuple[int, str, bytes]] | None = None,
        on_cosigned: Callable[[], None] | None = None,
        proxy: str | None = None,
    ) -> None:
        self._log = log
        self._policy = policy
        self._post = post or functools.partial(_httpx_post, proxy=proxy)
        self._on_cosigned = on_cosigned or (lambda: None)
        self._changed = threading.Condition()
        self._stopping = False
        self._workers: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._failing: set[str] = set()  # cosigners whose last exchange failed

    def start(self) -> None:
        """Start a thread for each cosigner of the current policy (more come with notify)."""
        self.notify()

    def notify(self) -> None:
        """A new checkpoint was issued or the roster changed: wake every worker, and start
        one for a cosigner that has none."""
        policy = self._current_policy()
        with self._lock:
            if self._stopping:
                return
            for cosigner in () if policy is None else policy.cosigners:
                key = _worker_key(cosigner)
                if key not in self._workers or not self._workers[key].is_alive():
                    worker = threading.Thread(target=self._run, args=(cosigner,), daemon=True,
                                              name=f"cosigner {cosigner.name}")
                    self._workers[key] = worker
                    worker.start()
        with self._changed:
            self._changed.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every worker (each finishes or abandons its current request)."""
        with self._lock:
            self._stopping = True
            workers = list(self._workers.values())
        with self._changed:
            self._changed.notify_all()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def answering(self) -> int:
        """How many of the current policy's cosigners did not fail their last request (a
        submission waits for cosignatures only while k of them did not)."""
        policy = self._current_policy()
        with self._lock:
            return 0 if policy is None else sum(
                1 for c in policy.cosigners if _worker_key(c) not in self._failing)

    def _current_policy(self) -> CosigningPolicy | None:
        try:
            return self._policy()
        except Exception:  # no roster yet, or it cannot be read: nothing to send
            return None

    def _wait(self, seconds: float) -> None:
        with self._changed:
            if not self._stopping:
                self._changed.wait(seconds)

    def _still_listed(self, cosigner: Cosigner) -> bool:
        policy = self._current_policy()
        return policy is not None and any(
            _worker_key(c) == _worker_key(cosigner) for c in policy.cosigners)

    def _run(self, cosigner: Cosigner) -> None:
        known_size = 0  # the size this cosigner last cosigned, as far as we know
        done_size = 0  # the newest size it cosigned for us (the empty tree needs nobody)
        backoff = 0.0
        retry_at = 0.0  # a new checkpoint wakes the worker, but not before this (backoff)
        refresh_at = 0.0  # when the newest checkpoint is due to be cosigned again
        while not self._stopping and self._still_listed(cosigner):
            now = time.monotonic()
            if retry_at > now:
                self._wait(retry_at - now)
                continue
            size = self._log.size()
            if size == 0 or (size <= done_size and now < refresh_at):
                self._wait(IDLE_SECONDS if size == 0 else min(IDLE_SECONDS, refresh_at - now))
                continue
            try:
                known_size, done_size = self._send(cosigner, known_size)
                refresh_at = time.monotonic() + REFRESH_SECONDS
                backoff = 0.0
                with self._lock:
                    self._failing.discard(_worker_key(cosigner))
            except Exception as exc:
                with self._lock:
                    self._failing.add(_worker_key(cosigner))
                backoff = min(MAX_BACKOFF, max(MIN_BACKOFF, backoff * 2))
                retry_at = time.monotonic() + backoff
                logger.warning("cosigner %s: %s; next try in %.1f s", cosigner.name,
                               exc if isinstance(exc, CosignerRefused) else type(exc).__name__,
                               backoff)

    def _send(self, cosigner: Cosigner, known_size: int) -> tuple[int, int]:
        """One exchange (two if the cosigner corrects our idea of its size); returns the
        size it now holds and the size it cosigned."""
        for _ in range(2):
            signed = self._log.latest_checkpoint()
            size = Checkpoint.parse(_body_of(signed)).size
            if known_size > size:
                raise CosignerRefused(
                    f"it has cosigned size {known_size}, beyond this log's {size}: a fork "
                    "or a rollback of this log")
            proof = (self._log.consistency_proof(known_size, size)
                     if 0 < known_size < size else [])
            status, content_type, answer = self._post(
                cosigner.url + "/add-checkpoint", request_body(known_size, proof, signed),
                REQUEST_SECONDS)
            if status == 409 and content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE:
                known_size = _parse_size(answer)
                continue
            if status != 200:
                raise CosignerRefused(f"answered {status}: {_reason(answer)}")
            self._keep(cosigner, signed, size, answer)
            return size, size
        raise CosignerRefused("it keeps answering that another size is its latest")

    def _keep(self, cosigner: Cosigner, signed: str, size: int, answer: bytes) -> None:
        try:
            text = answer.decode("utf-8")
        except UnicodeDecodeError:
            raise CosignerRefused("its answer is not UTF-8") from None
        lines = [line for line in text.split("\n") if line]
        note = signed + "".join(line + "\n" for line in lines)
        try:
            valid = cosignatures_in_note(note, cosigner.verifiers())
        except CosignatureError as exc:
            raise CosignerRefused(f"its cosignature does not verify: {exc}") from None
        if len(valid) != len(cosigner.verifiers()):
            raise CosignerRefused("its answer lacks a cosignature by one of its keys")
        self._log.add_cosignatures(size, [c.line().rstrip("\n") for c in valid])
        self._on_cosigned()


def _worker_key(cosigner: Cosigner) -> str:
    return f"{cosigner.ed25519.vkey()} {cosigner.mldsa44.vkey()} {cosigner.url}"


def _parse_size(answer: bytes) -> int:
    text = answer.decode("ascii", "replace")
    if not text.endswith("\n") or not text[:-1].isdigit() or len(text) > 21:
        raise CosignerRefused("its 409 answer is not a size")
    return int(text[:-1])


def _reason(answer: bytes) -> str:
    """The first line of a cosigner's refusal, for the server's log: at most 200 bytes, and
    printable ASCII only (a cosigner's answer is outside input: no terminal escapes, no
    forged log lines)."""
    text = answer[:200].decode("ascii", "replace").strip().splitlines()
    line = text[0] if text else ""
    kept = "".join(c if " " <= c <= "~" else "?" for c in line)
    return kept or "(no reason given)"


def _httpx_post(url: str, body: bytes, timeout: float, *, proxy: str | None = None
                ) -> tuple[int, str, bytes]:
    with (httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                       proxy=proxy) as client,
          client.stream("POST", url, content=body,
                        headers={"content-type": "text/plain"}) as response):
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_ANSWER_BYTES:
                raise CosignerRefused("its answer is too large")
        return response.status_code, response.headers.get("content-type", ""), data


__all__ = ["CosignatureCollector", "CosignedLog", "CosignerRefused", "request_body"]
