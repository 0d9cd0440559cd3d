"""Every corpus file (and every seed made from the shared vectors) through its harness.

Quick (no atheris, no coverage guidance): it keeps the harnesses working and replays every
crash that fuzzing once found (``crash-*`` files), so a parser that regresses fails here.
Fuzzing itself is ``python -m tests.fuzz run`` (tests/fuzz/__main__.py).
"""

from __future__ import annotations

import pytest

from tests.fuzz.__main__ import CORPUS
from tests.fuzz.harnesses import HARNESSES
from tests.fuzz.seeds import corpus_files, read_all, vector_seeds, writer_seeds


@pytest.mark.parametrize("name", list(HARNESSES))
def test_corpus_replays_without_findings(name: str) -> None:
    harness = HARNESSES[name]
    files = corpus_files(CORPUS / name)
    assert files, f"tests/fuzz/corpus/{name} is empty: run `python -m tests.fuzz seed`"
    for label, data in [*read_all(files), *vector_seeds(name)]:
        try:
            harness.target(data)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{name}: {label}: {type(exc).__name__}: {exc}")


def test_every_corpus_directory_has_a_harness() -> None:
    assert {p.name for p in CORPUS.iterdir() if p.is_dir()} <= set(HARNESSES)


def test_the_writers_still_make_the_seeds() -> None:
    """The seeds come from the project's own writers; those still produce inputs that each
    harness takes without a finding."""
    for name, seeds in writer_seeds().items():
        for data in seeds.values():
            HARNESSES[name].target(data)
