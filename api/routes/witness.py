"""Witness endpoints: no accounts, no cookies, nothing that identifies the caller.

Fetch the signed roster, submit a sealed file in one request or as a resumable upload (for
slow Tor circuits), and collect sealed replies by presenting the mailbox secret in a header
or a JSON body (never in the URL).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.auth import ServiceDep
from api.bodies import (
    BodyInterrupted,
    declared_length,
    in_thread_shielded,
    interrupted,
    receive_whole_body,
    stream_body,
    write_and_commit,
)
from api.errors import ApiError, json_error_schema
from api.models import (
    ID_PATTERN,
    MailboxIn,
    MailboxOut,
    ReceiptOut,
    ReplyOut,
    UploadOut,
    WorkOut,
)
from api.streams import file_chunks
from vault.service.mailbox import MAILBOX_SECRET_HEADER, decode_mailbox_secret
from vault.service.service import Receipt, VaultService
from vault.service.uploads import Appender
from vault.service.work import SEED_SECONDS, WORK_HEADER
from vault.store import ReplyRecord

router = APIRouter(prefix="/api/v1", tags=["witness"])

UPLOAD_OFFSET = "Upload-Offset"
SEALED_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: json_error_schema() for code in (400, 404, 409, 413, 422, 428, 503, 507)}


def _receipt(receipt: Receipt) -> ReceiptOut:
    return ReceiptOut(id=receipt.id, sha256=receipt.sha256, size=receipt.size,
                      received=receipt.received, log_index=receipt.log_index,
                      entry=receipt.entry, receipt=receipt.receipt)


def _reply(reply: ReplyRecord) -> ReplyOut:
    return ReplyOut(id=reply.id, sha256=reply.sha256, size=reply.size,
                    received=reply.received, log_index=reply.log_index)


@router.get("/roster", response_class=PlainTextResponse, responses={
    200: {"content": {"text/plain": {"schema": {"type": "string"}}},
          "description": "the current signed roster (C2SP signed note)"},
    503: json_error_schema()})
def get_roster(service: ServiceDep) -> PlainTextResponse:
    """The current signed roster. Verify it against the pinned organization key."""
    return PlainTextResponse(service.roster_text())


WorkHeader = Annotated[str | None, Header(
    alias=WORK_HEADER, max_length=128,
    description="a solved proof of work, `<seed>.<counter>` (GET /api/v1/work); needed "
                "only while the server is busy (428 without it)")]


@router.get("/work", response_model=WorkOut)
def get_work(service: ServiceDep) -> WorkOut:
    """A proof-of-work puzzle for an anonymous write (docs/PROTOCOL.md, "Proof of work"):
    find a decimal counter c such that SHA-256(seed || c) starts with `bits` zero bits.
    `bits` 0: the server is quiet and needs no work."""
    seed, bits = service.work.seed()
    return WorkOut(seed=base64.b64encode(seed).decode("ascii"), bits=bits,
                   expires_in=SEED_SECONDS)


@router.post("/submissions", status_code=201, response_model=ReceiptOut,
             openapi_extra=SEALED_BODY, responses=ERRORS)
async def submit(request: Request, service: ServiceDep, work: WorkHeader = None) -> ReceiptOut:
    """Submit a sealed file (age v1, one post-quantum stanza per roster reader) as the raw
    body. The answer is the submission id and its receipt."""
    service.admit_anonymous_write(work)
    length = declared_length(request)
    # Acknowledged only once finished, when promotion makes the bytes durable: the upload's
    # own writes need not wait for the disk.
    def begin() -> tuple[str, Appender]:  # one worker-thread trip for both
        upload = service.create_upload(durable=False)
        try:
            return upload.id, service.begin_append(upload.id, 0, length, durable=False)
        except BaseException:
            service.discard_upload(upload.id)
            raise

    # Shielded: a request cancelled meanwhile still gets the appender back, so the try
    # below aborts it (and releases the upload's claim) instead of leaving it claimed.
    upload_id, appender = await in_thread_shielded(begin)
    try:
        receipt = await receive_whole_body(
            request, appender, length,
            lambda digest: service.finish_submission(upload_id, digest))
    except BodyInterrupted as exc:
        await in_thread_shielded(service.discard_upload, upload_id)
        raise interrupted(exc, "nothing was stored") from None
    except BaseException:
        await in_thread_shielded(service.discard_upload, upload_id)
        raise
    return _receipt(receipt)


@router.post("/uploads", status_code=201, response_model=UploadOut,
             responses={503: json_error_schema()})
def create_upload(service: ServiceDep, response: Response, work: WorkHeader = None
                  ) -> UploadOut:
    """Start a resumable upload. Append with PATCH at the current offset, then finish."""
    service.admit_anonymous_write(work)
    upload = service.create_upload()
    response.headers["Location"] = f"/api/v1/uploads/{upload.id}"
    response.headers[UPLOAD_OFFSET] = str(upload.offset)
    return UploadOut(upload_id=upload.id, offset=upload.offset,
                     max_bytes=service.limits.max_submission_bytes)


@router.head("/uploads/{upload_id}", responses={404: json_error_schema()})
def upload_offset_head(upload_id: str, service: ServiceDep) -> Response:
    """The upload's current offset, in the Upload-Offset header."""
    record = service.upload_status(upload_id)
    return Response(status_code=200, headers={UPLOAD_OFFSET: str(record.offset)})


