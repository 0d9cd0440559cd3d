"""Benchmark of the witness's web page: its weight, and how fast it works at Tor Browser's
"Safer" level.

Starts a real server (``python -m vault.cli serve --dev``) on a temp data directory and
drives Debian's browsers through tests/browser/node (``make browser-deps``):

* **Page weight**, per language: every resource the submission page loads (as Chromium
  requests them), compressed with gzip -9 and brotli (quality 11), the total against the
  150 KiB budget (gzip, as web/build.mjs counts it).
* **Speed at Safer**, in Firefox ESR with Tor Browser's Safer prefs (no JIT, no asm.js, no
  WebAssembly, resistFingerprinting): codename v2 derivation (the page's deriveV2, median of
  3), verifying the served roster with both of its signatures (Ed25519 and ML-DSA-44, the
  page's verifyRoster, median of 3), sealing a 10 MiB testimony to the served roster (the
  page's seal), and the whole submission of a 10 MiB attachment on the page (sealing, then
  the upload on loopback). The anchors are the same measurements in the same run, in
  Firefox without the Safer prefs and in Chromium; each is printed as a ratio (Safer ÷
  anchor).

The module-level timings bundle web/src with web/node_modules' esbuild (``make web-deps``);
without it those lines say so. Bounded to a few minutes (the Safer seal dominates).
Run: ``python -m bench.web_bench``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.runner import (  # noqa: E402
    CHROMIUM,
    FIREFOX,
    NODE_DIR,
    ScenarioFailed,
    run_scenario,
)

LANGS = ("en", "ug", "kk", "ru", "zh", "tr")
BUDGET_BYTES = 150 * 1024
MIB = 1024 * 1024
TESTIMONY_MIB = 10
KINDS = ("firefox-safer", "firefox", "chromium")
LABELS = {"firefox-safer": "Firefox at Safer", "firefox": "Firefox (JIT on)",
          "chromium": "Chromium"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "vault.cli", "serve", "--data", str(workdir / "data"),
         "--port", str(port), "--dev"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/en/", timeout=2).status_code == 200:
                return process, url
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start or does not serve the page")


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is missing"
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir():
        return f"{NODE_DIR / 'node_modules'} is missing (make browser-deps)"
    if not (ROOT / "api" / "static" / "en" / "index.html").is_file():
        return "the witness page is not built (make web)"
    for path in (CHROMIUM, FIREFOX):
        if not os.access(path, os.X_OK):
            return f"{path} is missing"
    return None


def _kib(n: float) -> str:
    return f"{n / 1024:7.1f}"


def page_weight(url: str) -> bool:
    """Prints the weight table; returns whether every language is within budget."""
    result = run_scenario("weight", {"url": url, "langs": list(LANGS)}, timeout=180)
    print(f"page weight: every resource /<lang>/ loads, in {result['browser']} "
          f"(KiB; budget {BUDGET_BYTES // 1024} KiB gzip -9)")
    print(f"  {'lang':<4}  {'files':>5}  {'raw':>7}  {'gzip -9':>7}  {'brotli':>7}  "
          f"{'of budget':>9}")
    within = True
    for page in result["pages"]:
        resources = page["resources"]
        raw = sum(r["raw"] for r in resources)
        gz = sum(r["gzip"] for r in resources)
        br = sum(r["brotli"] for r in resources)
        within &= gz <= BUDGET_BYTES
        print(f"  {page['lang']:<4}  {len(resources):>5}  {_kib(raw)}  {_kib(gz)}  {_kib(br)}  "
              f"{gz / BUDGET_BYTES:>8.0%}{'' if gz <= BUDGET_BYTES else '  OVER BUDGET'}")
    first = result["pages"][0]
    print("  resources of /en/: " + ", ".join(
        f"{r['url'].split('/', 3)[-1] or '/'} {r['gzip'] / 1024:.1f}"
        for r in first["resources"]))
    return within


def _module_timings(url: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        out[kind] = run_scenario("timings", {
            "url": url, "browser": kind, "sealBytes": TESTIMONY_MIB * MIB, "codenameRuns": 3},
            timeout=600)
    return out


def _page_submissions(url: str, attachment: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        result = run_scenario("submit", {
            "url": url, "browser": kind, "lang": "en", "statement": "A benchmark testimony.",
            "files": [str(attachment)], "keepMetadata": True, "wantReply": False,
            "timeout": 540000}, timeout=600)
        if not result["state"]["done"]:
            raise ScenarioFailed(f"{kind}: the page did not finish: {result['state']}")
        if result["state"]["error"]:
            print(f"  note: {LABELS[kind]}: the page finished but showed: "
                  f"{result['state']['error']}")
        out[kind] = result
    return out


def _ratio_line(name: str, values: dict[str, float], unit: str, *, fmt: str = "{:.2f}",
                higher_is_better: bool = False, goal: str = "") -> None:
    """One figure per browser, then Safer's ratio to each anchor (how many times slower)."""
    safer = values["firefox-safer"]
    parts = [f"{name:<34}"]
    for kind in KINDS:
        parts.append(f"{fmt.format(values[kind])} {unit}".rjust(16))
    for anchor in ("firefox", "chromium"):
        base = values[anchor]
        ratio = (base / safer if higher_is_better else safer / base) if base and safer else 0.0
        parts.append(f"{ratio:8.1f}x")
    print("  ".join(parts) + (f"  {goal}" if goal else ""))


