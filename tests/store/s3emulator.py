"""An S3 EMULATOR for the tests: moto's standalone server on 127.0.0.1.

No S3-compatible server (MinIO, Garage, Ceph RGW) installs on this kind of machine, so the S3
backend is tested against moto's emulator (``moto.server.ThreadedMotoServer``, port 0): an
emulator of S3's HTTP API, not a storage server. It honours ``If-None-Match: *`` on PUT
(412), ranges, listing and bulk deletes, which is what the backend relies on; it says nothing
about a real server's durability. Tests skip when moto is absent, unless
AMANAT_REQUIRE_S3_EMULATOR=1 (set by .ci/run), which makes absence a failure.
"""

from __future__ import annotations

import logging
import secrets
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from tests.support import _missing
from vault.store.s3blobs import S3Options

REQUIRE = "AMANAT_REQUIRE_S3_EMULATOR"
# The emulator accepts any keys; these stand for real ones (never a real secret).
EMULATOR_ENV = {"AWS_ACCESS_KEY_ID": "emulator-key-id",
                "AWS_SECRET_ACCESS_KEY": "emulator-secret-key",
                "AWS_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Emulator:
    endpoint: str

    def new_bucket(self) -> str:
        """A fresh, empty bucket (one per test: nothing is shared between tests)."""
        name = f"amanat-test-{secrets.token_hex(6)}"
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        return name

    def options(self, bucket: str | None = None, prefix: str = "vault") -> S3Options:
        bucket = bucket or self.new_bucket()
        return S3Options(f"s3://{bucket}/{prefix}", endpoint=self.endpoint, region="us-east-1",
                         path_style=True)


def start_emulator() -> Iterator[S3Emulator]:
    """Run the emulator for the duration of the generator; skip (or fail) without moto."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        _missing("moto's S3 emulator (moto[s3], flask)", REQUIRE)
        raise AssertionError("unreachable") from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Emulator(f"http://{host}:{port}")
    finally:
        server.stop()
