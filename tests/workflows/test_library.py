"""The workflow functions in-process, for the cases the end-to-end runs do not reach:
answers files that are not what they should be, neutral names, the decrypting stream's
errors, manifests without a reply address, and the progress line."""

from __future__ import annotations

import io
import json

import pytest

from vault import age
from vault.bundle import iter_bundle
from vault.cli.witness_cmd import ProgressBar, framed_codename, show_codename
from vault.investigator import (
    InvestigatorError,
    NotSealedToYouError,
    PlaintextStream,
    read_manifest,
    seal_reply,
)
from vault.testimony import Manifest
from vault.witness import FormError, WitnessError, build_manifest, neutral_name, read_form


@pytest.mark.parametrize(("data", "expected"), [
    (b"\xff\xfe", "not UTF-8"),
    (b"{not json", "not JSON"),
    (b'"persons"', "JSON object"),
    (json.dumps({"persons": [{"status": "camp", "gender": "x"}]}).encode(),
     "person 1: gender must be one of"),
])
def test_read_form_explains(data: bytes, expected: str) -> None:
    with pytest.raises(FormError) as caught:
        read_form(data)
    assert any(expected in problem for problem in caught.value.problems)


def test_read_form_checks_language_and_consent_too() -> None:
    with pytest.raises(FormError) as caught:
        read_form(b"[]", language="not a tag", consent="none")
    assert caught.value.problems[0].startswith("language must be")


def test_read_form_accepts_a_list_or_an_object() -> None:
    person = {"status": "released", "name_native": "ئابدۇرېھىم"}
    assert read_form(json.dumps([person]).encode()) == \
        read_form(json.dumps({"persons": [person]}).encode())


def test_neutral_names_carry_no_original_name() -> None:
    assert neutral_name(1, "image/jpeg") == "attachment-1.jpg"
    assert neutral_name(2, "application/pdf") == "attachment-2.pdf"
    assert neutral_name(3, "application/x-unknown-thing") == "attachment-3.bin"
    assert neutral_name(4, "audio/mpeg") == "attachment-4.mp3"


def test_build_manifest_refuses_bad_consent_and_language() -> None:
    with pytest.raises(WitnessError, match="consent must be one of"):
        build_manifest("x", consent="public")
    with pytest.raises(WitnessError, match="language"):
        build_manifest("x", language="??")


def _bundle(manifest: Manifest) -> bytes:
    return b"".join(iter_bundle(manifest, {}))


class _FakeIdentity:
    """Stands in for an InvestigatorIdentity: a name, a key id and an age identity."""

    def __init__(self) -> None:
        self.name = "Test Investigator"
        self.key_id = "0123456789abcdef"
        self._age = age.MLKEM768X25519Identity.generate()

    def age_identity(self) -> age.MLKEM768X25519Identity:
        return self._age


def test_plaintext_stream_reads_the_manifest_only() -> None:
    me = _FakeIdentity()
    manifest = Manifest(language="en", statement="s" * 300_000, publication_consent="none")
    sealed = age.encrypt_bytes(_bundle(manifest), [me.age_identity().recipient()])
    assert read_manifest(io.BytesIO(sealed), me) == manifest  # type: ignore[arg-type]


def test_plaintext_stream_not_sealed_to_me() -> None:
    me, other = _FakeIdentity(), _FakeIdentity()
    manifest = Manifest(language="en", statement="s", publication_consent="none")
    sealed = age.encrypt_bytes(_bundle(manifest), [other.age_identity().recipient()])
    with pytest.raises(NotSealedToYouError, match="not sealed to Test Investigator"):
        read_manifest(io.BytesIO(sealed), me)  # type: ignore[arg-type]


def test_plaintext_stream_damaged_payload() -> None:
    me = _FakeIdentity()
    manifest = Manifest(language="en", statement="s", publication_consent="none")
    sealed = bytearray(age.encrypt_bytes(_bundle(manifest), [me.age_identity().recipient()]))
    sealed[-5] ^= 1
    with pytest.raises(InvestigatorError, match="cannot be decrypted"):
        read_manifest(io.BytesIO(bytes(sealed)), me)  # type: ignore[arg-type]


