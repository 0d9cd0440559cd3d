"""Cosignatures with several workers on one PostgreSQL database. Cosignatures live in each
worker's memory (each carries a precise time, so none is written to the shared database):
every worker gathers its own from the roster's cosigners, so a receipt from any worker
carries a checkpoint cosigned by k of them, and an auditor who keeps nothing passes against
any worker. The cosigners see several workers send the same log and answer each with 409
and its size where needed; none is led to refuse the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.audit.serverkit import amanat
from tests.cosigner.test_collect import (
    _cosigners_on,
    _publish,
    _receipt,
    _start_cosigners,
)
from tests.cosigner.test_e2e import Cosigners, cosigners
from tests.pg.test_workers import Cluster, cluster_on_a_new_database
from vault.tlog.cosigning import CosigningPolicy

__all__ = ["cosigners"]


@pytest.fixture
def cluster(tmp_path: Path, postgres_server: str) -> Iterator[Cluster]:
    with cluster_on_a_new_database(tmp_path, postgres_server) as started:
        yield started


@pytest.mark.slow
def test_every_worker_gathers_its_own_cosignatures(
        cluster: Cluster, cosigners: Cosigners, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = cluster.workers[0]
    origin = httpx.get(first.url + "/api/v1/log/checkpoint", timeout=10).text.split("\n")[0]
    named = _start_cosigners(tmp_path, cosigners, origin, cluster.log_vkey)
    _publish(first, CosigningPolicy(2, tuple(named)))
    org = cluster.keys.org_vkey
    for round_ in range(2):  # the second round: every worker's cosigners already hold a size
        for number, worker in enumerate(cluster.workers):
            name = f"worker{number}-{round_}"
            receipt = _receipt(worker, tmp_path, name)
            assert _cosigners_on(receipt) >= 2, (name, receipt.read_text())
            assert (tmp_path / f"{name}.check").read_text() == ""  # cosigned, as required
    for worker in cluster.workers:
        cosigned = httpx.get(worker.url + "/api/v1/log/checkpoint/cosigned", timeout=10)
        assert cosigned.status_code == 200
        status, out, err = amanat(capsys, "audit", "verify", "--server", worker.url,
                                  "--org", org)
        assert status == 0, err
        assert "cosigned by" in out
