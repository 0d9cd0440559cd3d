"""Pydantic models of the JSON the API sends and accepts (only here, at the HTTP edge)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
ID_PATTERN = r"^[0-9a-f]{32}$"
MAILBOX_ID_PATTERN = r"^[0-9a-f]{64}$"
SECRET_PATTERN = r"^(?:[0-9a-f]{2}){16,128}$"  # noqa: S105 - a pattern
B64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"
MLDSA44_SIGNATURE_B64 = 3228  # characters of standard base64 for 2420 bytes


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Strict):
    error: str


class ReceiptOut(Strict):
    """A finished submission: its id, its audit-log entry and a C2SP tlog-proof receipt that
    proves the entry is in the log."""

    id: str = Field(pattern=ID_PATTERN)
    sha256: str
    size: int
    received: str = Field(description="hour the submission arrived (YYYY-MM-DDTHH:00Z)")
    log_index: int
    entry: str = Field(description="the canonical event text logged for this submission")
    receipt: str


class UploadOut(Strict):
    upload_id: str = Field(pattern=ID_PATTERN)
    offset: int
    max_bytes: int


class SubmissionOut(Strict):
    id: str
    sha256: str
    size: int
    received: str = Field(description="hour the submission arrived (YYYY-MM-DDTHH:00Z)")
    log_index: int


class SubmissionPage(Strict):
    submissions: list[SubmissionOut]
    next_cursor: str | None


class DeletedOut(Strict):
    id: str
    log_index: int


class ChallengeIn(Strict):
    key_id: str = Field(pattern=KEY_ID_PATTERN)


class ChallengeOut(Strict):
    challenge: str = Field(description="base64 of 32 random bytes")
    expires_in: float
    message_format: str = Field(description="what to sign (see vault.service.auth)")


class TokenIn(Strict):
    key_id: str = Field(pattern=KEY_ID_PATTERN)
    challenge: str = Field(max_length=64, pattern=B64_PATTERN)
    signature: str = Field(max_length=128, pattern=B64_PATTERN,
                           description="Ed25519 signature of the login message, base64")
    signature_mldsa: str | None = Field(
        default=None, min_length=MLDSA44_SIGNATURE_B64, max_length=MLDSA44_SIGNATURE_B64,
        pattern=B64_PATTERN,
        description="ML-DSA-44 signature (2420 bytes) of the same message, base64; required "
                    "from an investigator whose roster entry lists an ML-DSA-44 auth key")
    server: str | None = Field(
        default=None, max_length=300,
        description="the address the client connected to, scheme://host:port, as signed; "
                    "required (a login without it comes from an outdated client: 401)")


class TokenOut(Strict):
    token: str
    token_type: str = "bearer"  # noqa: S105 - the scheme name
    expires_in: float


class MailboxIn(Strict):
    secret: str = Field(pattern=SECRET_PATTERN, description="mailbox secret, lowercase hex")


class ReplyOut(Strict):
    id: str
    sha256: str
    size: int
    received: str
    log_index: int


class MailboxOut(Strict):
    replies: list[ReplyOut]


class RosterOut(Strict):
    version: int


class HashesOut(Strict):
    hashes: list[str] = Field(description="base64 SHA-256 node hashes")


class InclusionOut(HashesOut):
    index: int
    size: int


class ConsistencyOut(HashesOut):
    old: int
    new: int


class EntriesOut(Strict):
    start: int
    entries: list[str] = Field(description="base64 of each entry's bytes")


class HeldOut(Strict):
    start: int
    end: int = Field(description="the answer covers log entries start to end (exclusive)")
    held: list[str] = Field(description="ids of the submissions logged in the range whose "
                                        "sealed file the server holds")


class WorkOut(BaseModel):
    seed: str = Field(description="base64 of the 40-byte seed")
    bits: int = Field(description="leading zero bits the solution's SHA-256 needs; 0: none")
    expires_in: int = Field(description="seconds the seed stays valid")
