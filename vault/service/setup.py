"""Opening a vault data directory: the log key, the audit log, the store, the pinned org key,
and the throwaway organization of ``amanat serve --dev``.

Protects: the log key that signs every checkpoint is created once, kept 0600 in the data
directory and never printed (only its verifier key is); the organization key a data directory
was started with is remembered, so a later start cannot silently accept rosters from another
organization; development keys are written only under ``dev/`` and labelled DEV ONLY.

Layout of a data directory (mode 0700)::

    log.key            the audit log's signed-note private key (0600)
    org.vkey           the pinned organization verifier key
    vault.sqlite3      metadata (store), with -wal / -shm beside it
    store.url          instead, with --store: the PostgreSQL database holding the metadata
                       and the audit log (no password); an embedded start is then refused
    auditlog.sqlite3   the audit log
    control.sock       while a server runs: where ``amanat backup`` asks it for a snapshot
    snapshots/         while a backup runs: its copies of the databases (vault/store/backup.py)
    blobs/             sealed submissions and replies
    uploads/           resumable uploads in progress
    quarantine/        sealed files found without a database row, kept (never served)
    blobs.url          only with --blobs: the bucket holding blobs/, uploads/ and quarantine/
                       instead (vault/store/s3blobs.py); a start without it is refused
    dev/               only with --dev: throwaway org key, investigator identity, roster
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keys.errors import VerifierKeyError
from keys.org import CLASSICAL_PREFIX, parse_org_vkey
from vault.service.auth import SECRET_BYTES, Authenticator, SpentChallenges
from vault.service.consistency import Reconciliation
from vault.service.room import EmergencyRoom
from vault.service.service import Limits, VaultService
from vault.service.work import SharedWrites
from vault.store import (
    NAMESPACES,
    STORE_URL_FILE,
    DataDirBusyError,
    Store,
    StoreError,
    is_valid_id,
    open_store,
    refuse_embedded_open,
    remembered_store_url,
)
from vault.store.auditlog import AuditLog
from vault.store.backup import AUDIT_LOG_FILE as AUDIT_LOG_FILE
from vault.store.backup import AUTH_SECRET_FILE as AUTH_SECRET_FILE
from vault.store.backup import LOG_KEY_FILE as LOG_KEY_FILE
from vault.store.backup import ORG_VKEY_FILE as ORG_VKEY_FILE
from vault.store.backup import ControlServer, take_snapshot
from vault.store.s3blobs import S3Options
from vault.store.sqlite import DATABASE_NAME as DATABASE_FILE
from vault.tlog import note

if TYPE_CHECKING:
    from vault.store.pglog import PostgresAuditLog

DEV_DIR = "dev"
DEV_PASSPHRASE_WORDS = 4

logger = logging.getLogger("amanat.store")


class SetupError(Exception):
    """The data directory cannot be used as asked (message says how to fix it)."""


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def prepare_data_dir(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)


def load_or_create_log_key(data_dir: Path, *, upgrade: bool = False
                           ) -> tuple[note.HybridSigner, bool]:
    """The log's signer, created hybrid (Ed25519 + ML-DSA-44) on first use; the bool says
    whether its public form is new. An older Ed25519-only key opens as it is, and is given
    its ML-DSA-44 half only when ``upgrade`` says so (`amanat serve --upgrade-log-key`;
    the roster's log line must then name the new form: `amanat roster set-log`)."""
    path = data_dir / LOG_KEY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise SetupError(f"{path} is readable by others: chmod 600 it")
        try:
            signer = note.HybridSigner.from_private_key_string(path.read_text("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            raise SetupError(f"{path} is not a log key") from None
        if signer.post_quantum is not None or not upgrade:
            return signer, False
        signer = signer.with_post_quantum_half()  # the Ed25519 half, and the log, go on
    else:
        signer = note.HybridSigner.generate(f"amanat-log-{secrets.token_hex(4)}")
    _write_private(path, (signer.private_key_string() + "\n").encode("ascii"))
    return signer, True


def load_or_create_auth_secret(data_dir: Path) -> bytes:
    """The secret that makes login challenges unforgeable (vault.service.auth), created on
    first start, readable by the server's user only."""
    path = data_dir / AUTH_SECRET_FILE
    if not path.exists():
        _write_private(path, secrets.token_bytes(SECRET_BYTES))
    if path.stat().st_mode & 0o077:
        raise SetupError(f"{path} is readable by others: chmod 600 it")
    secret = path.read_bytes()
    if len(secret) != SECRET_BYTES:
        raise SetupError(f"{path} is not a {SECRET_BYTES}-byte secret: remove it to make "
                         "a new one (investigators then log in again)")
    return secret


def pin_org_vkey(data_dir: Path, org_vkey: str | None) -> str | None:
    """The org key this data directory serves: the one given (remembered on first use), or
    the remembered one. Refuses a different key than the one remembered."""
    path = data_dir / ORG_VKEY_FILE
    remembered = path.read_text("ascii").strip() if path.exists() else None
    if org_vkey is not None:
        try:
            given = parse_org_vkey(org_vkey)
        except VerifierKeyError as exc:
            raise SetupError(f"--org: {exc}") from None
        # The same organization keeps its Ed25519 half when it makes its key hybrid.
        if remembered is not None and (
                parse_org_vkey(remembered).key.classical != given.key.classical):
            raise SetupError(
                f"this data directory serves the organization {remembered}; "
                f"remove {path} to switch organizations"
            )
        if remembered != org_vkey:
            _write_private(path, (org_vkey + "\n").encode("ascii"))
        return served_org_pin(org_vkey)
    return None if remembered is None else served_org_pin(remembered)


def served_org_pin(org_vkey: str) -> str:
    """The pin the server judges rosters by (and gives its page): an Ed25519-only
    organization key, from a deployment older than ML-DSA-44, is served under the classical
    policy (``classical <vkey>``), which `amanat serve` says at start."""
    pin = parse_org_vkey(org_vkey)
    return org_vkey if pin.key.is_hybrid or pin.classical else CLASSICAL_PREFIX + org_vkey


def _holds_local_blobs(data_dir: Path) -> bool:
    for place in ("blobs", "quarantine"):
        for namespace in NAMESPACES:
            directory = data_dir / place / namespace
            if directory.is_dir() and any(is_valid_id(e.name[:32]) for e in os.scandir(directory)):
                return True
    return False


def open_data_store(data_dir: Path, blobs: S3Options | None = None,
                    store_dsn: str | None = None) -> Store:
    """The store of ``data_dir``, its sealed files in it or at ``blobs``, its records in
    it or in the PostgreSQL database ``store_dsn``. The first start with ``blobs``
    remembers the bucket in ``blobs.url``; later starts must name the same one, and a data
    directory that already holds sealed files is not switched to a bucket (its files would
    look missing). SetupError says what to do."""
    from vault.store.s3blobs import connect, parse_blobs_url
    from vault.store.sqlite import BLOBS_URL_FILE, EmbeddedStore, remembered_blobs_url

    if store_dsn is not None:
        pin_store(data_dir, store_dsn)
    try:
        if blobs is None:
            if store_dsn is not None and (kept := remembered_blobs_url(data_dir)) is not None:
                raise SetupError(f"the sealed files of {data_dir} are kept at {kept}: give "
                                 f"--blobs {kept}")
            return open_store(store_dsn or data_dir, blobs=data_dir)
        bucket, prefix = parse_blobs_url(blobs.url)
        url = f"s3://{bucket}/{prefix}".rstrip("/")
        remembered = remembered_blobs_url(data_dir)
        if remembered is not None and remembered != url:
            raise SetupError(f"the sealed files of this data directory are kept at "
                             f"{remembered}, not {url}: give --blobs {remembered}")
        if remembered is None and _holds_local_blobs(data_dir):
            raise SetupError("this data directory already keeps sealed files in its own "
                             "blobs/ directory: it cannot switch to --blobs")
        if store_dsn is not None:
            from vault.store.postgres import open_postgres_store

            store: Store = open_postgres_store(store_dsn, data_dir, connect(blobs))
        else:
            store = EmbeddedStore(data_dir, connect(blobs))
        if remembered is None:
            _write_private(data_dir / BLOBS_URL_FILE, (url + "\n").encode("utf-8"))
        return store
    except DataDirBusyError:
        raise
    except StoreError as exc:
        raise SetupError(str(exc)) from None


def pin_store(data_dir: Path, store_dsn: str) -> None:
    """Tie ``data_dir`` to the PostgreSQL database its metadata lives in (``store.url``,
    without password), so an embedded start on it is refused; refuse a data directory of an
    embedded vault, or one tied to a database of another name: its sealed files would all
    look unrecorded there (and be moved to quarantine)."""
    from vault.store.postgres import safe_dsn

    url = safe_dsn(store_dsn)
    if (data_dir / DATABASE_FILE).exists():
        raise SetupError(f"{data_dir} holds an embedded vault ({DATABASE_FILE}); its records "
                         "are not in PostgreSQL: serve it without --store")
    remembered = remembered_store_url(data_dir)
    if remembered is None:
        _write_private(data_dir / STORE_URL_FILE, (url + "\n").encode("utf-8"))
    elif remembered.rsplit("/", 1)[-1] != url.rsplit("/", 1)[-1]:
        raise SetupError(f"{data_dir} keeps its records in {remembered}, not in {url}; if "
                         f"the database was renamed, write its address into {STORE_URL_FILE}")


@dataclass(frozen=True)
class DevSetup:
    """What ``--dev`` created: print these for the person trying amanat out."""

    org_vkey: str
    identity_path: Path
    roster_path: Path
    passphrase_path: Path  # the passphrase itself is never printed: it would reach logs
    key_id: str


def dev_passphrase() -> str:
    """A fresh passphrase for the dev keys: 64 random bits, strong enough for
    ``keys.passphrase`` (tests hold it to the same check as one a person chooses)."""
    return "dev-only-" + "-".join(secrets.token_hex(2) for _ in range(DEV_PASSPHRASE_WORDS))


def create_dev_org(data_dir: Path, log_vkey: str) -> DevSetup:
    """A throwaway organization, one admin+reader investigator and a roster naming the log.

    DEV ONLY: the org key's passphrase and the investigator's passphrase are the same
    words, kept in ``data_dir/dev/passphrase.txt`` (0600) with everything else. Reuses what a
    previous ``--dev`` start created.
    """
    from keys.identity import InvestigatorIdentity
    from keys.keyfile import KdfParams
    from keys.org import OrgKey
    from keys.roster import (
        DEFAULT_VALIDITY_DAYS,
        ROLE_ADMIN,
        ROLE_READER,
        Roster,
        expiry_after,
        sign_roster,
    )

    dev = data_dir / DEV_DIR
    dev.mkdir(mode=0o700, exist_ok=True)
    info = dev / "README-DEV-ONLY.txt"
    pass_file = dev / "passphrase.txt"
    org_file = dev / "org.key"
    identity_file = dev / "investigator.identity"
    roster_file = dev / "roster.txt"
    # Cheap Argon2 parameters: these keys protect nothing real and must open quickly.
    fast = KdfParams(memory_kib=8 * 1024, iterations=1, parallelism=1)
    if pass_file.exists():
        passphrase = pass_file.read_text("utf-8").strip()
        org = OrgKey.unseal(org_file.read_bytes(), passphrase)
        identity = InvestigatorIdentity.unseal(identity_file.read_bytes(), passphrase)
        return DevSetup(org.vkey(), identity_file, roster_file, pass_file, identity.key_id)
    passphrase = dev_passphrase()
    org = OrgKey.generate("dev-only.amanat.invalid")
    identity = InvestigatorIdentity.generate("Dev Investigator")
    roster = Roster.empty(org.origin).with_added([identity.card()], (ROLE_ADMIN, ROLE_READER))
    roster = roster.with_log(log_vkey).with_expiry(expiry_after(DEFAULT_VALIDITY_DAYS))
    _write_private(org_file, org.seal(passphrase, fast))
    _write_private(identity_file, identity.seal(passphrase, fast))
    _write_private(roster_file, sign_roster(roster, *org.signers()).encode("utf-8"))
    _write_private(pass_file, (passphrase + "\n").encode("utf-8"))
    _write_private(info, (
        b"DEV ONLY. Created by `amanat serve --dev`: a throwaway organization key, one\n"
        b"investigator identity and a signed roster, all protected by the passphrase in\n"
        b"passphrase.txt. Never use these for real testimony.\n"))
    return DevSetup(org.vkey(), identity_file, roster_file, pass_file, identity.key_id)


@dataclass(frozen=True)
class OpenedVault:
    service: VaultService
    log_signer_created: bool
    dev: DevSetup | None
    control: ControlServer | None = None

    def close(self) -> None:
        """Stop answering backups, then close the service."""
        if self.control is not None:
            self.control.close()
        self.service.close()


@contextlib.contextmanager
def _setting_up(data_dir: Path, store_dsn: str | None) -> Iterator[None]:
    """Workers sharing a data directory (a PostgreSQL store) set it up one at a time, so two
    starting together do not each create a log key. The embedded store holds the directory
    for the whole run instead (vault/store/sqlite.py)."""
    if store_dsn is None:
        yield
        return
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def open_vault(
    data_dir: Path,
    *,
    store_dsn: str | None = None,
    org_vkey: str | None = None,
    dev: bool = False,
    limits: Limits | None = None,
    challenge_ttl: float = 60.0,
    token_ttl: float = 900.0,
    allow_missing: bool = False,
    upgrade_log_key: bool = False,
    servers: Sequence[str] = (),
    control: bool = False,
    blobs: S3Options | None = None,
    classical_logins: bool = False,
) -> OpenedVault:
    """Open (creating on first start) everything a server needs in ``data_dir``; logins are
    accepted only when signed for one of ``servers`` (the addresses it is reachable at).

    Refuses (SetupError) a store that lost something its log records (an older
    vault.sqlite3, a row deleted by hand), naming each difference on the ``amanat.store``
    logger first; ``allow_missing`` opens it anyway, the differences still printed.
    ``control``: answer ``amanat backup`` on the data directory's control socket (only
    when the sealed files are in the data directory). ``blobs``: keep them in object storage.
    ``classical_logins``: accept Ed25519-only logins from classical roster entries
    (vault.service.auth).
    ``store_dsn``: keep metadata, login state and the audit log in that PostgreSQL database
    instead (vault/store/postgres.py); ``data_dir`` then holds the keys (and the sealed
    files, without ``blobs``) and may be shared by several workers.
    """
    prepare_data_dir(data_dir)
    with _setting_up(data_dir, store_dsn):
        return _open_vault(data_dir, store_dsn, org_vkey, dev, limits, challenge_ttl,
                           token_ttl, allow_missing, servers, control, blobs, upgrade_log_key,
                           classical_logins)


def _open_audit_log(data_dir: Path, store_dsn: str | None,
                    signer: note.HybridSigner) -> AuditLog | PostgresAuditLog:
    if store_dsn is not None:
        from vault.store.pglog import PostgresAuditLog

        return PostgresAuditLog(store_dsn, signer, signer.name)
    log_path = data_dir / AUDIT_LOG_FILE
    if not log_path.exists():
        os.close(os.open(log_path, os.O_WRONLY | os.O_CREAT, 0o600))
    return AuditLog(log_path, signer, signer.name)


def _open_vault(
    data_dir: Path, store_dsn: str | None, org_vkey: str | None, dev: bool,
    limits: Limits | None, challenge_ttl: float, token_ttl: float, allow_missing: bool,
    servers: Sequence[str], control: bool, blobs: S3Options | None, upgrade_log_key: bool,
    classical_logins: bool,
) -> OpenedVault:
    from vault.store.backup import Snapshot
    from vault.store.blobs import BlobDirectory
    from vault.store.sqlite import EmbeddedStore

    # First: the store holds the directory, so a second server stops here, changing nothing;
    # and a data directory (or database) of a newer release is refused before anything is
    # written.
    store = open_data_store(data_dir, blobs, store_dsn)
    try:
        signer, created = load_or_create_log_key(data_dir, upgrade=upgrade_log_key)
        dev_setup: DevSetup | None = None
        if dev:
            dev_setup = create_dev_org(data_dir, signer.vkey())
            if org_vkey is not None and org_vkey != dev_setup.org_vkey:
                raise SetupError("--dev makes its own organization; do not combine it with --org")
            org_vkey = dev_setup.org_vkey
        org_vkey = pin_org_vkey(data_dir, org_vkey)
        audit_log = _open_audit_log(data_dir, store_dsn, signer)
        # Several workers on one database: a login challenge is spent once across them.
        spent = store if isinstance(store, SpentChallenges) else None
        service = VaultService(
            store, audit_log, signer.vkey(), org_vkey, limits=limits,
            authenticator=Authenticator(
                signer.vkey(), secret=load_or_create_auth_secret(data_dir), tokens=store,
                spent=spent, servers=servers, challenge_ttl=challenge_ttl,
                token_ttl=token_ttl, classical_logins=classical_logins),
            room=EmergencyRoom(data_dir),
            shared=store if isinstance(store, SharedWrites) else None,
        )
        service.recover()
        report = service.reconcile()
        for problem in report.problems:
            logger.error("%s", problem)
        if not report.consistent and not allow_missing:
            service.close()
            raise SetupError(report.refusal())
        if dev_setup is not None and store.current_roster() is None:
            service.publish_roster(dev_setup.roster_path.read_text("utf-8"))
        control_server = None
        if (control and isinstance(store, EmbeddedStore) and isinstance(store.blobs, BlobDirectory)
                and isinstance(audit_log, AuditLog)):
            embedded, embedded_log = store, audit_log
            # A roster is logged, then stored: the snapshot holds the roster lock too, so it
            # never falls between the two (vault/store/backup.py).
            roster_lock = service._roster_lock

            def snapshot() -> Snapshot:
                return take_snapshot(embedded, embedded_log.backup_to, hold=(roster_lock,))

            try:
                control_server = ControlServer(embedded, snapshot)
            except OSError as exc:  # a file system without Unix sockets: serve anyway
                logger.warning("`amanat backup` cannot reach this server (cannot create "
                               "%s: %s): stop it to back up", "control.sock",
                               exc.strerror or type(exc).__name__)
    except BaseException:
        store.close()
        raise
    return OpenedVault(service, created, dev_setup, control_server)


def check_data_dir(data_dir: Path, *, repair: bool = False, blobs: S3Options | None = None,
                   store_dsn: str | None = None,
                   ) -> tuple[list[str], Reconciliation]:
    """What ``amanat fsck`` does on a stopped server's data directory: what a start does
    (log what a crash left unlogged, quarantine sealed files with no row, finish logged
    deletions), with ``repair`` first reinstating logged submissions whose kept sealed file
    matches their entry; then what only fsck does: recompute the whole tree against every
    signed checkpoint, and read every held sealed file against its log entry (SHA-256 and
    size). Returns the lines of what was done and what still differs from the log.
    LogCorruptedError when the log itself does not hold."""
    from vault.service.consistency import read_holdings, verify_contents

    if store_dsn is None:
        refuse_embedded_open(data_dir)  # its records are in PostgreSQL: say so
    log_file = AUDIT_LOG_FILE if store_dsn is None else LOG_KEY_FILE
    if not (data_dir / LOG_KEY_FILE).exists() or not (data_dir / log_file).exists():
        raise SetupError(f"{data_dir} is not a vault data directory (no {LOG_KEY_FILE} or "
                         f"{AUDIT_LOG_FILE})")
    signer, _ = load_or_create_log_key(data_dir)
    store = open_data_store(data_dir, blobs, store_dsn)
    try:
        audit_log = _open_audit_log(data_dir, store_dsn, signer)
    except BaseException:
        store.close()
        raise
    service = VaultService(store, audit_log, signer.vkey(), None)
    try:
        audit_log.verify_storage()
        service.recover()
        done = service.reinstate() if repair else []
        report = service.reconcile()
        verify_contents(store, read_holdings(audit_log), report)
        return done, report
    finally:
        service.close()
