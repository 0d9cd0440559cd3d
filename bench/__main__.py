"""Run every benchmark module (`python -m bench`) and summarise how each one went.

Each module prints its own table of figures, ratios and goals; this runner adds a header
before each and a summary after all. A module that is not there yet is reported as absent,
one that crashes as failed (with its traceback), and the exit status is non-zero if any
failed. Adding a benchmark is one line in BENCH_MODULES.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

# Run in this order; each module exposes main() -> int | None (non-zero: failed).
BENCH_MODULES: tuple[str, ...] = (
    "bench.age_bench",
    "bench.keys_bench",
    "bench.signature_bench",
    "bench.auditlog_bench",
    "bench.cosign_bench",
    "bench.pglog_bench",
    "bench.scaleout_bench",
    "bench.service_bench",
    "bench.load_bench",
    "bench.memory_bench",
    "bench.web_bench",
)


def run_module(name: str) -> tuple[str, float]:
    """Import and run one bench module; return its status word and its wall time."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return "absent", 0.0
        traceback.print_exc()
        return "FAILED", time.perf_counter() - started
    try:
        status = module.main()
    except Exception:
        traceback.print_exc()
        return "FAILED", time.perf_counter() - started
    elapsed = time.perf_counter() - started
    return ("ok" if not status else f"FAILED (exit {status})"), elapsed


def main() -> int:
    results: list[tuple[str, str, float]] = []
    for name in BENCH_MODULES:
        print(f"\n=== {name} ===", flush=True)
        status, elapsed = run_module(name)
        if status == "absent":
            print("(not present; skipped)")
        results.append((name, status, elapsed))
        sys.stdout.flush()

    width = max(len(name) for name, _, _ in results)
    print("\n=== summary ===")
    print(f"{'module':<{width}}  {'status':<16}  {'time':>8}")
    for name, status, elapsed in results:
        shown = f"{elapsed:7.1f}s" if status != "absent" else "-"
        print(f"{name:<{width}}  {status:<16}  {shown:>8}")
    return 1 if any(status.startswith("FAILED") for _, status, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
