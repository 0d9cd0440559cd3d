"""A process the blob-backend crash tests SIGKILL mid-write (tests/store/test_blob_backends.py).

``python -m tests.store.blob_crash_child promote|append UPLOAD_ID`` opens the backend named
by the environment (``BLOB_TEST_DIR``: a blob directory; else ``BLOB_TEST_S3_URL`` and
``BLOB_TEST_S3_ENDPOINT``: the S3 emulator, keys from the AWS_* environment), prints
``ready`` and then promotes the staged upload to ``submissions/UPLOAD_ID``, or appends
``BLOB_TEST_APPEND_BYTES`` of the pattern in 64 KiB writes and commits.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vault.store import NAMESPACE_SUBMISSIONS
from vault.store.blobs import BlobBackend, BlobDirectory


def pattern(size: int) -> bytes:
    """Bytes whose every prefix is told apart from garbage (a counter, not zeros)."""
    block = bytes(range(251)) * (65536 // 251 + 1)
    return (block * (size // len(block) + 1))[:size]


def open_backend() -> BlobBackend:
    directory = os.environ.get("BLOB_TEST_DIR")
    if directory:
        return BlobDirectory(Path(directory))
    from vault.store import s3blobs

    if os.environ.get("BLOB_TEST_PART_BYTES"):
        s3blobs.PART_BYTES = int(os.environ["BLOB_TEST_PART_BYTES"])
    return s3blobs.connect(s3blobs.S3Options(
        os.environ["BLOB_TEST_S3_URL"], endpoint=os.environ["BLOB_TEST_S3_ENDPOINT"],
        region="us-east-1", path_style=True))


def main(mode: str, upload_id: str) -> None:
    backend = open_backend()
    print("ready", flush=True)
    if mode == "promote":
        backend.promote(upload_id, NAMESPACE_SUBMISSIONS, upload_id)
    else:
        size = int(os.environ["BLOB_TEST_APPEND_BYTES"])
        data = pattern(size)
        writer = backend.append_staged(upload_id, 0)
        for start in range(0, size, 65536):
            writer.write(data[start:start + 65536])
        writer.commit()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
