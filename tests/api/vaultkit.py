"""Helpers for the service, API and end-to-end tests: a dev vault, sealing, logging in."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keys.identity import InvestigatorIdentity
from keys.keyfile import KdfParams
from keys.org import OrgKey
from keys.roster import ROLE_READER, Roster, sign_roster, verify_roster
from vault import age
from vault.service.auth import challenge_message
from vault.service.setup import DEV_DIR

# The address of starlette's in-process TestClient, as logins name it.
TEST_SERVER = "http://testserver:80"
FAST_KDF = KdfParams(memory_kib=8 * 1024, iterations=1, parallelism=1)


@dataclass
class DevKeys:
    """The keys ``--dev`` wrote into a data directory, opened."""

    org: OrgKey
    investigator: InvestigatorIdentity
    roster_text: str
    passphrase: str

    @property
    def org_vkey(self) -> str:
        return self.org.vkey()

    def roster(self) -> Roster:
        return verify_roster(self.roster_text, self.org_vkey)

    def recipients(self) -> list[age.Recipient]:
        return self.roster().recipients()

    def seal(self, plaintext: bytes) -> bytes:
        return age.encrypt_bytes(plaintext, self.recipients())

    def sign(self, message: bytes) -> tuple[bytes, bytes | None]:
        return self.investigator.sign_login(message)

    def login_body(self, challenge_b64: str, log_vkey: str,
                   key: InvestigatorIdentity | None = None,
                   server: str = TEST_SERVER) -> dict[str, str]:
        """A login signed for ``server`` (by default the in-process test client's address)."""
        who = key or self.investigator
        challenge = base64.b64decode(challenge_b64)
        signature, signature_mldsa = who.sign_login(
            challenge_message(server, log_vkey, who.key_id, challenge))
        body = {"key_id": who.key_id, "challenge": challenge_b64, "server": server,
                "signature": base64.b64encode(signature).decode()}
        if signature_mldsa is not None:
            body["signature_mldsa"] = base64.b64encode(signature_mldsa).decode()
        return body

    def next_roster(self, current_text: str, change: Callable[[Roster], Roster]) -> str:
        """Sign ``change(current)`` with the dev org key."""
        return sign_roster(change(verify_roster(current_text, self.org_vkey)), *self.org.signers())

    def add_reader(self, current_text: str, name: str = "Second Reader"
                   ) -> tuple[str, InvestigatorIdentity]:
        other = InvestigatorIdentity.generate(name)
        text = self.next_roster(
            current_text, lambda r: r.with_added([other.card()], (ROLE_READER,)))
        return text, other


def read_dev_keys(data_dir: Path) -> DevKeys:
    dev = data_dir / DEV_DIR
    passphrase = (dev / "passphrase.txt").read_text().strip()
    return DevKeys(
        org=OrgKey.unseal((dev / "org.key").read_bytes(), passphrase),
        investigator=InvestigatorIdentity.unseal(
            (dev / "investigator.identity").read_bytes(), passphrase),
        roster_text=(dev / "roster.txt").read_text(),
        passphrase=passphrase,
    )