def speed(url: str, workdir: Path) -> None:
    header = (f"{'':<34}  " + "  ".join(f"{LABELS[k]:>16}" for k in KINDS) +
              "  Safer÷FF  Safer÷Chr  (ratio: times slower at Safer)")
    modules = _module_timings(url)
    if any("skipped" in m for m in modules.values()):
        print("module timings skipped: " + next(m["skipped"] for m in modules.values()
                                                if "skipped" in m))
    else:
        print(f"\nthe page's modules, timed in each browser ({TESTIMONY_MIB} MiB sealed to the "
              "dev server's roster):")
        print(header)
        _ratio_line("codename v2 derivation (median)",
                    {k: statistics.median(m["codenameMs"]) for k, m in modules.items()}, "ms",
                    fmt="{:.0f}", goal="goal at Safer: ≤ 2000 ms (DESIGN.md)")
        _ratio_line("roster verify, both sigs (median)",
                    {k: statistics.median(m["rosterMs"]) for k, m in modules.items()}, "ms",
                    fmt="{:.0f}")
        _ratio_line(f"seal {TESTIMONY_MIB} MiB", {k: m["sealMs"] / 1000 for k, m in
                                                  modules.items()}, "s")
        _ratio_line("seal throughput", {k: m["sealBytes"] / MIB / (m["sealMs"] / 1000)
                                        for k, m in modules.items()}, "MiB/s",
                    higher_is_better=True)
    attachment = workdir / "attachment.bin"
    attachment.write_bytes(os.urandom(TESTIMONY_MIB * MIB))
    pages = _page_submissions(url, attachment)
    print(f"\nthe page, a {TESTIMONY_MIB} MiB attachment from click to verified receipt "
          "(times seen by polling the page every 50 ms):")
    print(header)

    def phase(result: dict[str, Any], start: str, end: str) -> float:
        marks = result["marks"]
        return float((marks[end] or 0) - (marks[start] or 0)) / 1000

    for kind, result in pages.items():
        marks = result["marks"]
        if marks["uploadFirst"] is None or marks["done"] is None:
            raise ScenarioFailed(f"{kind}: no upload progress seen: {marks}")
    _ratio_line("sealing (click to first upload)", {
        k: (r["marks"]["uploadFirst"] or 0) / 1000 for k, r in pages.items()}, "s")
    _ratio_line("upload on loopback (to 100%)", {
        k: phase(r, "uploadFirst", "uploadFull") for k, r in pages.items()}, "s")
    _ratio_line("whole submission (click to done)", {
        k: (r["marks"]["done"] or 0) / 1000 for k, r in pages.items()}, "s")
    print(f"\nbrowsers: {pages['chromium']['browser']}; Firefox "
          f"{pages['firefox']['browser']}")


def main() -> int:
    reason = _missing()
    if reason is not None:
        print(f"web bench skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="amanat-web-bench-") as tmp:
        workdir = Path(tmp)
        process, url = _start_server(workdir)
        try:
            within = page_weight(url)
            speed(url, workdir)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
