"""Every language renders the whole form, and Uyghur is laid out right to left.

For en ug kk ru zh tr, the submission page (with a person's questions and a file's entry
opened) and the replies page show no catalog key instead of its text, no unreplaced
placeholder, no console message about a missing message, and carry ``<html lang dir>``.
In Uyghur the document is ``dir="rtl"`` and the layout is mirrored: a checkbox's label sits
to the right of its box, a label above its field lines up with the field's right edge, the
statement's text aligns right, and the send button sits at the right where English has it
at the left. Screenshots of every submission page are saved; their paths are printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LANGS, catalog, require_browser_stack, run_scenario
from tests.browser.support import make_gps_jpeg, missing_key_messages, raw_keys
from tests.workflows.conftest import World

pytestmark = pytest.mark.slow

UYGHUR_STATEMENT = "ئاكام 2018-يىلى غۇلجىدا تۇتۇلدى."
EDGE = 4.0  # CSS pixels of slack when comparing edges


@pytest.fixture(scope="module", params=["chromium", "firefox-safer"])
def shown(request: pytest.FixtureRequest, browser_world: World, artifacts: Path,
          tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """Every page as Chromium shows it, and as Firefox at Tor Browser's Safer level does."""
    browser: str = request.param
    require_browser_stack(browser.removesuffix("-safer"))
    sample = tmp_path_factory.mktemp("sample") / "photo.jpg"
    sample.write_bytes(make_gps_jpeg("sample"))
    result = run_scenario("languages", {
        "browser": browser, "url": browser_world.url, "langs": list(LANGS),
        "artifacts": str(artifacts), "statement": UYGHUR_STATEMENT,
        "sampleFile": str(sample)}, timeout=240)
    pages = {(page["lang"], page["which"]): page for page in result["pages"]}
    print("\nscreenshots: " + ", ".join(p["screenshot"] for p in result["pages"]
                                        if p["screenshot"]))
    return pages


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("which", ["submit", "replies"])
def test_every_message_is_translated(shown: dict[tuple[str, str], dict[str, Any]],
                                     lang: str, which: str) -> None:
    page = shown[(lang, which)]
    cat = catalog(lang)
    assert page["htmlLang"] == cat["meta.tag"], page["htmlLang"]
    assert page["dir"] == cat["meta.dir"] and page["computedDir"] == cat["meta.dir"]
    assert raw_keys([page["text"], page["title"], *page["attrs"]], cat) == []
    assert missing_key_messages(page["records"]) == []
    assert page["records"]["consoleErrors"] == [], page["records"]["consoleErrors"]
    assert page["records"]["pageErrors"] == [], page["records"]["pageErrors"]
    assert page["records"]["cspViolations"] == [], page["records"]["cspViolations"]
    if which == "submit":
        # The whole form: safety note, statement, a person's questions, files, send.
        for key in ("safety.title", "nav.replies"):
            assert cat[key] in page["text"], f"{key} ({cat[key]!r}) is not shown"
        assert page["statement"] and page["statement"]["shown"]
        assert page["send"] and page["send"]["shown"]
        assert len(page["pairs"]) >= 5, f"few labelled controls shown: {page['pairs']}"


def _side_by_side(pair: dict[str, Any]) -> bool:
    label, control = pair["label"], pair["control"]
    return bool(label["top"] < control["top"] + control["height"] and
                control["top"] < label["top"] + label["height"])


def _stacked(pair: dict[str, Any]) -> bool:
    """Label above its field (the label ends before the field begins)."""
    return bool(pair["label"]["top"] + pair["label"]["height"] <= pair["control"]["top"] + EDGE)


def _label_is_right(pair: dict[str, Any]) -> bool:
    label, control = pair["label"], pair["control"]
    return bool(label["left"] + label["width"] / 2 > control["left"] + control["width"] / 2)


def test_uyghur_is_right_to_left(shown: dict[tuple[str, str], dict[str, Any]]) -> None:
    ug, en = shown[("ug", "submit")], shown[("en", "submit")]
    print(f"\nUyghur screenshot: {ug['screenshot']}\nEnglish screenshot: {en['screenshot']}")
    assert ug["dir"] == "rtl" and ug["computedDir"] == "rtl"
    assert shown[("ug", "replies")]["dir"] == "rtl"
    english = {pair["for"]: pair for pair in en["pairs"]}
    both = [(pair, english[pair["for"]]) for pair in ug["pairs"] if pair["for"] in english]

    # A label beside its control (a checkbox's) swaps sides: where English has it on the
    # right of its box, Uyghur has it on the left, and the other way round.
    beside = [(u, e) for u, e in both if _side_by_side(u) and _side_by_side(e)]
    assert beside, "no label beside its control to compare (e.g. #want-reply)"
    for u, e in beside:
        assert _label_is_right(u) != _label_is_right(e), \
            f"#{u['for']}: its label is on the same side in Uyghur and English: {u} {e}"
        if not _label_is_right(e):  # a label before its field: right of it in Uyghur
            assert u["label"]["left"] >= u["control"]["left"] + u["control"]["width"] - EDGE, u

    # A label above its field lines up with the field's start: right in Uyghur, left in
    # English.
    above = [(u, e) for u, e in both if _stacked(u) and _stacked(e)]
    assert above, "no label above its field to compare (e.g. #statement)"
    for u, e in above:
        u_right = u["label"]["left"] + u["label"]["width"]
        c_right = u["control"]["left"] + u["control"]["width"]
        assert abs(u_right - c_right) <= EDGE, \
            f"in Uyghur the label of #{u['for']} does not line up on the right: {u}"
        assert u["label"]["left"] > u["control"]["left"] + EDGE or \
            u["label"]["width"] >= u["control"]["width"] - EDGE, u
        assert abs(e["label"]["left"] - e["control"]["left"]) <= EDGE, \
            f"in English the label of #{e['for']} does not line up on the left: {e}"

    statement = ug["statement"]
    assert statement["direction"] == "rtl"
    assert statement["textAlign"] in ("right", "start"), statement
    # The send button: at the right in Uyghur, at the left in English.
    width = ug["viewport"]["width"]
    ug_send, en_send = ug["send"]["box"], en["send"]["box"]
    assert width - ug_send["right"] < ug_send["left"], f"Uyghur send button {ug_send}"
    assert en_send["left"] < width - en_send["right"], f"English send button {en_send}"
