"""Server settings, from flags and ``AMANAT_*`` environment variables.

Flags win over the environment, the environment over the defaults. Sizes are bytes. The
defaults keep one server safe to run on a small machine: 2 GiB per submission, 16 MiB per
reply, 1 MiB per roster.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vault.service.auth import is_loopback_host, loopback_origins, server_origin
from vault.service.service import Limits
from vault.service.staging import reserve_for, total_bytes
from vault.service.work import MAX_BITS as MAX_WORK_BITS
from vault.store import is_postgres_dsn
from vault.store.s3blobs import S3Options

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value the server cannot use (names the setting)."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("amanat-data")
    # Metadata, login state and the audit log in PostgreSQL (AMANAT_STORE, a
    # postgresql:// DSN) instead of SQLite files in data_dir, which then keeps the keys and
    # sealed files and may be shared by several workers. Never printed: it may hold a
    # password (vault/store/postgres.py ``safe_dsn``).
    store: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    org_vkey: str | None = None
    # The addresses investigators reach this server at (AMANAT_PUBLIC_URLS: separated by
    # spaces); see `login_servers`.
    public_urls: tuple[str, ...] = ()
    dev: bool = False
    allow_missing: bool = False
    # Give an Ed25519-only log key (older data directory) its ML-DSA-44 half on this start.
    upgrade_log_key: bool = False
    # The classical login policy (AMANAT_CLASSICAL_LOGINS): investigators whose roster entry
    # lists only an Ed25519 auth key may log in with Ed25519 alone, a login a future quantum
    # computer could forge. Off: they are refused until they upgrade their keys.
    classical_logins: bool = False
    max_submission_bytes: int = 2 * GIB
    max_reply_bytes: int = 16 * MIB
    max_roster_bytes: int = 1 * MIB
    upload_ttl_hours: int = 24
    max_open_uploads: int = 1000
    max_staged_bytes: int = 16 * GIB
    upload_idle_seconds: float = 600.0
    upload_evict_seconds: float = 60.0
    # The storage reserve: anonymous writes stop (507) while less than the larger of these
    # is free on the data directory's filesystem; 0 quota: none.
    min_free_bytes: int = 1 * GIB
    min_free_percent: float = 5.0
    max_stored_bytes: int = 0
    challenge_ttl_seconds: float = 60.0
    token_ttl_seconds: float = 900.0
    sweep_interval_seconds: float = 60.0
    body_idle_seconds: float = 120.0
    # Connections and requests (api/deadlines.py): a request head within header_seconds, a
    # body bringing body_min_bytes in every body_window_seconds, a JSON body whole within
    # small_body_seconds, at most max_connections connections at once (the longest-silent
    # one gives way to a new one).
    header_seconds: float = 10.0
    keep_alive_seconds: int = 5
    body_window_seconds: float = 30.0
    body_min_bytes: int = 8192
    small_body_seconds: float = 30.0
    max_connections: int = 256
    # Proof of work for anonymous writes (vault/service/work.py): asked past this many
    # admitted writes per second (0: never for the rate), and never easier than
    # work_min_bits (an operator's floor during an attack; at most 20).
    work_quiet_rate: float = 2.0
    work_min_bits: int = 0
    # How long a submission's receipt waits for cosignatures before it is given without
    # them (0: never waits; vault/service/cosigning.py).
    cosign_wait_seconds: float = 2.0
    # The built witness page to serve at / (api/static when None; AMANAT_WEB_DIR).
    web_dir: Path | None = None
    # The proxy the server reaches the roster's cosigners through (e.g.
    # socks5h://127.0.0.1:9050 for cosigners on onion addresses; none: directly).
    cosigner_proxy: str | None = None
    # Sealed files in S3-compatible object storage instead of the data directory
    # (vault/store/s3blobs.py): s3://BUCKET/PREFIX, and how to reach it. Credentials come
    # from the AWS_* environment or s3_credentials_file, never from a setting.
    blobs: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_path_style: bool = False
    s3_ca_file: Path | None = None
    s3_credentials_file: Path | None = None

    def __post_init__(self) -> None:
        for name in ("max_submission_bytes", "max_reply_bytes", "max_roster_bytes",
                     "upload_ttl_hours", "max_open_uploads", "max_staged_bytes",
                     "keep_alive_seconds", "max_connections"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"{name} must be at least 1")
        for name in ("challenge_ttl_seconds", "token_ttl_seconds", "sweep_interval_seconds",
                     "body_idle_seconds", "upload_idle_seconds",
                     "upload_evict_seconds", "header_seconds", "body_window_seconds",
                     "small_body_seconds"):
            if float(getattr(self, name)) <= 0:
                raise SettingsError(f"{name} must be positive")
        for name in ("min_free_bytes", "max_stored_bytes", "body_min_bytes",
                     "work_quiet_rate", "work_min_bits", "cosign_wait_seconds"):
            if float(getattr(self, name)) < 0:
                raise SettingsError(f"{name} must be 0 or more")
        if self.work_min_bits > MAX_WORK_BITS:
            raise SettingsError(f"work_min_bits must be at most {MAX_WORK_BITS}")
        if not 0 <= self.min_free_percent <= 50:
            raise SettingsError("min_free_percent must be between 0 and 50")
        if not 0 <= self.port <= 65535:
            raise SettingsError("port must be between 0 and 65535")
        if self.cosigner_proxy is not None and not self.cosigner_proxy.startswith(
                ("socks5h://", "socks5://", "http://")):
            raise SettingsError("cosigner_proxy is socks5h://HOST:PORT (or socks5://, http://)")
        if self.store is not None and not is_postgres_dsn(self.store):
            raise SettingsError("--store must be a postgresql:// address (AMANAT_STORE); "
                                "leave it out for the embedded store in --data")
        for url in self.public_urls:
            try:
                server_origin(url)
            except ValueError as exc:
                raise SettingsError(f"--public-url: {exc}") from None
        if self.blobs is None and self.s3_endpoint is not None:
            raise SettingsError("--s3-endpoint is for --blobs s3://BUCKET/PREFIX: give both")

    def blob_storage(self) -> S3Options | None:
        """Where sealed files go when not in the data directory."""
        if self.blobs is None:
            return None
        return S3Options(self.blobs, endpoint=self.s3_endpoint, region=self.s3_region,
                         path_style=self.s3_path_style, ca_file=self.s3_ca_file,
                         credentials_file=self.s3_credentials_file)

    def login_servers(self) -> tuple[str, ...]:
        """The addresses logins are accepted for: the configured public URLs, or, with none
        and a loopback listen address, this machine's own names for it. A server listening
        elsewhere must be told its addresses: it cannot learn them from a request, whose
        Host header a relaying look-alike server chooses."""
        if self.public_urls:
            return tuple(dict.fromkeys(server_origin(url) for url in self.public_urls))
        if is_loopback_host(self.host):
            return loopback_origins(self.port)
        raise SettingsError(
            f"--host {self.host} is not loopback: give --public-url URL (or "
            "AMANAT_PUBLIC_URLS), each address investigators reach this server at, for "
            "example http://<address>.onion; logins made for any other address are refused")

    def limits(self) -> Limits:
        return Limits(
            max_submission_bytes=self.max_submission_bytes,
            max_reply_bytes=self.max_reply_bytes,
            max_roster_bytes=self.max_roster_bytes,
            upload_ttl_hours=self.upload_ttl_hours,
            max_open_uploads=self.max_open_uploads,
            max_staged_bytes=self.max_staged_bytes,
            upload_idle_seconds=self.upload_idle_seconds,
            upload_evict_seconds=self.upload_evict_seconds,
            reserve_bytes=self.reserve_bytes(),
            max_stored_bytes=self.max_stored_bytes,
            work_quiet_rate=self.work_quiet_rate,
            work_min_bits=self.work_min_bits,
            cosign_wait_seconds=self.cosign_wait_seconds,
        )

    def reserve_bytes(self) -> int:
        """The free space kept for the log, reads, deletions and replies: the larger of
        ``min_free_bytes`` and ``min_free_percent`` of the data directory's filesystem."""
        place = self.data_dir.absolute()
        while not place.exists() and place != place.parent:
            place = place.parent
        return reserve_for(total_bytes(place), self.min_free_bytes, self.min_free_percent)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``AMANAT_<NAME>`` variables (e.g. ``AMANAT_DATA_DIR``,
        ``AMANAT_MAX_SUBMISSION_BYTES``), then ``overrides`` (None values are ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("AMANAT_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw, cls.__dataclass_fields__[f.name].default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("data_dir", "web_dir", "s3_ca_file", "s3_credentials_file"):
            if name in values:
                values[name] = Path(values[name])
        return replace(cls(), **values)


def _convert(name: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("0", "1", "true", "false", "yes", "no"):
                raise ValueError
            return raw.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(raw.split())
    except ValueError:
        raise SettingsError(f"AMANAT_{name.upper()} is not a valid value") from None
    if isinstance(default, Path):
        return Path(raw)
    return raw
