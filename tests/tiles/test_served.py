"""The log served as C2SP tlog-tiles by a real server on 127.0.0.1, read by the independent
reader (tests/tiles/independent.py, which imports nothing from amanat): at the spec's example
size of 70,000 entries the tiles rebuild the signed root, the bundles are the logged entries
byte for byte, full tiles are immutable and partial ones are not, and nothing beyond the
tree or off the canonical paths is served."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.audit.serverkit import amanat, org_vkey, submit
from tests.e2e.conftest import ServerProcess, start_server
from tests.tiles import independent
from vault.events import access_event
from vault.service.setup import AUDIT_LOG_FILE, load_or_create_log_key
from vault.store.auditlog import AuditLog

SIZE = 70_000  # c2sp.org/tlog-tiles: 273 full level 0 tiles, one of width 112, ...
PREFIX = "/api/v1/log"


def grow_log(data_dir: Path, size: int) -> str:
    """Append access entries to a stopped server's log up to ``size``; the vkey of its log
    key's Ed25519 half (what the independent reader checks)."""
    signer, _ = load_or_create_log_key(data_dir)
    with AuditLog(data_dir / AUDIT_LOG_FILE, signer, signer.name) as log:
        missing = size - log.size()
        log.append([access_event(f"{i:032x}", "0123456789abcdef").encode()
                    for i in range(missing)])
        assert log.size() == size
    return signer.classical.vkey()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    root = tmp_path_factory.mktemp("tiles")
    start_server(root).stop()
    vkey = grow_log(root / "data", SIZE)
    server = start_server(root, data_dir=root / "data")
    try:
        yield server, vkey
    finally:
        server.stop()


def get(server: ServerProcess, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{PREFIX}/{path}", timeout=30)


def test_independent_reader_rebuilds_the_signed_tree(served: tuple[ServerProcess, str]) -> None:
    server, vkey = served
    checkpoint, entries, reader = independent.read_log(server.url + PREFIX, vkey)
    assert checkpoint.size == SIZE
    # 1 checkpoint + 273 + 1 + 1 + 1 + 1 tiles (the spec's list) + 274 bundles.
    assert reader.fetched == 1 + 277 + 274
    # The bundles hold exactly the logged entries (the entries endpoint's bytes).
    for start in (0, 1000, 68_999):
        page = httpx.get(f"{server.url}{PREFIX}/entries",
                         params={"start": start, "end": start + 1000}, timeout=30).json()
        assert [base64.b64decode(e) for e in page["entries"]] == entries[start : start + 1000]


def test_a_wrong_key_or_an_edited_checkpoint_is_refused(served: tuple[ServerProcess, str]) -> None:
    server, vkey = served
    name, key_hash, _ = vkey.split("+", 2)
    other = base64.b64encode(b"\x01" + bytes(32)).decode()
    with pytest.raises(independent.Refused):
        independent.read_log(server.url + PREFIX, f"{name}+{key_hash}+{other}")
    with pytest.raises(independent.Refused, match="signature does not verify"):
        body = get(server, "checkpoint").text.replace(f"\n{SIZE}\n", f"\n{SIZE - 1}\n", 1)
        independent.open_checkpoint(body, vkey)


def test_cache_headers(served: tuple[ServerProcess, str]) -> None:
    server, _ = served
    full = get(server, "tile/0/272")
    assert full.status_code == 200 and len(full.content) == 8192
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["x-content-type-options"] == "nosniff"
    assert full.headers["content-security-policy"].startswith("default-src 'none'")
    assert get(server, "tile/entries/000").headers["cache-control"].endswith("immutable")
    partial = get(server, "tile/0/273.p/112")
    assert len(partial.content) == 112 * 32
    assert partial.headers["cache-control"] == "no-cache"
    assert get(server, "tile/entries/273.p/112").headers["cache-control"] == "no-cache"
    assert get(server, "checkpoint").headers["cache-control"] == "no-store"
    assert get(server, "tile/2/000").headers["cache-control"] == "no-store"  # a 404
    # A partial tile is a prefix of the tile, whatever width is asked for.
    assert get(server, "tile/0/005.p/9").content == get(server, "tile/0/005").content[: 9 * 32]


@pytest.mark.parametrize("path", [
    "tile/0/274", "tile/0/273", "tile/0/273.p/113", "tile/1/001", "tile/1/001.p/18",
    "tile/2/000", "tile/2/000.p/2", "tile/3/000.p/1", "tile/entries/274", "tile/entries/273",
    "tile/entries/273.p/113", "tile/0/x001/000",
])
def test_tiles_beyond_the_tree_are_404(served: tuple[ServerProcess, str], path: str) -> None:
    answer = get(served[0], path)
    assert answer.status_code == 404
    assert answer.json() == {"error": "no such tile: it is beyond the log's current tree"}


@pytest.mark.parametrize("path", [
    "tile/0/0", "tile/00/000", "tile/64/000", "tile/0/x000/001", "tile/0/000.p/0",
    "tile/0/000.p/256", "tile/0/000.p/07", "tile/entries/", "tile/0/000/", "tile/x/000",
    "tile/0/%30%30%31%2F", "tile/0/" + "x999/" * 7 + "999",
])
def test_bad_paths_are_404(served: tuple[ServerProcess, str], path: str) -> None:
    answer = get(served[0], path)
    assert answer.status_code == 404
    assert answer.json()["error"].startswith("not a tile: the paths are tile/<L>/<N>")


def test_tiles_follow_the_log_as_it_grows(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        vkey = log_vkey(server)
        for _ in range(2):
            before = get(server, "tile/0/000.p/1").content
            checkpoint, entries, _ = independent.read_log(server.url + PREFIX, vkey)
            assert checkpoint.size == len(entries)
            submit(server, 1)
            assert get(server, "tile/0/000.p/1").content == before
        assert checkpoint.size == 2 and len(entries) == 2
    finally:
        server.stop()


def log_vkey(server: ServerProcess) -> str:
    signer, _ = load_or_create_log_key(server.data_dir)
    return signer.classical.vkey()


def test_audit_verify_reads_the_tiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    """``amanat audit verify --tiles`` against a real server; then a stored tree node edited
    under it: the entries still hash to the signed root (``--full`` passes), but the tiles
    the server now serves do not, and ``--tiles`` says so."""
    server = start_server(tmp_path)
    try:
        submit(server, 3)
        org = org_vkey(server)
        status, out, err = amanat(capsys, "audit", "verify", "--server", server.url,
                                  "--org", org, "--tiles")
        assert (status, err) == (0, "")
        assert out.startswith("ok: size 4, root ") and "tree rebuilt from its 1 tile;" in out
        assert "all 3 undeleted submissions held" in out
    finally:
        server.stop()
    db = sqlite3.connect(server.data_dir / AUDIT_LOG_FILE)
    with db:
        db.execute("UPDATE log_tree SET hash = zeroblob(32) WHERE level = 0 AND idx = 1")
    db.close()
    server = start_server(tmp_path, data_dir=server.data_dir, port=server.port)
    try:
        status, out, err = amanat(capsys, "audit", "verify", "--server", server.url,
                                  "--org", org, "--full")
        assert status == 0, err
        status, out, err = amanat(capsys, "audit", "verify", "--server", server.url,
                                  "--org", org, "--tiles")
        assert status == 1 and out == ""
        assert err.startswith("amanat: tiles do not match the checkpoint: the tree rebuilt "
                              "from its 1 tile does not have the signed root ")
        with pytest.raises(independent.Refused, match="does not hash to the checkpoint's root"):
            independent.read_log(server.url + PREFIX, log_vkey(server))
    finally:
        server.stop()
