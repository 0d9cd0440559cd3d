"""Run the fuzz harnesses (tests/fuzz/harnesses.py).

    python -m tests.fuzz list
    python -m tests.fuzz run NAME... | all [--seconds N] [--work DIR]
    python -m tests.fuzz replay [NAME... | all] [--file PATH]...
    python -m tests.fuzz seed [--force]
    python -m tests.fuzz merge [NAME... | all] --work DIR

``run`` fuzzes each harness with atheris (libFuzzer, coverage-guided) for ``--seconds``, one
process per harness, one after the other, on one core. It starts from the committed corpus
(tests/fuzz/corpus/<harness>) and the shared vectors; what it discovers goes to a scratch
directory (``--work DIR`` keeps it there for the next run and for ``merge``). It prints the
executions of each harness and exits non-zero if any harness found a crash, whose input is
saved under tests/fuzz/findings/ (not committed: minimise it, fix the parser, then add it to
the corpus as ``crash-<what>`` with a regression test next to the parser's tests).

``merge`` adds to the committed corpus, within a size budget, the inputs a ``run --work
DIR`` discovered that bring new coverage (not for the harnesses fed by the shared vectors).
``replay`` runs every corpus file (and the vector seeds) through the harnesses without
atheris; ``seed`` writes the writer seeds (``w-*``) missing from the committed corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
FINDINGS = HERE / "findings"
ROOT = HERE.parent.parent
INSTRUMENTED = ["vault", "keys", "api"]


def _names(requested: list[str]) -> list[str]:
    from tests.fuzz.harnesses import HARNESSES

    if not requested or requested == ["all"]:
        return list(HARNESSES)
    unknown = [n for n in requested if n not in HARNESSES]
    if unknown:
        sys.exit(f"unknown harness {', '.join(unknown)}; `python -m tests.fuzz list` names them")
    return requested


def cmd_list(_: argparse.Namespace) -> int:
    from tests.fuzz.harnesses import HARNESSES

    for harness in HARNESSES.values():
        count = len(list((CORPUS / harness.name).glob("*")))
        print(f"{harness.name:20} {count:3} seeds  allows: {harness.allowed}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from tests.fuzz.seeds import writer_seeds

    for name, seeds in writer_seeds().items():
        directory = CORPUS / name
        directory.mkdir(parents=True, exist_ok=True)
        wanted = {f"w-{label}" for label in seeds}
        for old in directory.glob("w-*"):
            if args.force or old.name not in wanted:
                old.unlink()
        # Sealed files and key files differ at every writing (fresh nonces): kept as they
        # are unless --force.
        added = 0
        for label, data in seeds.items():
            path = directory / f"w-{label}"
            if not path.exists():
                path.write_bytes(data)
                added += 1
        print(f"{name}: {len(seeds)} writer seeds ({added} written)")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from tests.fuzz.harnesses import HARNESSES
    from tests.fuzz.seeds import corpus_files, read_all, vector_seeds

    failures = 0
    for name in _names(args.names):
        harness = HARNESSES[name]
        inputs = (list(read_all([Path(f) for f in args.file])) if args.file
                  else [*read_all(corpus_files(CORPUS / name)), *vector_seeds(name)])
        started = time.perf_counter()
        for label, data in inputs:
            try:
                harness.target(data)
            except Exception:
                failures += 1
                print(f"{name}: {label}: FINDING", file=sys.stderr)
                traceback.print_exc()
        print(f"{name:20} {len(inputs):4} inputs in {time.perf_counter() - started:.2f} s")
    return 1 if failures else 0


_STAT = re.compile(r"stat::(\w+):\s+(\d+)")


def _fuzz_one(name: str, seconds: int, scratch: Path) -> tuple[int, int, str]:
    """Fuzz ``name`` in a child process; return (executions, exit status, log tail)."""
    from tests.fuzz.harnesses import HARNESSES
    from tests.fuzz.seeds import vector_seeds

    harness = HARNESSES[name]
    committed = CORPUS / name
    committed.mkdir(parents=True, exist_ok=True)
    work = scratch / name / "new"
    vectors = scratch / name / "vectors"
    crashes = scratch / name / "crashes"
    shutil.rmtree(crashes, ignore_errors=True)  # a finding of an earlier run is not this one's
    for directory in (work, vectors, crashes):
        directory.mkdir(parents=True, exist_ok=True)
    for label, data in vector_seeds(name):
        (vectors / label).write_bytes(data)
    # libFuzzer writes what it discovers into the first corpus directory only.
    corpora = [work, committed, vectors]
    argv = [
        sys.executable, "-m", "tests.fuzz", "_worker", name, "--",
        f"-max_total_time={seconds}", f"-max_len={harness.max_len}", "-timeout=20",
        "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={crashes}/",
        *map(str, corpora),
    ]
    log = scratch / name / "log"
    with log.open("wb") as out:
        status = subprocess.call(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    text = log.read_text("utf-8", "replace")
    stats = dict(_STAT.findall(text))
    executions = int(stats.get("number_of_executed_units", "0"))
    found = sorted(crashes.iterdir())
    if found:
        FINDINGS.mkdir(exist_ok=True)
        for path in found:
            data = path.read_bytes()
            target = FINDINGS / f"{name}-{hashlib.sha256(data).hexdigest()[:12]}"
            shutil.copyfile(path, target)
            text += f"\nsaved {target.relative_to(ROOT)} ({len(data)} bytes)"
    return executions, status, "\n".join(text.splitlines()[-60:])


def cmd_run(args: argparse.Namespace) -> int:
    names = _names(args.names)
    failed = []
    with tempfile.TemporaryDirectory(prefix="amanat-fuzz-") as tmp:
        scratch = Path(args.work) if args.work else Path(tmp)
        for name in names:
            started = time.monotonic()
            executions, status, tail = _fuzz_one(name, args.seconds, scratch)
            elapsed = time.monotonic() - started
            rate = executions / elapsed if elapsed else 0.0
            verdict = "ok" if status == 0 else f"FINDING (exit {status})"
            print(f"fuzz {name:20} {executions:9} executions {elapsed:6.1f} s "
                  f"{rate:8.0f}/s  {verdict}", flush=True)
            if status != 0:
                failed.append(name)
                print(tail, file=sys.stderr, flush=True)
    if failed:
        print(f"findings in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# Harnesses whose discoveries are mutations of the shared vectors, which stay out of the
# repository (their runs read the vectors from ../shared instead).
FROM_VECTORS = ("age_header", "age_armor", "age_decrypt", "merkle")
MERGE_MAX_FILES = 48
MERGE_MAX_BYTES = 192 * 1024


def cmd_merge(args: argparse.Namespace) -> int:
    """Add to the committed corpus the inputs of an earlier ``run --work DIR`` that bring
    coverage it lacks (libFuzzer -merge=1), smallest first, within a size budget."""
    for name in _names(args.names):
        found = Path(args.work) / name / "new"
        if name in FROM_VECTORS or not found.is_dir():
            continue
        committed = CORPUS / name
        with tempfile.TemporaryDirectory(prefix="amanat-fuzz-merge-") as tmp:
            argv = [sys.executable, "-m", "tests.fuzz", "_worker", name, "--", "-merge=1",
                    f"-max_len={_max_len(name)}", tmp, str(committed), str(found)]
            subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
            have = {hashlib.sha256(p.read_bytes()).digest() for p in committed.iterdir()}
            fresh = [p for p in Path(tmp).iterdir()
                     if hashlib.sha256(p.read_bytes()).digest() not in have]
            added = size = 0
            for path in sorted(fresh, key=lambda p: p.stat().st_size):
                length = path.stat().st_size
                if added == MERGE_MAX_FILES or size + length > MERGE_MAX_BYTES:
                    break
                data = path.read_bytes()
                (committed / f"m-{hashlib.sha256(data).hexdigest()[:16]}").write_bytes(data)
                added += 1
                size += length
        print(f"{name}: {added} of {len(fresh)} new inputs added ({size} bytes)")
    return 0


def _max_len(name: str) -> int:
    from tests.fuzz.harnesses import HARNESSES

    return HARNESSES[name].max_len


def cmd_worker(args: argparse.Namespace) -> int:
    import atheris  # type: ignore[import-untyped]

    with atheris.instrument_imports(include=INSTRUMENTED):
        from tests.fuzz.harnesses import HARNESSES
    target = HARNESSES[args.name].target

    def one_input(data: bytes) -> None:
        target(data)

    # libFuzzer runs argv[0] again for -merge (and -fork): make it a command that does.
    checkout = hashlib.sha256(f"{ROOT}\0{sys.executable}".encode()).hexdigest()[:12]
    again = Path(tempfile.gettempdir()) / f"amanat-fuzz-{os.getuid()}-{checkout}" / args.name
    again.parent.mkdir(mode=0o700, exist_ok=True)
    part = again.with_name(f".{args.name}.{os.getpid()}")
    part.write_text(f"#!/bin/sh\ncd '{ROOT}' && exec '{sys.executable}' -m tests.fuzz "
                    f"_worker {args.name} -- \"$@\"\n")
    part.chmod(0o700)
    os.replace(part, again)  # whole, even while another worker runs it
    atheris.Setup([str(again), *args.libfuzzer], one_input)
    atheris.Fuzz()
    return 0  # pragma: no cover - atheris.Fuzz exits the process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the harnesses and their corpora").set_defaults(
        func=cmd_list)
    seed = commands.add_parser("seed", help="write the writer seeds of the corpus")
    seed.add_argument("--force", action="store_true", help="rewrite those already there")
    seed.set_defaults(func=cmd_seed)
    run = commands.add_parser("run", help="fuzz harnesses with atheris")
    run.add_argument("names", nargs="*", metavar="NAME", help="harnesses, or all (default)")
    run.add_argument("--seconds", type=int, default=60, help="per harness (default 60)")
    run.add_argument("--work", metavar="DIR",
                     help="keep what the fuzzer discovers in DIR, to start from there next "
                          "time (default: a temporary directory)")
    run.set_defaults(func=cmd_run)
    replay = commands.add_parser("replay", help="run the corpus through the harnesses")
    replay.add_argument("names", nargs="*", metavar="NAME")
    replay.add_argument("--file", action="append", default=[],
                        help="replay this file instead of the corpus")
    replay.set_defaults(func=cmd_replay)
    merge = commands.add_parser("merge", help="add what a run discovered to the corpus")
    merge.add_argument("names", nargs="*", metavar="NAME")
    merge.add_argument("--work", metavar="DIR", required=True, help="the DIR of run --work")
    merge.set_defaults(func=cmd_merge)
    worker = commands.add_parser("_worker")
    worker.add_argument("name")
    worker.add_argument("libfuzzer", nargs=argparse.REMAINDER)
    worker.set_defaults(func=cmd_worker)
    args = parser.parse_args(argv)
    if args.command == "_worker" and args.libfuzzer[:1] == ["--"]:
        args.libfuzzer = args.libfuzzer[1:]
    return int(args.func(args))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
