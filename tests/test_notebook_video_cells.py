"""Cells of the video chapter's notebooks that can drift from the package: the quick settings of 03_video/03 (they
must learn more than one class), the by-hand compile/fit cell (same optimizer and callbacks as
``models.make_estimator``), readable curves (whole epochs), and the "what went wrong" helpers."""
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DEEP = "03_video/03_deep_models.ipynb"


def code_cells(rel: str) -> list[str]:
    nb = json.loads((REPO / "notebooks" / rel).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def by_hand_cell() -> str:
    found = [s for s in code_cells(DEEP) if ".compile(" in s and ".fit(" in s]
    assert len(found) == 1, f"{DEEP}: {len(found)} cells compile and fit a model (expected one)"
    return found[0]


def number(pattern: str, text: str) -> float:
    m = re.search(pattern, text, flags=re.S)
    assert m, f"not found in the notebook's compile/fit cell: {pattern}"
    return float(m.group(1))


# --------------------------------------------------------------------------- quick settings


def test_quick_settings_give_hundreds_of_weight_updates():
    from mmer_utils.video import experiment

    q = experiment.NOTEBOOK_QUICK
    for kind in ("simple_cnn", "mini_xception", "larger_cnn"):
        s = experiment.notebook_settings(kind, quick=True)
        assert s["epochs"] == q["epochs"] and s["batch_size"] == q["batch_size"]
        steps = (q["train"] // s["batch_size"]) * s["epochs"]
        assert steps >= 300, kind  # a few hundred weight updates: less learns next to nothing
        if kind in experiment.WITH_BATCHNORM:
            # the moving averages (used at prediction) must forget their start values (variance 1) in that many
            # steps: with Keras' 0.99, 0.99^500 ~ 0.007 of it stays, more than the real variance of the activations
            assert s["bn_momentum"] ** steps < 1e-6, (kind, s["bn_momentum"], steps)
        else:
            assert "bn_momentum" not in s, kind  # the simple CNN has no BatchNorm (its builder has no such argument)
    full = experiment.notebook_settings("mini_xception", quick=False)
    assert full == experiment.deep_settings("mini_xception")
    assert experiment.notebook_settings("mini_xception", quick=True, epochs=3)["epochs"] == 3


def synthetic_faces(n_per_class: int, seed: int):
    """Seven 'emotions' as horizontal stripes of 1..7 cycles per face (unchanged by a mirror image or a small shift),
    plus noise: float (n, 48, 48, 1) in [0, 1]."""
    rng = np.random.default_rng(seed)
    rows = np.arange(48) / 48.0
    X, y = [], []
    for k in range(7):
        for _ in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi)
            stripes = 0.5 + 0.4 * np.sin(2 * np.pi * (k + 1) * rows + phase)
            face = np.repeat(stripes[:, None], 48, axis=1) + rng.normal(0, 0.1, (48, 48))
            X.append(np.clip(face, 0, 1))
            y.append(k)
    X = np.asarray(X, dtype="float32")[..., None]
    y = np.asarray(y)
    order = rng.permutation(len(y))
    return X[order], y[order]


def learns_synthetic_faces(kind: str) -> dict:
    """The notebook's quick network of ``kind``, trained as the notebook trains it, on easy synthetic faces."""
    pytest.importorskip("keras")
    from mmer_utils.video import experiment

    X, y = synthetic_faces(100, seed=0)
    Xv, yv = synthetic_faces(20, seed=1)
    data = {"train": (X, y), "val": (Xv, yv), "test": (Xv, yv)}
    est = experiment.fit_deep(kind, data, settings=experiment.notebook_settings(kind, quick=True), resumable=False)
    return experiment.prediction_check(yv, est.predict_proba(Xv), y)


def test_quick_simple_cnn_learns_more_than_one_class():
    """The quick simple CNN must not collapse to one class (what 1-2 epochs of ~15 batches did)."""
    check = learns_synthetic_faces("simple_cnn")
    assert check["n_predicted"] >= 3, check["counts"]
    assert not check["collapsed"] and not check["below_chance"], check


def test_quick_mini_xception_learns_more_than_one_class():
    """The tiny mini-XCeption reaches ~0.9 training accuracy on these faces in ~170 steps; with Keras' BatchNorm
    momentum (0.99) its moving averages kept their start values and it answered one class at prediction time
    (03_video/03 section 7b). The quick settings' ``bn_momentum`` fixes that."""
    check = learns_synthetic_faces("mini_xception")
    assert check["n_predicted"] >= 3, check["counts"]
    assert not check["collapsed"] and not check["below_chance"], check


def test_quick_larger_cnn_learns_more_than_one_class():
    check = learns_synthetic_faces("larger_cnn")
    assert check["n_predicted"] >= 3, check["counts"]
    assert not check["collapsed"] and not check["below_chance"], check


# --------------------------------------------------------------------------- the by-hand cell


def test_by_hand_cell_trains_as_the_package_does():
    from mmer_utils import training
    from mmer_utils.video import models

    cell = by_hand_cell()
    est = inspect.signature(models.make_estimator).parameters
    cb = inspect.signature(training.standard_callbacks).parameters
    assert "drop_remainder=True" in cell, "training batches must be equal (oneDNN crash on a partial last batch)"
    assert "tf.data.Dataset" in cell and ".fit(train_ds" in cell, "fit on a tf.data pipeline"
    assert number(r"Adam\(learning_rate=([0-9.e-]+)\)", cell) == est["learning_rate"].default
    assert number(r"EarlyStopping\([^)]*patience=(\d+)", cell) == est["patience"].default
    assert number(r"ReduceLROnPlateau\([^)]*patience=(\d+)", cell) == est["lr_patience"].default
    assert number(r"ReduceLROnPlateau\([^)]*factor=([0-9.]+)", cell) == cb["lr_factor"].default
    assert number(r"ReduceLROnPlateau\([^)]*min_lr=([0-9.e-]+)", cell) == cb["min_lr"].default
    assert "restore_best_weights=True" in cell
    assert '"sparse_categorical_crossentropy"' in cell
    # make_estimator weights the classes by default: the cell must too
    assert est["class_weight"].default == "balanced" and "training.class_weights(" in cell
    assert "verbose=0" in cell, "no progress bar in the saved notebook"


# --------------------------------------------------------------------------- curves


def test_curves_have_whole_epoch_ticks():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmer_utils import training

    history = {"loss": [1.9, 1.7, 1.6], "val_loss": [1.95, 1.8, 1.85], "accuracy": [0.2, 0.3, 0.35],
               "val_accuracy": [0.18, 0.25, 0.24]}
    axes = training.plot_history(history)
    for ax in np.atleast_1d(axes):
        ax.figure.canvas.draw()
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    plt.close("all")


def test_deep_notebook_draws_its_curves_with_whole_epochs():
    cells = "\n".join(code_cells(DEEP))
    assert cells.count("training.plot_history(") >= 3
    assert cells.count("training.integer_epochs(") >= 3
    assert "experiment.plot_history(" not in cells and "MaxNLocator" not in cells   # one helper: training's


# --------------------------------------------------------------------------- what went wrong


def test_what_went_wrong_names_a_collapse():
    from mmer_utils.video import experiment

    y_true = np.repeat(np.arange(7), 10)
    y_train = np.r_[np.zeros(30, int), np.arange(7)]
    proba = np.full((70, 7), 0.01)
    proba[:, 1] = 0.9  # every face: 'disgust'
    check = experiment.prediction_check(y_true, proba, y_train)
    assert check["collapsed"] and check["n_predicted"] == 1 and check["below_majority"] and check["below_chance"]
    lines = experiment.what_went_wrong(check)
    assert any(line.startswith("collapse") and "disgust" in line for line in lines)
    assert not any("learned something" in line for line in lines)


def test_what_went_wrong_says_when_a_model_learned_and_over_fits():
    from mmer_utils.video import experiment

    y_true = np.repeat(np.arange(7), 10)
    proba = np.eye(7)[y_true] * 0.9 + 0.01
    proba[:5] = np.eye(7)[(y_true[:5] + 1) % 7]  # a few mistakes
    check = experiment.prediction_check(y_true, proba, y_true)
    assert not check["collapsed"] and not check["below_majority"] and not check["below_chance"]
    history = {"accuracy": [0.5, 0.9, 0.95], "val_accuracy": [0.4, 0.5, 0.45]}
    lines = experiment.what_went_wrong(check, history)
    assert lines[0].startswith("learned something")
    assert any(line.startswith("over-fitting") for line in lines)
    assert not any("still improving" in line for line in lines)
