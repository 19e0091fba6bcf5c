"""The one hash-keyed cache: settings -> folder, entry read back or computed and written atomically."""

import json

import numpy as np
import pytest

from mmer_utils import cache, config


def test_settings_key_is_the_audio_and_video_cache_key():
    from mmer_utils.audio.features import params_key

    settings = {"n_mels": 64, "fmax": None, "win": (128, 64)}
    assert cache.settings_key(settings) == params_key(settings) == cache.settings_key(dict(reversed(settings.items())))
    assert cache.settings_key({**settings, "n_mels": 40}) != cache.settings_key(settings)


def test_keyed_folder_records_its_settings(isolated_root):
    folder = cache.keyed_folder("demo", "sub", settings={"b": 2, "a": 1})
    assert folder == config.cache_dir("demo", "sub", cache.settings_key({"a": 1, "b": 2}))
    assert json.loads((folder / "params.json").read_text()) == {"a": 1, "b": 2}


def test_load_or_compute_computes_once_and_recomputes_a_damaged_entry(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3), "n": 7}

    path = tmp_path / "entry.npz"
    first = cache.load_or_compute(path, compute)
    again = cache.load_or_compute(path, compute)
    assert len(calls) == 1 and again["x"].tolist() == [0, 1, 2] and int(again["n"]) == 7
    assert sorted(first) == sorted(again)
    path.write_bytes(b"half a file")  # an interrupted copy: computed again and replaced
    assert cache.load_or_compute(path, compute)["x"].tolist() == [0, 1, 2] and len(calls) == 2
    assert cache.load_or_compute(None, compute)["n"] == 7 and len(calls) == 3  # no cache: always computed
    with pytest.raises(ValueError, match=".npy or .npz"):
        cache.load_or_compute(tmp_path / "entry.pkl", compute)
