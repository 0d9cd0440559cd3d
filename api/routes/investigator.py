"""Investigator and admin endpoints: log in with a signed challenge, list and download sealed
submissions, whole or one byte range (every download is logged), reply to a witness's
mailbox, delete (admin), and publish a new roster (authorized by the organization key's
signature, not by a token).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import InvestigatorDep, ServiceDep
from api.bodies import (
    BodyInterrupted,
    declared_length,
    in_thread_shielded,
    interrupted,
    receive_whole_body,
)
from api.errors import ApiError, json_error_schema
from api.models import (
    ChallengeIn,
    ChallengeOut,
    DeletedOut,
    ReplyOut,
    RosterOut,
    SubmissionOut,
    SubmissionPage,
    TokenIn,
    TokenOut,
)
from api.routes.witness import WorkHeader
from api.streams import RangeNotSatisfiable, byte_range, file_chunks
from vault.service.auth import challenge_message

router = APIRouter(prefix="/api/v1", tags=["investigator"])

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    code: json_error_schema() for code in (400, 401, 403, 404, 409, 413, 422, 503)}
SEALED_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
ROSTER_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "text/plain": {"schema": {"type": "string"}}}}}


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{what} is not base64") from None


@router.post("/auth/challenge", response_model=ChallengeOut, responses=AUTH_ERRORS)
def new_challenge(body: ChallengeIn, service: ServiceDep, work: WorkHeader = None
                  ) -> ChallengeOut:
    """A fresh single-use challenge for a key id on the current roster."""
    service.admit_anonymous_write(work)
    challenge = service.new_challenge(body.key_id)
    example = challenge_message("<scheme://host:port you connected to>", "<log vkey>",
                                body.key_id, b"")
    return ChallengeOut(
        challenge=base64.b64encode(challenge).decode("ascii"),
        expires_in=service.auth.challenge_ttl,
        message_format=example.decode("ascii").replace("challenge \n", "challenge <base64>\n"),
    )


@router.post("/auth/token", response_model=TokenOut, responses=AUTH_ERRORS)
def new_token(body: TokenIn, service: ServiceDep) -> TokenOut:
    """Exchange a signed challenge for a short-lived bearer token."""
    signature_mldsa = None if body.signature_mldsa is None else _b64(
        body.signature_mldsa, "signature_mldsa")
    token = service.login(body.key_id, _b64(body.challenge, "challenge"),
                          _b64(body.signature, "signature"), body.server, signature_mldsa)
    return TokenOut(token=token, expires_in=service.auth.token_ttl)


@router.get("/submissions", response_model=SubmissionPage, responses=AUTH_ERRORS)
def list_submissions(
    who: InvestigatorDep,
    service: ServiceDep,
    cursor: Annotated[str | None, Query(max_length=18, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SubmissionPage:
    """Submissions in arrival order; pass ``next_cursor`` back to continue."""
    page, next_cursor = service.list_submissions(who, cursor, limit)
    return SubmissionPage(
        submissions=[SubmissionOut(id=s.id, sha256=s.sha256, size=s.size,
                                   received=s.received, log_index=s.log_index) for s in page],
        next_cursor=next_cursor,
    )


SEALED_FILE: dict[str, Any] = {"application/octet-stream": {"schema": {
    "type": "string", "format": "binary"}}}


@router.get("/submissions/{submission_id}", response_class=StreamingResponse, responses={
    200: {"content": SEALED_FILE, "description": "the sealed file"},
    206: {"content": SEALED_FILE, "description": "the bytes of the range asked for "
          "(`Content-Range: bytes first-last/size`); `Amanat-Sha256` is still the whole "
          "file's"},
    416: {**json_error_schema(), "description": "the range starts past the end "
          "(`Content-Range: bytes */size`)"},
    **AUTH_ERRORS})
def download_submission(
    submission_id: str,
    who: InvestigatorDep,
    service: ServiceDep,
    range_: Annotated[str | None, Header(alias="range", description=(
        "one byte range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix`; any other "
        "value gets the whole file"))] = None,
    if_range: Annotated[str | None, Header(alias="if-range", description=(
        "the server gives no validators (ETag, Last-Modified), so none matches: with "
        "If-Range the whole file is sent (RFC 9110 §13.1.5)"))] = None,
) -> StreamingResponse:
    """Download a sealed submission, whole or one byte range. The access is logged before
    the first byte is sent (a ranged download too)."""
    record, src = service.open_submission(who, submission_id)
    headers = {"Accept-Ranges": "bytes", "Amanat-Sha256": record.sha256}
    try:
        wanted = byte_range(range_ if if_range is None else None, record.size)
    except RangeNotSatisfiable as exc:
        src.close()
        raise ApiError(416, f"no such byte range: {exc}",
                       {"Content-Range": f"bytes */{record.size}"}) from None
    if wanted is None:
        return StreamingResponse(file_chunks(src), media_type="application/octet-stream",
                                 headers={**headers, "Content-Length": str(record.size)})
    start, length = wanted
    try:
        src.seek(start)
    except BaseException:
        src.close()
        raise
    return StreamingResponse(
        file_chunks(src, length), status_code=206, media_type="application/octet-stream",
        headers={**headers, "Content-Length": str(length),
                 "Content-Range": f"bytes {start}-{start + length - 1}/{record.size}"})


@router.delete("/submissions/{submission_id}", response_model=DeletedOut,
               responses=AUTH_ERRORS)
def delete_submission(submission_id: str, who: InvestigatorDep,
                      service: ServiceDep) -> DeletedOut:
    """Delete a submission (admin role). The deletion is logged first."""
    index = service.delete_submission(who, submission_id)
    return DeletedOut(id=submission_id, log_index=index)


@router.post("/mailboxes/{mailbox_id}/replies", status_code=201, response_model=ReplyOut,
             openapi_extra=SEALED_BODY, responses=AUTH_ERRORS)
async def post_reply(mailbox_id: str, request: Request, who: InvestigatorDep,
                     service: ServiceDep) -> ReplyOut:
    """Leave a sealed reply (age file sealed to the witness's reply recipient) in the
    mailbox ``mailbox_id`` (SHA-256 of the witness's mailbox secret, from the manifest)."""
    length = declared_length(request)
    upload_id, appender = await in_thread_shielded(
        lambda: service.begin_reply(length, mailbox_id))
    try:
        reply = await receive_whole_body(
            request, appender, length,
            lambda digest: service.finish_reply(who, upload_id, mailbox_id, digest))
    except BodyInterrupted as exc:
        await in_thread_shielded(service.discard_upload, upload_id)
        raise interrupted(exc, "nothing was stored") from None
    except BaseException:
        await in_thread_shielded(service.discard_upload, upload_id)
        raise
    return ReplyOut(id=reply.id, sha256=reply.sha256, size=reply.size,
                    received=reply.received, log_index=reply.log_index)


async def _read_roster(request: Request, limit: int) -> str:
    length = declared_length(request)
    if length is not None and length > limit:
        raise ApiError(413, f"a roster is at most {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"a roster is at most {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "a roster is UTF-8 text") from None


@router.put("/roster", response_model=RosterOut, openapi_extra=ROSTER_BODY,
            responses=AUTH_ERRORS)
async def put_roster(request: Request, service: ServiceDep) -> RosterOut:
    """Publish a new signed roster: it must verify under the organization key, name this
    server's log key, and carry a higher version than the current one."""
    # Rosters are published rarely, by an admin: only a few are read at once, so stalled
    # roster bodies cannot fill memory (each may hold up to the roster limit).
    slots: anyio.Semaphore = request.app.state.roster_slots
    try:
        slots.acquire_nowait()
    except anyio.WouldBlock:
        raise ApiError(503, "another roster is being published; try again in a minute",
                       {"Retry-After": "60"}) from None
    try:
        text = await _read_roster(request, service.limits.max_roster_bytes)
    finally:
        slots.release()
    view = await anyio.to_thread.run_sync(service.publish_roster, text)
    return RosterOut(version=view.version)


@router.post("/roster", response_model=RosterOut, openapi_extra=ROSTER_BODY,
             responses=AUTH_ERRORS)
async def post_roster(request: Request, service: ServiceDep) -> RosterOut:
    """Same as PUT /api/v1/roster."""
    return await put_roster(request, service)
