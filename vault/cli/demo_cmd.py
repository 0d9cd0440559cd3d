"""`amanat demo`: the whole loop, narrated, in a temporary directory that is removed after.

Runs the real commands as separate processes, as people would: an organization and two
investigators are created, a roster is signed, a server is started on a free loopback port,
a witness submits testimony (the statement goes in through standard input, so it never
touches disk) and receives a codename, an investigator lists, opens and answers it, the
witness reads the answer with the codename, and the audit log is checked. Nothing outside
the temporary directory is written; the keys made here are throwaway keys.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.cli.common import CLIError

if TYPE_CHECKING:
    import subprocess

READY_SECONDS = 30.0
STEP_TIMEOUT = 120.0
DEMO_STATEMENT = (
    "My brother Abdurehim was taken from his home in Ghulja in the spring of 2018.\n"
    "Our mother says he is held in a former school. We have heard nothing since.\n"
)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _package_root() -> str:
    import vault

    return str(Path(vault.__file__).resolve().parent.parent)


def extract_codename(stderr: str) -> str:
    """The 12 words of the framed codename ``submit`` shows on stderr."""
    from vault.cli.witness_cmd import framed_codename

    codename = framed_codename(stderr)
    if codename is None:
        raise CLIError("the demo could not find the codename in the witness's output")
    return codename


class Demo:
    """The narrator: runs commands in the demo directory and shows what they print."""

    def __init__(self, workdir: Path, out: Any) -> None:
        self.workdir = workdir
        self.out = out
        self.step_number = 0
        self.passphrase = "demo-" + secrets.token_hex(8)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_package_root(), env.get("PYTHONPATH", "")) if p)
        self.env = env

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.step_number += 1
        self.say()
        self.say(f"==> {self.step_number}. {title}")

    def _show(self, text: str, prefix: str = "    ") -> None:
        for line in text.rstrip("\n").splitlines():
            self.say(prefix + line)

    def run(self, args: Sequence[str], *, env: dict[str, str] | None = None,
            stdin: str | None = None, shown: str | None = None, quiet: bool = False,
            stderr_first: bool = False, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        """Run ``amanat ARGS`` and show its output (secrets travel in ``env``, never argv)."""
        import subprocess

        self.say(f"  $ {shown or 'amanat ' + shlex.join(args)}")
        result = subprocess.run(
            [sys.executable, "-m", "vault.cli", *args], cwd=self.workdir,
            env={**self.env, **(env or {})}, input=stdin, capture_output=True, text=True,
            timeout=STEP_TIMEOUT, check=False)
        if not quiet:
            first, second = (result.stderr, result.stdout) if stderr_first else \
                (result.stdout, result.stderr)
            self._show(first)
            self._show(second)
        if check and result.returncode != 0:
            raise CLIError(f"demo step failed: amanat {args[0]} exited with "
                           f"{result.returncode}: {result.stderr.strip()[-300:]}")
        return result

    def secret_env(self) -> dict[str, str]:
        return {"AMANAT_PASSPHRASE": self.passphrase, "AMANAT_NEW_PASSPHRASE": self.passphrase}


@contextlib.contextmanager
def _server(demo: Demo, org_vkey: str) -> Iterator[tuple[str, str]]:
    """Start `amanat serve` on a free loopback port; yield (url, log verifier key)."""
    import subprocess

    import httpx

    port = _free_port()
    log_path = demo.workdir / "server.out"
    args = ["serve", "--data", "server-data", "--host", "127.0.0.1", "--port", str(port),
            "--org", org_vkey]
    demo.say(f"  $ amanat serve --data server-data --port {port} --org <organization key> &")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "vault.cli", *args],
                                   cwd=demo.workdir, env=demo.env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise CLIError("the demo server stopped: "
                               + log_path.read_text("utf-8", "replace").strip()[-300:])
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/api/v1/log/checkpoint", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise CLIError("the demo server did not start in time")
            time.sleep(0.1)
        printed = log_path.read_text("utf-8", "replace")
        demo._show(printed)
        match = re.search(r"log verifier key[^\n]*\n\s+(\S+(?: \S+)?)", printed)
        if match is None:
            raise CLIError("the demo server did not print its log verifier key")
        yield url, match.group(1)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _publish(demo: Demo, url: str) -> None:
    from vault.client import VaultClient

    text = (demo.workdir / "roster.txt").read_text("utf-8")
    demo.say("  (publishing roster.txt to the server: PUT /api/v1/roster)")
    with VaultClient(url) as client:
        version = client.publish_roster(text)
    demo.say(f"    the server now serves roster version {version}")


def run_demo(out: Any = None) -> int:
    out = out or sys.stdout
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="amanat-demo-") as tmp:
        demo = Demo(Path(tmp), out)
        demo.say(f"amanat demo: the whole loop in {tmp} (removed at the end).")
        demo.say("Every key made here is a throwaway key; the passphrase is passed in "
                 "AMANAT_PASSPHRASE, never on the command line.")
        secrets_env = demo.secret_env()

        demo.step("The organization's admin creates the offline root key that signs rosters.")
        org = demo.run(["org", "init", "--name", "demo.amanat.invalid", "-o", "org.key"],
                       env=secrets_env)
        org_vkey = org.stdout.strip()
        demo.say("  Witnesses pin this verifier key; they get it out of band (a printed card,"
                 " a trusted website).")

        demo.step("Two investigators create their identity files and hand over public cards.")
        for name, stem in (("Investigator A", "a"), ("Investigator B", "b")):
            card = demo.run(["keys", "new", "--name", name, "-o", f"{stem}.identity"],
                            env=secrets_env, quiet=True)
            (demo.workdir / f"{stem}.card").write_text(card.stdout, "utf-8")
            demo.say(f"    {name}: {stem}.identity (passphrase-protected), card {stem}.card")

        demo.step("The admin signs a roster listing both investigators.")
        demo.run(["roster", "add", "--org", "org.key", "--roster", "roster.txt",
                  "a.card", "b.card"], env=secrets_env)

        demo.step("The server starts; it holds only ciphertext and an audit log.")
        with _server(demo, org_vkey) as (url, log_vkey):
            demo.step("The admin names the server's log key in the roster and publishes it.")
            demo.run(["roster", "set-log", "--org", "org.key", "--roster", "roster.txt",
                      log_vkey], env=secrets_env)
            _publish(demo, url)

            demo.step("A witness submits testimony. The roster is verified against the pinned "
                      "key, the testimony sealed on the witness's device.")
            demo.say("  (the statement comes from standard input: it never touches disk)")
            submitted = demo.run(
                ["submit", "--server", url, "--org", org_vkey, "--statement", "-",
                 "--language", "en", "--consent", "anonymised"],
                stdin=DEMO_STATEMENT, stderr_first=True,
                shown="amanat submit --server URL --org <organization key> --statement - "
                      "--language en --consent anonymised")
            codename = extract_codename(submitted.stderr)

            demo.step("Investigator A lists the inbox.")
            common = ["--server", url, "-i", "a.identity", "--org", org_vkey]
            shown = "--server URL -i a.identity --org <organization key>"
            inbox = demo.run(["inbox", *common], env=secrets_env, shown=f"amanat inbox {shown}")
            submission_id = inbox.stdout.split()[0]

            demo.step("Investigator A opens it: log checks, decryption, safe extraction.")
            demo.run(["open", *common, "--state", "audit-state.json", submission_id,
                      "-o", "case-1"], env=secrets_env,
                     shown=f"amanat open {shown} --state audit-state.json {submission_id} "
                           "-o case-1")
            demo.say("  case-1/ holds: " + ", ".join(
                sorted(p.name for p in (demo.workdir / "case-1").iterdir())))
            statement = (demo.workdir / "case-1" / "statement.txt").read_text("utf-8")
            demo._show(statement, "    | ")

            demo.step("Investigator A replies, sealed to the witness's codename key.")
            message = "Thank you. Your testimony reached us; we will contact you here."
            demo.run(["reply", *common, submission_id, "--case", "case-1", "--message", message],
                     env=secrets_env,
                     shown=f"amanat reply {shown} {submission_id} --case case-1 "
                           f"--message {shlex.quote(message)}")

            demo.step("The witness reads the reply with the codename (typed at a prompt).")
            demo.run(["replies", "--server", url], env={"AMANAT_CODENAME": codename},
                     shown="amanat replies --server URL")

            demo.step("Anyone can check the audit log against the organization's key.")
            demo.run(["audit", "verify", "--server", url, "--org", org_vkey, "--full"],
                     shown="amanat audit verify --server URL --org <organization key> --full")

            demo.step("Stopping the server and removing the demo directory.")
    demo.say(f"amanat demo: done in {time.monotonic() - started:.1f} s.")
    return 0


def cmd_demo(_args: argparse.Namespace) -> int:
    return run_demo()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole loop, narrated, in a temporary directory",
        description="Create an organization, two investigators and a roster, start a server "
                    "on loopback, submit testimony as a witness, open and answer it as an "
                    "investigator, read the answer with the codename and check the audit "
                    "log, all in a temporary directory that is removed afterwards.")
    parser.set_defaults(func=cmd_demo)
