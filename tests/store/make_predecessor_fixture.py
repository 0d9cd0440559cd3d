"""Make tests/store/fixtures/datadir-v1.tar: a data directory written by the release before
schema versions (no version marker: schema version 1), for the upgrade test.

Run once, from a checkout of that release (the fixture is committed):

    git worktree add /tmp/amanat-v1 9e823eb
    cd /tmp/amanat-v1 && PYTHONPATH=/tmp/amanat-v1 /work/main/.venv/bin/python \
        /work/main/tests/store/make_predecessor_fixture.py OUT.tar

that is, with the earlier release's modules first on the path. It starts a real ``--dev``
server from that code (which publishes its roster), submits three small testimonies, stops
the server and writes the data directory as a tar, with file times at zero. It prints the
last signed checkpoint, which the upgrade test expects to find unchanged.
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile
from pathlib import Path

import httpx


def main(out: Path) -> None:
    from tests.api.vaultkit import read_dev_keys
    from tests.e2e.conftest import start_server
    from vault.client import VaultClient

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            dev = read_dev_keys(server.data_dir)
            with VaultClient(server.url) as client:
                receipts = [client.submit(dev.seal(f"testimony {i}\n".encode()))
                            for i in range(3)]
            checkpoint = httpx.get(server.url + "/api/v1/log/checkpoint").text
        finally:
            server.stop()
        print(checkpoint)
        print(" ".join(r.id for r in receipts))

        def scrub(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            return info

        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(server.data_dir.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(server.data_dir)),
                        recursive=False, filter=scrub)
        os.chmod(out, 0o644)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
