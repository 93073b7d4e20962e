"""Fixtures of the tuning tests: the shared emulator (tests/emulated.py), the generated corpus,
a real 2-worker Dask cluster."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.tuning.corpus_gen import Corpus, make_corpus

__all__ = ["corpus", "dask_cluster"]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The generated corpus (see tests/tuning/corpus_gen.py); tests must not change it."""
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """A real local Dask cluster: 2 single-threaded worker processes on loopback."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)  # fmt: skip
    try:
        yield cluster
    finally:
        cluster.close()
