"""The witness page holds its receipt to the roster's cosigning policy, keeping nothing.

Real processes on 127.0.0.1: `amanat serve --dev` whose roster names three `amanat cosigner
serve` processes (2 of 3 required), and a second server that forks the log with a copied
`log.key` and the same roster. In Chromium and Firefox, a testimony sent to the honest server
gets a receipt the page checks ("Receipt checked"); one sent to the fork is delivered, but the
page refuses its receipt as not cosigned, since the cosigners refuse the forked history.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.audit.serverkit import Servers, servers
from tests.browser.conftest import catalog, require_browser_stack, run_scenario
from tests.cosigner.test_collect import _publish, _start_cosigners
from tests.cosigner.test_e2e import Cosigners, cosigners, log_signer
from vault.service.setup import DEV_DIR, LOG_KEY_FILE
from vault.tlog.cosigning import CosigningPolicy

__all__ = ["cosigners", "servers"]

pytestmark = pytest.mark.slow


def _send(url: str, browser: str, artifacts: Path) -> str:
    result = run_scenario("submit", {
        "browser": browser, "url": url, "lang": "en", "wantReply": False,
        "statement": "Written to see whether the receipt is cosigned.",
        "artifacts": str(artifacts), "timeout": 120000}, timeout=200)
    assert result["state"]["done"], result
    assert result["receiptVerifiedShown"]
    return str(result["receiptVerified"])


def test_the_page_refuses_a_receipt_from_a_forked_log(
        servers: Servers, cosigners: Cosigners, tmp_path: Path, artifacts: Path) -> None:
    require_browser_stack("chromium", "firefox")
    honest = servers.start("honest")
    origin = httpx.get(honest.url + "/api/v1/log/checkpoint", timeout=10).text.split("\n")[0]
    named = _start_cosigners(tmp_path, cosigners, origin, log_signer(honest).vkey())
    policy = CosigningPolicy(2, tuple(named))
    _publish(honest, policy)

    forked_data = servers.directory("forked") / "data"
    forked_data.mkdir(mode=0o700)
    shutil.copy2(honest.data_dir / LOG_KEY_FILE, forked_data / LOG_KEY_FILE)
    shutil.copytree(honest.data_dir / DEV_DIR, forked_data / DEV_DIR)
    forked = servers.start("forked")
    _publish(forked, policy)

    en = catalog("en")
    for browser in ("chromium", "firefox"):
        checked = _send(honest.url, browser, artifacts)
        assert checked.startswith("Receipt checked: your testimony is entry "), checked
        refused = _send(forked.url, browser, artifacts)
        assert refused == en["msg.receipt.notCosigned"], refused
