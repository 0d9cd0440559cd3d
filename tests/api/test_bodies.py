"""Request-body helpers (api/bodies.py): the declared Content-Length."""

from __future__ import annotations

from typing import Any

import pytest

from api.bodies import declared_length
from api.errors import ApiError


class _Request:
    def __init__(self, content_length: str | None) -> None:
        self.headers = {} if content_length is None else {"content-length": content_length}


def _length(value: str | None) -> Any:
    return declared_length(_Request(value))  # type: ignore[arg-type]


def test_declared_length() -> None:
    assert _length(None) is None
    assert _length("0") == 0
    assert _length("1048576") == 1048576
    for bad in ("", "-1", "+1", " 1", "1.0", "0x10", "1" * 20):
        with pytest.raises(ApiError) as caught:
            _length(bad)
        assert caught.value.status == 400


def test_fuzz_finding_non_ascii_digits_are_a_malformed_content_length() -> None:
    """Fuzzing (tests/fuzz http_headers) found that a Content-Length of digits other than
    ASCII ("²": str.isdigit() says yes; Starlette decodes header values as Latin-1) reached
    int() and raised ValueError, a 500, instead of the 400 for a malformed length."""
    for bad in ("\u00b2", "1\u00b3", "\u0663"):
        with pytest.raises(ApiError) as caught:
            _length(bad)
        assert caught.value.status == 400