def test_plaintext_stream_read_all_and_close_early() -> None:
    me = _FakeIdentity()
    data = bytes(range(256)) * 2000
    sealed = age.encrypt_bytes(data, [me.age_identity().recipient()])
    with PlaintextStream(io.BytesIO(sealed), [me.age_identity()]) as stream:
        assert stream.read() == data
    with PlaintextStream(io.BytesIO(sealed), [me.age_identity()]) as stream:
        assert stream.read(10) == data[:10]  # closing now stops the worker


def test_no_reply_address_no_reply() -> None:
    with pytest.raises(InvestigatorError, match="asked for no replies"):
        seal_reply(Manifest(language="en", statement="s", publication_consent="none"), "hi")


def test_progress_line_and_codename_frame() -> None:
    out = io.StringIO()
    bar = ProgressBar(4 * 1024 * 1024, out)
    bar(1024 * 1024)
    bar(4 * 1024 * 1024)
    text = out.getvalue()
    assert "uploading 4.0 MiB of 4.0 MiB (100%)" in text and "/s" in text
    bar = ProgressBar(4 * 1024 * 1024, out)
    assert bar.line(1024 * 1024, bar.started + 2.0) == (
        "uploading 1.0 MiB of 4.0 MiB (25%), 512.0 KiB/s, 0:06 left")
    download = ProgressBar(3 * 1024**3, out, verb="downloading")
    assert download.line(3 * 1024**3, download.started + 3725.0) == (
        "downloading 3.0 GiB of 3.0 GiB (100%), 844.5 KiB/s, in 1:02:05")
    frame = io.StringIO()
    show_codename(" ".join(f"w{n}" for n in range(1, 13)), frame)
    assert " 1. w1" in frame.getvalue() and "12. w12" in frame.getvalue()
    assert "shown only this once" in frame.getvalue()


def test_progress_rate_follows_the_connection_now() -> None:
    """After an outage, or a rerun that resumes at the server's offset, the rate and the
    time left come from the last seconds, not from an average since the start."""
    mib = 1024 * 1024
    bar = ProgressBar(100 * mib, io.StringIO())
    t = bar.started
    assert bar.line(10 * mib, t + 10).endswith("1.0 MiB/s, 1:30 left")
    # The server is away for a minute: nothing moves, and the line says so.
    bar.line(10 * mib, t + 40)
    assert bar.line(10 * mib, t + 70).endswith("0 B/s, waiting for the connection")
    # Back at 4 MiB/s: within one window the time left follows, not the 8-minute average.
    for second in range(71, 82):
        line = bar.line(10 * mib + (second - 70) * 4 * mib, t + second)
    assert line.endswith("4.0 MiB/s, 0:12 left"), line
    # A rerun that starts again lower (a fresh upload) starts a new measurement.
    assert bar.line(mib, t + 90).endswith("0 B/s, waiting for the connection")
    assert bar.line(3 * mib, t + 91).endswith("2.0 MiB/s, 0:49 left")


def test_codename_frame_fits_80_columns_and_reads_back() -> None:
    """The longest BIP39 words (8 letters) still fit: no row wraps and splits a word."""
    from mnemonic import Mnemonic

    longest = [w for w in Mnemonic("english").wordlist if len(w) == 8][:12]
    frame = io.StringIO()
    show_codename(" ".join(longest), frame)
    lines = frame.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert [line.split()[1::2] for line in lines if line.startswith("       1. ")] == [
        longest[:4]]
    assert framed_codename(frame.getvalue()) == " ".join(longest)
    assert framed_codename("amanat: no frame here\n") is None
    assert framed_codename(frame.getvalue().replace(" 7. ", " 8. ")) is None
