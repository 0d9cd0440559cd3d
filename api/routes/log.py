"""Public audit-log endpoints: signed checkpoints, entries and Merkle proofs.

Anyone may fetch these to check that nothing was silently dropped, altered or rewritten
(guarantee 4): ``amanat audit verify`` follows checkpoints with consistency proofs, and a
witness's receipt is an inclusion proof against a signed checkpoint.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.auth import ServiceDep
from api.errors import json_error_schema
from api.models import ConsistencyOut, EntriesOut, HeldOut, InclusionOut

router = APIRouter(prefix="/api/v1/log", tags=["log"])

ERRORS: dict[int | str, dict[str, Any]] = {400: json_error_schema(), 422: json_error_schema()}
TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "text"},
    **ERRORS,
}
Index = Annotated[int, Query(ge=0, le=2**62)]


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(item).decode("ascii") for item in items]


@router.get("/checkpoint", response_class=PlainTextResponse, responses=TEXT)
def checkpoint(service: ServiceDep) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint, signed note by the log key), with
    the cosignature lines gathered for it so far (C2SP tlog-cosignature)."""
    return PlainTextResponse(service.log_checkpoint())


@router.get("/checkpoint/cosigned", response_class=PlainTextResponse,
            responses={**TEXT, 404: json_error_schema()})
def cosigned_checkpoint(service: ServiceDep) -> PlainTextResponse:
    """The newest checkpoint cosigned by as many of the roster's cosigners as its policy
    requires, with its cosignature lines (the latest checkpoint when the roster names no
    cosigners); 404 while none is."""
    return PlainTextResponse(service.log_cosigned_checkpoint())


@router.get("/entries", response_model=EntriesOut, responses=ERRORS)
def entries(service: ServiceDep, start: Index, end: Index) -> EntriesOut:
    """Entries from ``start`` to ``end`` (exclusive), at most 1000 per request."""
    return EntriesOut(start=start, entries=_b64(service.log_entries(start, end)))


@router.get("/held", response_model=HeldOut, responses=ERRORS)
def held(service: ServiceDep, start: Index, end: Index) -> HeldOut:
    """Which submissions logged in entries ``start`` to ``end`` (exclusive, at most 1000) the
    server still holds (record and sealed file): a logged submission absent here with no
    deletion entry was dropped. Ids and sizes are public in the log already."""
    answered, ids = service.log_held(start, end)
    return HeldOut(start=start, end=answered, held=ids)


@router.get("/proof/inclusion", response_model=InclusionOut, responses=ERRORS)
def inclusion(service: ServiceDep, index: Index, size: Index) -> InclusionOut:
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
    return InclusionOut(index=index, size=size,
                        hashes=_b64(service.log_inclusion_proof(index, size)))


@router.get("/proof/consistency", response_model=ConsistencyOut, responses=ERRORS)
def consistency(service: ServiceDep, old: Index, new: Index) -> ConsistencyOut:
    """RFC 9162 consistency proof between the trees of ``old`` and ``new`` entries."""
    return ConsistencyOut(old=old, new=new,
                          hashes=_b64(service.log_consistency_proof(old, new)))


@router.get("/receipt", response_class=PlainTextResponse, responses=TEXT)
def receipt(service: ServiceDep, index: Index) -> PlainTextResponse:
    """A C2SP tlog-proof receipt for entry ``index`` against the newest checkpoint that
    covers it and is cosigned as the roster requires, else against the latest checkpoint
    (with the cosignatures it has so far)."""
    return PlainTextResponse(service.log_receipt(index))
