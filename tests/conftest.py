"""Shared fixtures. Data tests read the real data under $MMER_DATA_DIR; they skip when a data
set is absent, except with MMER_REQUIRE_DATA=1 (set by .ci/run), where absence is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REQUIRE_DATA = os.environ.get("MMER_REQUIRE_DATA") == "1"


def real_dataset(name: str) -> Path:
    from mmer_utils import config
    from mmer_utils.datasets import get_spec
    from mmer_utils.video.assets import ASSETS

    folder = ASSETS[name].folder if name in ASSETS else get_spec(name).folder  # data set or model file
    path = config.data_root(must_exist=False) / folder
    if not path.is_dir():
        message = f"real data set {name} not found at {path} (set MMER_DATA_DIR)"
        if REQUIRE_DATA:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def isolated_root(tmp_path, monkeypatch):
    """An empty data root and cache, so a test cannot touch the real data or the user's cache."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("MMER_DATA_DIR", str(root))
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MMER_METRICS_DIR", str(tmp_path / "metrics"))
    return root


# --------------------------------------------------------------------------- counts for `make test`

_SESSION_START = []


def pytest_sessionstart(session):
    import time

    _SESSION_START.append(time.perf_counter())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """With MMER_PYTEST_COUNTS=path.json (set by `make test`), save this run's outcome counts
    there: the Makefile sums its two runs (unit tests, notebooks) into one final summary line."""
    path = os.environ.get("MMER_PYTEST_COUNTS")
    if path:
        import time

        from pytest_counts import save

        start = _SESSION_START[0] if _SESSION_START else time.perf_counter()
        save(path, terminalreporter.stats, time.perf_counter() - start, exitstatus)
