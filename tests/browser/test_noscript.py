"""Without JavaScript (Tor Browser's "Safest"): every page explains, in its language, what to
do instead, and offers no send button that could be used.

Chromium runs with the context option ``javaScriptEnabled: false``, Firefox with the pref
``javascript.enabled=false``. Each page's ``<noscript>`` text must be shown, in the page's
language (its catalog's ``noscript.*`` messages), and ``#send`` must be absent, hidden or
disabled: a usable button there would submit a plain form, in the clear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LANGS, catalog, require_browser_stack, run_scenario
from tests.browser.support import foreign_requests
from tests.workflows.conftest import World

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["chromium", "firefox"])
def shown(request: pytest.FixtureRequest, browser_world: World, artifacts: Path
          ) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    browser: str = request.param
    require_browser_stack(browser)
    result = run_scenario("noscript", {"browser": browser, "url": browser_world.url,
                                       "langs": list(LANGS), "artifacts": str(artifacts)},
                          timeout=180)
    return browser, {(page["lang"], page["path"]): page for page in result["pages"]}


@pytest.mark.parametrize("lang", LANGS)
def test_noscript_explains_in_the_page_language(
        shown: tuple[str, dict[tuple[str, str], dict[str, Any]]], browser_world: World,
        lang: str) -> None:
    browser, pages = shown
    cat = catalog(lang)
    for path, why in ((f"/{lang}/", "noscript.why"), (f"/{lang}/replies.html",
                                                      "noscript.replies")):
        page = pages[(lang, path)]
        where = f"{browser} {path} without scripts"
        assert page["htmlLang"] == cat["meta.tag"], where
        text = " ".join(page["text"].split())
        for key in ("noscript.title", why):
            assert " ".join(cat[key].split()) in text, f"{where}: {key} not shown"
        send = page["send"]
        assert send is None or not send["shown"] or send["disabled"], \
            f"{where}: #send is usable: {send}"
        for control in ("send", "open-replies"):
            assert control not in page["usableControls"], (where, page["usableControls"])
        assert foreign_requests(page["records"]["requests"], browser_world.url) == []
        if page["screenshot"]:
            print(f"\n{where}: screenshot {page['screenshot']}")
