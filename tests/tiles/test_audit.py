"""`vault.audit.verify_log` reading the log as tiles (``tiles=``): the tree rebuilt from tiles
must be the signed one, each entry must be the one the tree holds, and history is checked
with proofs computed from the tiles, never asked from the server. Every lie a tile server
can tell is a finding that names where."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.audit.fakes import FakeLog, Org, access, new_log, submission
from vault.audit import AuditState, Finding, verify_log
from vault.client import AnswerTooLargeError, VaultClient
from vault.tlog.tiles import Tile, read_tile

SIZE = 600  # two full level-0 tiles and a partial one, a partial level-1 tile


class Tiles:
    """Serves a FakeLog's tree and served entries as tiles; ``edit`` changes what it sends."""

    def __init__(self, log: FakeLog) -> None:
        self.log = log
        self.fetched: list[Tile] = []
        self.edit: Callable[[Tile, bytes], bytes] = lambda _, data: data

    def size(self) -> int:
        return self.log.tree.size

    def subtree_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        return [self.log.tree.get(level, i) for i in range(start, end)]

    def entries(self, start: int, end: int) -> list[bytes]:
        return self.log.served[start:end]

    def __call__(self, tile: Tile) -> bytes:
        self.fetched.append(tile)
        return self.edit(tile, read_tile(self, tile))


def big_log(org: Org) -> FakeLog:
    log = new_log(org, 0)
    log.append(*(submission(i) if i % 3 == 0 else access(i) for i in range(SIZE)))
    return log


def check(log: FakeLog, tiles: Tiles, org: Org, state: AuditState | None = None
          ) -> tuple[Finding, str, int | None]:
    verdict = verify_log(log, org.vkey, tiles=tiles, state=state)
    return verdict.finding, verdict.reason, verdict.first_bad_entry


def test_log_read_from_tiles_verifies_without_the_entries_endpoint() -> None:
    org = Org()
    log = big_log(org)
    tiles = Tiles(log)
    verdict = verify_log(log, org.vkey, tiles=tiles)
    assert verdict.ok, verdict.summary()
    assert "tree rebuilt from its 4 tiles" in verdict.reason
    assert f"all {SIZE} entries re-hashed: 200 submissions, 400 accesses" in verdict.reason
    assert [c[0] for c in log.calls] == ["held"]  # no entries, no proofs asked
    assert Tile(-1, 2, 88) in tiles.fetched and Tile(1, 0, 2) in tiles.fetched


def test_history_is_checked_with_proofs_from_the_tiles() -> None:
    org = Org()
    log = big_log(org)
    state = AuditState()
    assert verify_log(log, org.vkey, tiles=Tiles(log), state=state).ok
    log.append(access(1000))
    log.refuse_proofs = True  # the server's proofs are not needed
    assert verify_log(log, org.vkey, tiles=Tiles(log), state=state).ok
    rewritten = FakeLog(log.signer, log.roster, [access(i + 7) for i in range(SIZE + 5)])
    finding, reason, _ = check(rewritten, Tiles(rewritten), org, state)
    assert finding is Finding.REWRITTEN_HISTORY, reason
    assert not [c for c in rewritten.calls if c[0] == "consistency"]


@pytest.mark.parametrize(("target", "offset", "named"), [
    (Tile(0, 1), 5, "tile/0/001 does not hash"),
    (Tile(0, 0), 8191, "tile/0/000 does not hash"),
    (Tile(1, 0, 2), 40, "tile/0/001 does not hash"),
    (Tile(0, 2, 88), 0, "does not have the signed root"),
])
def test_a_changed_tile_is_named(target: Tile, offset: int, named: str) -> None:
    org = Org()
    log = big_log(org)
    tiles = Tiles(log)

    def flip(tile: Tile, data: bytes) -> bytes:
        if tile != target:
            return data
        return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:]

    tiles.edit = flip
    finding, reason, _ = check(log, tiles, org)
    assert finding is Finding.TILES_MISMATCH and named in reason, reason


@pytest.mark.parametrize("cut", [1, 32])
def test_a_short_tile_is_named(cut: int) -> None:
    org = Org()
    log = big_log(org)
    tiles = Tiles(log)
    tiles.edit = lambda tile, data: data[:-cut] if tile == Tile(0, 1) else data
    finding, reason, _ = check(log, tiles, org)
    assert finding is Finding.TILES_MISMATCH and reason.startswith("tile/0/001: "), reason


def test_an_edited_entry_is_located() -> None:
    org = Org()
    log = big_log(org)
    log.served[300] = access(9999)  # the bundles change, the signed tree does not
    finding, reason, first_bad = check(log, Tiles(log), org)
    assert finding is Finding.ENTRIES_MISMATCH and first_bad == 300, reason
    assert "entry 300 in tile/entries/001" in reason


def test_a_malformed_bundle_is_a_mismatch() -> None:
    org = Org()
    log = big_log(org)
    tiles = Tiles(log)
    tiles.edit = lambda tile, data: data + b"\0" if tile == Tile(-1, 1) else data
    finding, reason, first_bad = check(log, tiles, org)
    assert finding is Finding.ENTRIES_MISMATCH and first_bad == 256, reason
    assert reason.startswith("tile/entries/001: the bundle goes on")


def test_a_signed_entry_that_is_not_an_event_is_malformed() -> None:
    org = Org()
    log = big_log(org)
    log.append(b"not an event\n")
    finding, _, first_bad = check(log, Tiles(log), org)
    assert finding is Finding.MALFORMED_ENTRY and first_bad == SIZE


def test_the_empty_log_has_no_tiles() -> None:
    org = Org()
    log = new_log(org, 0)
    tiles = Tiles(log)
    verdict = verify_log(log, org.vkey, tiles=tiles)
    assert verdict.ok and tiles.fetched == []


def test_the_client_holds_no_more_of_a_tile_than_it_can_be() -> None:
    """A hostile server answering a tile with more than the tile can hold is cut off as the
    bytes arrive (httpx MockTransport as the server); the requests go to canonical paths."""
    seen: list[str] = []
    length = 0

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, content=b"\0" * length)

    with VaultClient("http://vault.invalid", transport=httpx.MockTransport(answer)) as client:
        for tile, most in ((Tile(0, 1234067), 8192), (Tile(2, 0, 1), 32),
                           (Tile(-1, 5, 3), 3 * (2 + 65535))):
            length = most
            assert len(client.tile(tile)) == most
            length = most + 1
            with pytest.raises(AnswerTooLargeError):
                client.tile(tile)
    assert seen[::2] == ["/api/v1/log/tile/0/x001/x234/067", "/api/v1/log/tile/2/000.p/1",
                         "/api/v1/log/tile/entries/005.p/3"]