@router.get("/uploads/{upload_id}", response_model=UploadOut,
            responses={404: json_error_schema()})
def upload_status(upload_id: str, service: ServiceDep, response: Response) -> UploadOut:
    """The upload's current offset (also in the Upload-Offset header)."""
    record = service.upload_status(upload_id)
    response.headers[UPLOAD_OFFSET] = str(record.offset)
    return UploadOut(upload_id=record.id, offset=record.offset,
                     max_bytes=service.limits.max_submission_bytes)


@router.patch("/uploads/{upload_id}", response_model=UploadOut,
              openapi_extra=SEALED_BODY, responses=ERRORS)
async def append_upload(
    upload_id: str,
    request: Request,
    service: ServiceDep,
    response: Response,
    upload_offset: Annotated[int, Header(alias=UPLOAD_OFFSET, ge=0,
                                         le=2**62)],
) -> UploadOut:
    """Append the body at ``Upload-Offset`` (must equal the current offset). Bytes that
    arrive before a connection drops are kept; ask for the offset and continue."""
    length = declared_length(request)
    appender = await in_thread_shielded(
        lambda: service.begin_append(upload_id, upload_offset, length))
    try:
        last = await stream_body(request, appender, keep_last=True)
    except BodyInterrupted as exc:
        await in_thread_shielded(appender.commit)
        raise interrupted(exc, "ask for the offset and resume") from None
    except BaseException:
        await in_thread_shielded(appender.abort)
        raise
    offset = await anyio.to_thread.run_sync(write_and_commit, appender, last)
    response.headers[UPLOAD_OFFSET] = str(offset)
    return UploadOut(upload_id=upload_id, offset=offset,
                     max_bytes=service.limits.max_submission_bytes)


@router.post("/uploads/{upload_id}/finish", status_code=201, response_model=ReceiptOut,
             responses=ERRORS)
def finish_upload(upload_id: str, service: ServiceDep) -> ReceiptOut:
    """Check and store the complete sealed file; answer with its id and receipt. A file
    that fails the checks is deleted."""
    return _receipt(service.finish_submission(upload_id))


@router.delete("/uploads/{upload_id}", status_code=204, responses={404: json_error_schema()})
def delete_upload(upload_id: str, service: ServiceDep) -> Response:
    """Abandon an upload."""
    service.abandon_upload(upload_id)
    return Response(status_code=204)


def _secret(service: VaultService, header_value: str | None) -> bytes:
    if header_value is None:
        raise ApiError(400, f"send the mailbox secret in the {MAILBOX_SECRET_HEADER} header")
    return decode_mailbox_secret(header_value)


MailboxHeader = Annotated[str | None, Header(alias=MAILBOX_SECRET_HEADER,
                                             description="mailbox secret, lowercase hex")]


@router.get("/mailbox", response_model=MailboxOut, responses=ERRORS)
def list_replies_header(service: ServiceDep, secret: MailboxHeader = None) -> MailboxOut:
    """Replies waiting in the mailbox whose secret is in the Amanat-Mailbox-Secret header."""
    replies = service.replies(_secret(service, secret))
    return MailboxOut(replies=[_reply(r) for r in replies])


@router.post("/mailbox", response_model=MailboxOut, responses=ERRORS)
def list_replies_body(body: MailboxIn, service: ServiceDep) -> MailboxOut:
    """Replies waiting in the mailbox whose secret is in the JSON body."""
    replies = service.replies(decode_mailbox_secret(body.secret))
    return MailboxOut(replies=[_reply(r) for r in replies])


@router.get("/mailbox/replies/{reply_id}", response_class=StreamingResponse, responses={
    200: {"content": {"application/octet-stream": {"schema": {
        "type": "string", "format": "binary"}}}, "description": "the sealed reply"},
    **ERRORS})
def fetch_reply(reply_id: str, service: ServiceDep,
                secret: MailboxHeader = None) -> StreamingResponse:
    """One sealed reply; the mailbox secret goes in the Amanat-Mailbox-Secret header."""
    reply, src = service.open_reply(_secret(service, secret), reply_id)
    return StreamingResponse(file_chunks(src), media_type="application/octet-stream",
                             headers={"Content-Length": str(reply.size),
                                      "Amanat-Sha256": reply.sha256})


__all__ = ["ID_PATTERN", "router"]
