"""Training in slices: an interrupted and resumed run ends with the weights of an uninterrupted one."""

import json
import os
import signal

import numpy as np
import pytest

from mmer_utils import checkpoints
from mmer_utils.checkpoints import CheckpointError, Plateau, fit_in_slices, read_state

keras = pytest.importorskip("keras")


def _build():
    # Augmentation and dropout: the random layers whose draws a resume must repeat.
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.RandomTranslation(0.1, 0.1)(x)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 8, 8, 1)).astype("float32") + y[:, None, None, None]
    return X, y


def _fit(folder, epochs, **kw):
    X, y = _data()
    Xv, yv = _data(48, seed=1)
    return fit_in_slices(_build, (X, y), (Xv, yv), folder=folder, epochs=epochs, batch_size=16,
                         optimizer=lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                         plateau=Plateau(monitor="val_loss", patience=50, lr_patience=1, factor=0.5),
                         settings={"test": 1}, verbose=0, **kw)


def test_interrupted_and_resumed_run_ends_with_the_same_weights(tmp_path):
    straight = _fit(tmp_path / "straight", epochs=5)
    assert straight.state.epoch == 5 and straight.state.finished and straight.stopped_by is None

    # SIGTERM during epoch 3: training stops after the current batch, epoch 2's checkpoint stays.
    def kill_after_second(state):
        if state.epoch == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    first = _fit(tmp_path / "sliced", epochs=5, on_epoch=kill_after_second)
    assert first.stopped_by == "SIGTERM" and first.state.epoch == 2 and not first.state.finished
    assert read_state(tmp_path / "sliced").epoch == 2
    resumed = _fit(tmp_path / "sliced", epochs=5)
    assert resumed.state.epoch == 5 and resumed.state.slices == 2
    for a, b in zip(straight.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert straight.state.history["val_loss"] == pytest.approx(resumed.state.history["val_loss"], abs=1e-6)
    # the learning-rate reductions (lr_patience=1) were replayed from the saved state too
    assert straight.state.history["learning_rate"] == resumed.state.history["learning_rate"]


def test_a_different_seed_gives_different_weights(tmp_path):
    # Guards the test above: if the seed did nothing, "the same weights" would prove nothing.
    a = _fit(tmp_path / "a", epochs=2)
    b = _fit(tmp_path / "b", epochs=2, seed=7)
    assert not all(np.allclose(x, y) for x, y in zip(a.model.get_weights(), b.model.get_weights()))


def test_large_files_are_split_and_a_tampered_part_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "PART_BYTES", 4096)
    _fit(tmp_path / "run", epochs=1)
    state = read_state(tmp_path / "run")
    parts = state.files["model"]
    assert len(parts) > 1 and all(p["bytes"] <= 4096 for p in parts)
    victim = tmp_path / "run" / parts[1]["name"]
    victim.write_bytes(b"x" + victim.read_bytes()[1:])
    with pytest.raises(CheckpointError, match="SHA-256"):
        _fit(tmp_path / "run", epochs=2)


def test_a_folder_of_another_run_is_refused(tmp_path):
    _fit(tmp_path / "run", epochs=1)
    raw = json.loads((tmp_path / "run" / "state.json").read_text())
    raw["settings"] = {"test": 2}
    (tmp_path / "run" / "state.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="another run"):
        _fit(tmp_path / "run", epochs=2)


def test_max_minutes_ends_a_slice_that_continues_later(tmp_path):
    first = _fit(tmp_path / "run", epochs=3, max_minutes=0)
    assert first.stopped_by == "max_minutes" and first.state.epoch == 0
    done = _fit(tmp_path / "run", epochs=3)
    assert done.state.epoch == 3 and done.state.finished


def test_reseeding_sets_every_random_layer():
    model = _build()
    assert checkpoints.reseed_random_layers(model, 42, 0) == 3
