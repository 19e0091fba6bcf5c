"""Atomic writes: the target is replaced whole or not at all, and nothing is left behind."""

import json

import numpy as np
import pytest

from mmer_utils.atomic import (atomic_path, atomic_save_npy, atomic_save_npz, atomic_write_bytes,
                               atomic_write_json, atomic_write_text)


def test_writers_round_trip_and_leave_only_the_target(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "b.txt", "héllo")
    atomic_write_json(tmp_path / "c.json", {"x": [1, 2]}, indent=1)
    atomic_save_npy(tmp_path / "d.cache", np.arange(4))          # no ".npy" appended
    atomic_save_npz(tmp_path / "sub" / "e.npz", a=np.ones(2))     # the folder is created
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo"
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": [1, 2]}
    assert np.load(tmp_path / "d.cache").tolist() == [0, 1, 2, 3]
    assert np.load(tmp_path / "sub" / "e.npz")["a"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.bin", "b.txt", "c.json", "d.cache", "e.npz", "sub"]


def test_a_failed_write_keeps_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("good")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target, suffix=".keras") as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith(".keras") and tmp.name.startswith(".")
            tmp.write_text("half")
            raise KeyboardInterrupt  # Ctrl+C in the middle of a save
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
