"""The audit log as C2SP tlog-tiles, under the log's prefix ``/api/v1/log/``.

``checkpoint`` (api/routes/log.py) is the mutable head; here are the tiles of the Merkle
tree (``tile/<L>/<N>[.p/<W>]``) and the entry bundles (``tile/entries/<N>[.p/<W>]``), built
from the audit log's stored subtree hashes and entries (`vault.tlog.tiles.read_tile`). A
full tile never changes, so it is served as immutable and any cache or mirror may keep it:
anyone can rebuild the tree from the files, whoever served them, and check it against the
signed checkpoint (guarantee 4). A partial tile is not marked immutable (C2SP lets a log
drop it once the full tile exists). A tile beyond the current tree, or a path that is not a
canonical tile path, is 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.auth import ServiceDep
from api.errors import ApiError, json_error_schema
from vault.tlog.tiles import TilePathError, TileRangeError, parse_tile_path, read_tile

PREFIX = "/api/v1/log"
CACHEABLE_PREFIXES = (PREFIX + "/tile/",)
"""Paths whose answers say themselves how long they may be cached (SecurityHeadersMiddleware)."""
IMMUTABLE = "public, max-age=31536000, immutable"
MUTABLE = "no-cache"

router = APIRouter(prefix=PREFIX, tags=["log"])

BINARY: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}}},
          "description": "the tile's hashes, or the bundle's length-prefixed entries"},
    404: json_error_schema(),
}


@router.get("/tile/{path:path}", response_class=Response, responses=BINARY)
def tile(service: ServiceDep, path: str) -> Response:
    """A tile (``tile/<L>/<N>[.p/<W>]``: 32-byte hashes) or an entry bundle
    (``tile/entries/<N>[.p/<W>]``: each entry as a big-endian uint16 length and its bytes),
    C2SP tlog-tiles. ``N`` is written in 3-digit groups, all but the last prefixed ``x``
    (1234067 is ``x001/x234/067``)."""
    try:
        wanted = parse_tile_path("tile/" + path)
    except TilePathError:
        raise ApiError(404, "not a tile: the paths are tile/<L>/<N>[.p/<W>] and "
                            "tile/entries/<N>[.p/<W>] (C2SP tlog-tiles)") from None
    try:
        data = read_tile(service.audit_log, wanted)
    except TileRangeError:
        raise ApiError(404, "no such tile: it is beyond the log's current tree") from None
    return Response(data, media_type="application/octet-stream",
                    headers={"Cache-Control": IMMUTABLE if wanted.full else MUTABLE})
