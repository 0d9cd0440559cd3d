"""Keys of the people and the organization behind amanat, and the roster that binds them.

* ``keys.identity`` — an investigator's private keys (post-quantum age identity, Ed25519
  and ML-DSA-44 auth keys) in one passphrase-protected file;
* ``keys.org`` — the organization's offline root key, which signs the roster;
* ``keys.card`` — the public card an investigator hands to the admin, and the key id;
* ``keys.roster`` — the signed roster, its verification and the no-rollback state;
* ``keys.fingerprint`` — the organization key's fingerprint, digits a witness compares;
* ``keys.keyfile`` — the at-rest format shared by identity and org key files;
* ``keys.passphrase`` — how strong a new passphrase for a key file must be.

Protects design guarantees 1 and 5: testimony reaches only investigators the organization
signed for, and a server cannot substitute its own keys, nor replay an old roster to a client
that remembers versions or once the old roster's signed expiry date has passed.
"""

from __future__ import annotations

from keys.card import PublicCard, derive_key_id, parse_card
from keys.errors import (
    CardError,
    InvalidNameError,
    KeyFileError,
    KeysError,
    RosterError,
    RosterExpiredError,
    RosterFormatError,
    RosterPolicyError,
    RosterRollbackError,
    RosterSignatureError,
    RosterStateError,
    UnlockError,
    VerifierKeyError,
    WeakPassphraseError,
)
from keys.fingerprint import org_fingerprint
from keys.identity import InvestigatorIdentity, is_identity_file
from keys.keyfile import DEFAULT_KDF, KdfParams
from keys.org import OrgKey
from keys.roster import (
    Investigator,
    Roster,
    RosterState,
    default_state_path,
    parse_roster,
    read_roster_unverified,
    sign_roster,
    verify_roster,
)

__all__ = [
    "DEFAULT_KDF",
    "CardError",
    "InvalidNameError",
    "Investigator",
    "InvestigatorIdentity",
    "KdfParams",
    "KeyFileError",
    "KeysError",
    "OrgKey",
    "PublicCard",
    "Roster",
    "RosterError",
    "RosterExpiredError",
    "RosterFormatError",
    "RosterPolicyError",
    "RosterRollbackError",
    "RosterSignatureError",
    "RosterState",
    "RosterStateError",
    "UnlockError",
    "VerifierKeyError",
    "WeakPassphraseError",
    "default_state_path",
    "derive_key_id",
    "is_identity_file",
    "org_fingerprint",
    "parse_card",
    "parse_roster",
    "read_roster_unverified",
    "sign_roster",
    "verify_roster",
]
