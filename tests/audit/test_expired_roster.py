"""A roster's expiry date and the audit tools: a receipt outlives its roster (it verifies
offline against the roster kept with it, expired or not), while `audit verify`, which takes
the log key from the roster the server serves now, refuses an expired one like every client."""

from __future__ import annotations

from datetime import timedelta

from keys.roster import sign_roster, utc_today, verify_roster
from tests.audit.fakes import Org, new_log, receipt_file
from vault.audit import Finding, verify_log, verify_submission_receipt


def test_receipt_verifies_after_its_roster_expired_but_audit_refuses_it() -> None:
    org = Org()
    log = new_log(org, 4)
    signed_on = utc_today() - timedelta(days=400)
    expired_on = signed_on + timedelta(days=90)
    roster = verify_roster(log.roster, org.vkey).renewed(expired_on)
    expired = sign_roster(roster, *org.key.signers(), today=signed_on)
    verdict = verify_submission_receipt(receipt_file(log, 2), org.vkey, expired)
    assert verdict.ok, verdict.summary()
    log.roster = expired
    audited = verify_log(log, org.vkey)
    assert audited.finding is Finding.BAD_ROSTER
    assert f"roster version {roster.version} expired on {expired_on.isoformat()}" \
        in audited.reason


def test_a_receipt_checked_against_the_served_roster_needs_it_in_date() -> None:
    """``receipt verify --server`` without ``--roster`` takes the roster the server serves:
    a server running a fork could otherwise serve any roster the organization ever signed,
    such as one from before it named cosigners, and escape cosigning forever."""
    org = Org()
    log = new_log(org, 4)
    signed_on = utc_today() - timedelta(days=400)
    expired_on = signed_on + timedelta(days=90)
    roster = verify_roster(log.roster, org.vkey).renewed(expired_on)
    expired = sign_roster(roster, *org.key.signers(), today=signed_on)
    served = verify_submission_receipt(receipt_file(log, 2), org.vkey, expired,
                                       roster_is_current=True)
    assert served.finding is Finding.BAD_ROSTER
    assert f"expired on {expired_on.isoformat()}" in served.reason
    current = verify_submission_receipt(receipt_file(log, 2), org.vkey, log.roster,
                                        roster_is_current=True)
    assert current.ok, current.summary()
