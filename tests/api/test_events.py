"""Canonical audit-log event text: one spelling per event, hours only, nothing identifying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vault import events
from vault.events import EventError, parse_event

SID = "0123456789abcdef0123456789abcdef"
SHA = "ab" * 32
MOMENT = datetime(2026, 11, 21, 5, 59, 59, 999999, tzinfo=UTC)


def test_submission_text_is_canonical_and_rounded_down() -> None:
    event = events.submission_event(SID, SHA, 1234, moment=MOMENT)
    assert event.encode() == (
        b"amanat/event/v1\nkind submission\ntime 2026-11-21T05:00Z\n"
        b"id " + SID.encode() + b"\nsha256 " + SHA.encode() + b"\nsize 1234\n")
    assert parse_event(event.encode()) == event


@pytest.mark.parametrize("make", [
    lambda: events.access_event(SID, "0011223344556677", moment=MOMENT),
    lambda: events.deletion_event(SID, "0011223344556677", moment=MOMENT),
    lambda: events.reply_event(SID, SHA, 99, moment=MOMENT),
    lambda: events.roster_event(7, SHA, moment=MOMENT),
])
def test_every_kind_round_trips(make: object) -> None:
    event = make()  # type: ignore[operator]
    assert parse_event(event.encode()) == event
    assert event.time == "2026-11-21T05:00Z"


def test_a_reply_names_no_investigator_and_older_replies_still_parse() -> None:
    """Naming who wrote a reply would narrow the submissions it may answer to those that
    investigator opened (SECURITY.md, linkage): a reply entry says id, digest and size."""
    event = events.reply_event(SID, SHA, 99, moment=MOMENT)
    assert event.encode() == (
        b"amanat/event/v1\nkind reply\ntime 2026-11-21T05:00Z\n"
        b"id " + SID.encode() + b"\nsha256 " + SHA.encode() + b"\nsize 99\n")
    older = event.encode() + b"investigator 0011223344556677\n"  # written by earlier servers
    assert parse_event(older).get("investigator") == "0011223344556677"
    assert parse_event(older).encode() == older
    with pytest.raises(EventError):
        parse_event(event.encode() + b"mailbox " + SHA.encode() + b"\n")


def test_other_time_zones_are_converted_to_utc() -> None:
    moment = datetime(2026, 11, 21, 11, 30, tzinfo=timezone(timedelta(hours=6)))
    assert events.hour_text(moment) == "2026-11-21T05:00Z"
    with pytest.raises(EventError):
        events.hour_floor(datetime(2026, 1, 1))  # naive: refused
    assert events.parse_hour("2026-11-21T05:00Z") == datetime(2026, 11, 21, 5, tzinfo=UTC)
    for bad in ("2026-11-21T05:01Z", "2026-11-21T05:00", "2026-13-21T05:00Z", ""):
        with pytest.raises(EventError):
            events.parse_hour(bad)


@pytest.mark.parametrize("text", [
    b"",
    b"amanat/event/v1\nkind submission\n",
    b"amanat/event/v2\nkind roster\ntime 2026-11-21T05:00Z\nversion 1\nsha256 x\n",
    b"amanat/event/v1\nkind roster\ntime 2026-11-21T05:00Z\nversion 1\nsha256 x",
    b"amanat/event/v1\nkind roster\ntime 2026-11-21T05:00Z\nsha256 x\nversion 1\n",
    b"amanat/event/v1\nkind roster\ntime 2026-11-21T05:00Z\nversion 1\nsha256 x\nip 1.2.3.4\n",
    b"amanat/event/v1\nkind roster\ntime 2026-11-21T05:17Z\nversion 1\nsha256 x\n",
    b"amanat/event/v1\ntime 2026-11-21T05:00Z\nkind roster\nversion 1\nsha256 x\n",
    b"amanat/event/v1\nkind roster\ntime 2026-11-21T05:00Z\nversion 1\nsha256  x\n",
    b"amanat/event/v1\nkind roster\ntime 2026-11-21T05:00Z\nversion\nsha256 x\n",
    b"amanat/event/v1\nkind login\ntime 2026-11-21T05:00Z\n",
    "amanat/event/v1\nkind roster\ntime 2026-11-21T05:00Z\nversion 1\nsha256 é\n".encode(),
])
def test_non_canonical_text_is_refused(text: bytes) -> None:
    with pytest.raises(EventError):
        parse_event(text)


def test_field_values_are_checked() -> None:
    with pytest.raises(EventError):
        events.access_event("has space", "k", moment=MOMENT)
    with pytest.raises(EventError):
        events.access_event("", "k", moment=MOMENT)
    event = events.roster_event(1, SHA, moment=MOMENT)
    assert event.get("version") == "1"
    with pytest.raises(KeyError):
        event.get("ip")
