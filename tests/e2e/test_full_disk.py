"""A full disk at every step: the data directory is on a small tmpfs made by the test, and a
ballast file leaves only so many bytes free, swept in 4 KiB steps (one page of tmpfs) so that
the disk runs out during an upload's append, during the finish, during the log append of a
one-request submission, and during a reply. Each time:

* the client gets 507 (never 500) and what it was told is true: a 201 means stored and
  logged, a 507 means nothing acknowledged;
* nothing stored is corrupted: after the sweep, with the ballast gone, every acknowledged
  submission opens to its exact bytes, `fsck` passes on the stopped server and `audit
  verify --full` on the restarted one;
* stored testimony still opens while the disk is full (its access entry logged in the room
  the server holds back for investigators, vault/service/room.py);
* writes work again once space is freed.

The storage reserve is set to 0 here, so that the disk itself runs out: with the default
reserve, anonymous writes stop before that (tests/e2e/test_flood.py).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.vaultkit import DevKeys, read_dev_keys
from tests.e2e.conftest import ROOT, ServerProcess, start_server
from vault import age
from vault.client import VaultClient
from vault.codename import derive, new_codename
from vault.replytext import pad_reply
from vault.service.room import ROOM_BYTES, ROOM_NAME
from vault.service.staging import LOG_HEADROOM_BYTES

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")]

PAGE = 4096
# What the ballast leaves free: every page up to 96 KiB (appends run out), then around the
# 1 MiB a finish or a reply needs before it starts (vault/service/staging.py,
# LOG_HEADROOM_BYTES), so that a one-request submission of about 1 MiB runs out in its
# body, at its finish, or fits.
FREE_BYTES = [*range(0, 96 * 1024, PAGE),
              *range(LOG_HEADROOM_BYTES - 64 * 1024, 2 * LOG_HEADROOM_BYTES + 512 * 1024,
                     128 * 1024)]
TMPFS_MIB = 40
SETTINGS = {"AMANAT_MIN_FREE_BYTES": "0", "AMANAT_MIN_FREE_PERCENT": "0",
            "AMANAT_WORK_QUIET_RATE": "0"}


@contextmanager
def tmpfs(path: Path, mib: int) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


class Ballast:
    """A file that takes all but ``free`` bytes of the filesystem."""

    def __init__(self, root: Path) -> None:
        self.path = root / "ballast"
        self.root = root

    def leave(self, free: int) -> None:
        self.clear()
        stat = os.statvfs(self.root)
        available = stat.f_bavail * stat.f_frsize
        size = max(0, available - free)
        with open(self.path, "wb") as file:
            block = b"\0" * (1024 * 1024)
            while size > 0:
                try:
                    size -= file.write(block[: min(size, len(block))])
                except OSError:
                    break

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def amanat(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "vault.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300, check=False)


def statuses_are_honest(statuses: list[int]) -> None:
    assert set(statuses) <= {200, 201, 204, 507}, f"unexpected answers: {sorted(set(statuses))}"


def test_the_disk_fills_at_every_step(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", TMPFS_MIB) as small:
        server = start_server(tmp_path, data_dir=small / "data", env=SETTINGS)
        ballast = Ballast(small)
        dev = read_dev_keys(server.data_dir)
        acknowledged: dict[str, bytes] = {}
        try:
            first = age.encrypt_bytes(b"stored before the disk filled", dev.recipients())
            with VaultClient(server.url) as client:
                acknowledged[client.submit(first).id] = first
                token = client.login(dev.investigator.key_id, dev.sign,
                                     dev.roster().log_vkey or "")
            keys = derive(new_codename())
            seen: dict[str, list[int]] = {"append": [], "finish": [], "submit": [], "reply": []}
            with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as http:
                for free in FREE_BYTES:
                    sweep_once(http, dev, token, keys.mailbox_id, keys.reply_identity.recipient(),
                               ballast, free, acknowledged, seen)
                    # With space back, the server holds its room for investigators again
                    # (after its next log entry)...
                    opened_while_full(server, token, acknowledged, dev)
                    assert (server.data_dir / ROOM_NAME).stat().st_size == ROOM_BYTES
                    # ...so that while only this little is free, stored testimony opens.
                    ballast.leave(free)
                    opened_while_full(server, token, acknowledged, dev)
                ballast.clear()
            for step, statuses in seen.items():
                statuses_are_honest(statuses)
                assert 507 in statuses, f"the disk never ran out during {step}: {statuses}"
                assert any(s in (200, 201) for s in statuses), f"{step} never worked"
            # Space is back: every kind of write works again.
            ballast.clear()
            with VaultClient(server.url) as client:
                again = age.encrypt_bytes(b"after the disk was freed", dev.recipients())
                acknowledged[client.submit(again).id] = again
                receipt = client.upload(io.BytesIO(again))
                acknowledged[receipt.id] = again
        finally:
            ballast.clear()
            server.stop()
        fsck = amanat("fsck", "--data", str(server.data_dir))
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        (tmp_path / "again").mkdir()
        restarted = start_server(tmp_path / "again", data_dir=server.data_dir, env=SETTINGS)
        try:
            with VaultClient(restarted.url) as client:
                token = client.login(dev.investigator.key_id, dev.sign,
                                     dev.roster().log_vkey or "")
            opened_while_full(restarted, token, acknowledged, dev)
            audit = amanat("audit", "verify", "--server", restarted.url, "--org", dev.org_vkey,
                           "--full")
            assert audit.returncode == 0, audit.stdout + audit.stderr
        finally:
            restarted.stop()


def sweep_once(http: httpx.Client, dev: DevKeys, token: str, mailbox_id: str,
               recipient: age.Recipient, ballast: Ballast, free: int,
               acknowledged: dict[str, bytes], seen: dict[str, list[int]]) -> None:
    sealed = age.encrypt_bytes(os.urandom(24 * 1024), dev.recipients())

    # During an append: 32 KiB sent into what is left.
    ballast.leave(1024 * 1024)
    created = http.post("/uploads")
    assert created.status_code == 201, created.text
    upload_id = created.json()["upload_id"]
    ballast.leave(free)
    answer = http.patch(f"/uploads/{upload_id}", content=sealed,
                        headers={"Upload-Offset": "0"})
    seen["append"].append(answer.status_code)
    ballast.leave(1024 * 1024)
    offset = int(http.head(f"/uploads/{upload_id}").headers["Upload-Offset"])
    assert 0 <= offset <= len(sealed)
    if offset < len(sealed):  # the rest, now that there is room
        answer = http.patch(f"/uploads/{upload_id}", content=sealed[offset:],
                            headers={"Upload-Offset": str(offset)})
        assert answer.status_code == 200, answer.text

    # During the finish (promotion, the log append, the row).
    ballast.leave(free)
    finished = http.post(f"/uploads/{upload_id}/finish")
    seen["finish"].append(finished.status_code)
    ballast.leave(1024 * 1024)
    if finished.status_code == 201:
        acknowledged[finished.json()["id"]] = sealed
    else:
        # Not stored: the upload is still there, and finishes once there is room.
        assert http.head(f"/uploads/{upload_id}").status_code == 200
        finished = http.post(f"/uploads/{upload_id}/finish")
        assert finished.status_code == 201, finished.text
        acknowledged[finished.json()["id"]] = sealed

    # During a one-request submission of about 1 MiB (its file, its log entry, its row).
    whole = age.encrypt_bytes(os.urandom(1000 * 1024), dev.recipients())
    ballast.leave(free)
    submitted = http.post("/submissions", content=whole)
    seen["submit"].append(submitted.status_code)
    if submitted.status_code == 201:
        acknowledged[submitted.json()["id"]] = whole

    # During a reply.
    reply = age.encrypt_bytes(pad_reply("x" * 5000), [recipient])
    answered = http.post(f"/mailboxes/{mailbox_id}/replies", content=reply,
                         headers={"Authorization": f"Bearer {token}"})
    seen["reply"].append(answered.status_code)
    ballast.clear()


def opened_while_full(server: ServerProcess, token: str, acknowledged: dict[str, bytes],
                      dev: DevKeys) -> None:
    """Every acknowledged submission is listed and downloads to its exact sealed bytes, and
    opens. (Logged in before the disk filled: a login stores its token.)"""
    with VaultClient(server.url, timeout=60, token=token) as client:
        listed = {s.id for s in client.iter_submissions()}
        assert set(acknowledged) <= listed
        some = list(acknowledged)[:1] + list(acknowledged)[-1:]
        for submission_id in some:
            out = io.BytesIO()
            client.download(submission_id, out)
            assert out.getvalue() == acknowledged[submission_id]
            age.decrypt_bytes(out.getvalue(), [dev.investigator.age_identity()])
