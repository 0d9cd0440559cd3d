"""Accessibility in Chromium: axe-core finds nothing serious or critical on any page, every
control has a label, and the keyboard alone reaches the send button.

axe's source is evaluated over the automation protocol, which the page's CSP does not
govern (a script element would be refused, rightly).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LANGS, require_browser_stack, run_scenario
from tests.workflows.conftest import World

pytestmark = pytest.mark.slow

PATHS = ("/", *(f"/{lang}/" for lang in LANGS), *(f"/{lang}/replies.html" for lang in LANGS))


@pytest.fixture(scope="module")
def audited(browser_world: World) -> dict[str, dict[str, Any]]:
    require_browser_stack("chromium")
    result = run_scenario("accessibility", {"browser": "chromium", "url": browser_world.url,
                                            "paths": list(PATHS), "tabTarget": "send",
                                            "maxTabs": 80}, timeout=240)
    print(f"\naxe-core {result['axeVersion']} in {result['browser']}")
    return {entry["path"]: entry for entry in result["results"]}


@pytest.mark.parametrize("path", PATHS)
def test_no_serious_axe_violation(audited: dict[str, dict[str, Any]], path: str) -> None:
    entry = audited[path]
    serious = [v for v in entry["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in serious)
    assert entry["unlabelled"] == [], f"controls without a label: {entry['unlabelled']}"


@pytest.mark.parametrize("lang", LANGS)
def test_tab_reaches_send(audited: dict[str, dict[str, Any]], lang: str) -> None:
    order = audited[f"/{lang}/"]["tabOrder"]
    assert order and order[-1] == "send", f"Tab never reached #send; focus went: {order}"
