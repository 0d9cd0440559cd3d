"""`amanat web verify`: anyone can check that a real server serves exactly the page built
from source, pinning the organization key they expect (vault/webcheck.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.api.test_webpage import PAGE, write_build
from tests.e2e.conftest import ROOT, ServerProcess

BUILD = {
    "index.html": PAGE,
    "en/index.html": PAGE,
    "en/replies.html": PAGE,
    "assets/app.js": b"export const seal = 1;\n",
}


def amanat(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "vault.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60, check=False)


def org_of(server: ServerProcess) -> str:
    line = next(line for line in server.output_text().splitlines()
                if line.startswith("amanat: organization key: "))
    return line.removeprefix("amanat: organization key: ").strip()


def test_the_built_page_verifies_and_its_key_and_digest_are_printed(
        tmp_path: Path, server_factory: Callable[..., ServerProcess]) -> None:
    built = tmp_path / "built"
    write_build(built, BUILD)
    server = server_factory(env={"AMANAT_WEB_DIR": str(built)})
    org = org_of(server)
    output = server.output_text()
    assert f"amanat: witness page: {server.url}/ (build sha256 " in output
    assert "organization key fingerprint (the page shows it): " in output
    result = amanat("web", "verify", "--server", server.url, "--build", str(built),
                    "--org", org)
    assert result.returncode == 0, result.stderr
    assert "serves the page built from this source (4 files" in result.stdout
    assert org in result.stdout
    # The digest printed by serve is the one verify computes from the source build.
    digest = result.stdout.split("build sha256 ")[1][:64]
    assert f"(build sha256 {digest})" in output


def test_a_changed_page_or_another_key_is_named(
        tmp_path: Path, server_factory: Callable[..., ServerProcess]) -> None:
    source = tmp_path / "source"
    write_build(source, BUILD)
    served = tmp_path / "served"  # what a compromised server would serve: its own "build"
    write_build(served, {**BUILD, "assets/app.js": b"export const seal = 'elsewhere';\n"})
    server = server_factory(env={"AMANAT_WEB_DIR": str(served)})
    result = amanat("web", "verify", "--server", server.url, "--build", str(source))
    assert result.returncode == 1
    assert "assets/app.js: differs from the build" in result.stderr
    assert "en/index.html" not in result.stderr  # only what differs is named

    other = "example.org/amanat+23d16a2d+ASQUrU80kHu17skxEkrii+Ha+zQEj696Grg+VjUFntGH"
    honest = server_factory(env={"AMANAT_WEB_DIR": str(source)})
    result = amanat("web", "verify", "--server", honest.url, "--build", str(source),
                    "--org", other)
    assert result.returncode == 1
    assert "the pages pin another organization key" in result.stderr


def test_nothing_to_check_is_status_2(tmp_path: Path, server: ServerProcess) -> None:
    result = amanat("web", "verify", "--server", server.url, "--build", str(tmp_path / "no"))
    assert result.returncode == 2
    assert "no page build at" in result.stderr and "make web" in result.stderr
    built = tmp_path / "built"
    write_build(built, {**BUILD, "assets/extra.js": b"1"})
    result = amanat("web", "verify", "--server", server.url, "--build", str(built))
    assert result.returncode == 2, result.stderr
    assert "did not serve the page" in result.stderr
