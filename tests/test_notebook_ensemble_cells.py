"""The ensemble chapter's notebooks (``notebooks/04_ensemble``) show code that the package also runs; these tests
keep the two from drifting apart:

* the training cell of ``02_audio_visual_fusion`` (``model.compile`` + ``model.fit`` on ``tf.data``) trains exactly
  like ``av.FusionNet.fit``: same losses epoch by epoch, same probabilities;
* the full-run tables the notebooks read from ``results/ensemble.json`` find the fields they use;
* each notebook draws its diagram (``mmer_utils.diagrams``).
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CHAPTER = REPO / "notebooks" / "04_ensemble"
TRAINING_MARKER = "# the training, as the package runs it: mmer_utils.fusion.audiovisual.FusionNet.fit"


def _code_cells(name: str) -> list[str]:
    nb = json.loads((CHAPTER / name).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _markdown(name: str) -> str:
    nb = json.loads((CHAPTER / name).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


# --------------------------------------------------------------------------- 02: the visible training


def _training_namespace() -> dict:
    from test_notebook_architectures import fusion_namespace

    ns = fusion_namespace()  # the joint and attention networks, as written in the notebook
    cells = [s for s in _code_cells("02_audio_visual_fusion.ipynb") if s.splitlines()[:1] == [TRAINING_MARKER]]
    assert len(cells) == 1, f"02_audio_visual_fusion: {len(cells)} cells start with {TRAINING_MARKER!r}"
    ns.setdefault("SEED", 42)
    exec(compile(cells[0], "02_audio_visual_fusion (training cell)", "exec"), ns)
    return ns


@pytest.mark.parametrize("fusion,builder", [("concat", "joint_fusion_model"), ("attention", "attention_fusion_model")])
def test_notebook_training_is_the_package_training(fusion, builder):
    """Same data, same seed: the notebook's compile/fit and ``FusionNet.fit`` give the same losses and probabilities.
    A different optimizer, learning rate, loss, class weighting, callback setting, batching or standardisation
    changes the numbers."""
    keras = pytest.importorskip("keras")
    from test_notebook_architectures import BLOCKS
    from mmer_utils.fusion import audiovisual as av

    ns = _training_namespace()
    rng = np.random.default_rng(0)
    names = np.array(["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"])
    y = names[np.r_[np.arange(8), rng.integers(0, 8, 142)]]  # every class present, unbalanced
    X = rng.normal(size=(len(y), 455)) + 0.3 * np.searchsorted(names, y)[:, None] * (np.arange(455) % 7 == 0)
    y_val = names[rng.integers(0, 8, 40)]
    X_val = rng.normal(size=(40, 455)) + 0.3 * np.searchsorted(names, y_val)[:, None] * (np.arange(455) % 7 == 0)
    epochs, patience, seed = 6, 2, 7

    package = av.FusionNet(BLOCKS, fusion=fusion, epochs=epochs, patience=patience, seed=seed)
    package.fit(X, y, validation_data=(X_val, y_val))

    classes = np.unique(y)
    index = {c: i for i, c in enumerate(classes)}
    scale = ns["standardiser"](X)
    keras.utils.set_random_seed(seed)
    model = ns[builder](BLOCKS, len(classes))
    history = ns["train_fusion_net"](model, scale(X), np.array([index[c] for c in y]), scale(X_val),
                                     np.array([index[c] for c in y_val]), epochs=epochs, patience=patience, seed=seed)
    assert list(package.classes_) == list(classes)
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(history.history[key], package.history_[key], rtol=1e-5, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(model.predict(scale(X_val), verbose=0), package.predict_proba(X_val), atol=1e-5)


def test_training_cell_batches_are_complete():
    """TF 2.21 + Keras 3: training batches must be complete (oneDNN fails on a partial last batch)."""
    ns = _training_namespace()
    source = [s for s in _code_cells("02_audio_visual_fusion.ipynb") if s.startswith(TRAINING_MARKER)][0]
    assert "drop_remainder=True" in source and "model.compile(" in source and "model.fit(" in source
    assert callable(ns["train_fusion_net"]) and callable(ns["standardiser"])


# --------------------------------------------------------------------------- full-run tables read by the notebooks


def _ensemble_records() -> list[dict]:
    return json.loads((REPO / "results" / "ensemble.json").read_text(encoding="utf-8"))


def test_published_fusion_rows_have_what_02_reads():
    """02 (section 8) and 01 (late fusion) read, per method: value, command, date, machine, and in ``extra``
    fold_accuracy, n_clips and n_folds; corrupted-input rows are told apart by ``extra["corruption"]``."""
    from mmer_utils import labels
    from mmer_utils.fusion import audiovisual as av

    methods = av.fusion_methods({"audio": (0, 420), "face": (420, 455)}, quick=True)
    rows = [r for r in _ensemble_records() if r["metric"] == "accuracy" and r["model"] in methods
            and "corruption" not in r.get("extra", {})]
    assert {r["model"] for r in rows} == set(methods), "a method of the notebook has no published full-run row"
    for r in rows:
        assert {"value", "command", "date", "machine", "protocol"} <= set(r)
        extra = r["extra"]
        assert len(extra["fold_accuracy"]) == extra["n_folds"]
        assert 0 <= r["value"] <= 1 and extra["n_clips"] > 0
        # the pooled accuracy lies between the worst and the best fold
        assert min(extra["fold_accuracy"]) - 1e-3 <= r["value"] <= max(extra["fold_accuracy"]) + 1e-3
    assert len(labels.RAVDESS) == 8


def test_published_fer_rows_have_what_01_reads():
    """01 (section 5) groups the FER2013 rows by the parenthesis that ends their name and reads the reference model,
    its accuracy and McNemar's p-value."""
    rows = [r for r in _ensemble_records() if r["model"].startswith("FER2013 ") and r["metric"] == "accuracy"]
    assert rows, "results/ensemble.json has no FER2013 ensemble rows"
    groups = {re.search(r"\(([^()]*)\)$", r["model"]).group(1) for r in rows}
    assert groups == {"our models", "ours + fer peer"}
    for r in rows:
        extra = r["extra"]
        assert isinstance(extra["reference_model"], str) and 0 < extra["reference_accuracy"] < 1
        assert 0 <= extra["mcnemar_p_vs_reference"] <= 1


# --------------------------------------------------------------------------- diagrams


def test_the_chapter_has_its_diagrams():
    """Out-of-fold stacking (01) and query/key/value in cross-modal attention (02), drawn from the package
    (``mmer_utils.diagrams``; tests/test_diagrams.py checks that every name a notebook shows exists)."""
    assert 'diagrams.show("ensemble_oof_stacking")' in "\n".join(_code_cells("01_stacking.ipynb"))
    assert 'diagrams.show("ensemble_cross_attention_qkv")' in "\n".join(_code_cells("02_audio_visual_fusion.ipynb"))


# --------------------------------------------------------------------------- 03: the voice lesson


class _PerfectOnSentences:
    """A stand-in voice model: right on every whole sentence it is given, in the order of ``truth``."""

    sr = 16000

    def __init__(self, truth):
        from mmer_utils import labels

        self.labels = list(labels.RAVDESS)
        self.truth = list(truth)

    def predict_proba(self, signals):
        assert len(signals) == len(self.truth) and all(len(s) > 0 for s in signals)
        proba = np.zeros((len(signals), len(self.labels)))
        proba[np.arange(len(signals)), [self.labels.index(t) for t in self.truth]] = 1
        return proba


def _run_voice_lesson(tmp_path, window_right):
    import contextlib
    import io
    import types

    import pandas as pd
    import soundfile as sf
    from mmer_utils import labels

    cells = [s for s in _code_cells("03_candidate_portrait.ipynb") if "voice[\"window\"]" in s]
    assert len(cells) == 1, "03_candidate_portrait: the voice lesson cell is missing or duplicated"
    wav = tmp_path / "answer.wav"
    rng = np.random.default_rng(0)
    sf.write(wav, (0.1 * rng.standard_normal(6 * 16000)).astype(np.float32), 16000)
    truth = pd.DataFrame({"start": [0.0, 3.0], "end": [2.5, 5.5], "label": ["happy", "sad"]})
    # windows of 2 s every second: [0, 2] and [3, 5] inside a sentence, [1, 3] and [2, 4] across the pause
    voice = pd.DataFrame({"start": [0.0, 1.0, 2.0, 3.0], "end": [2.0, 3.0, 4.0, 5.0]})
    voice["time"] = (voice.start + voice.end) / 2
    voice["truth"] = ["happy", "happy", "sad", "sad"]
    voice["emotion"] = [t if ok else "angry" for t, ok in zip(voice.truth, window_right)]
    ns = {"np": np, "pd": pd, "labels": labels, "answer": {"audio": wav}, "truth_voice": truth, "voice": voice,
          "voice_acc": float(np.mean(window_right)), "voice_cv": 0.58,
          "models": types.SimpleNamespace(voice=_PerfectOnSentences(truth.label))}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(cells[0], "03_candidate_portrait (voice lesson)", "exec"), ns)
    return out.getvalue(), ns


def test_voice_lesson_explains_a_gap_between_sentences_and_windows(tmp_path):
    text, ns = _run_voice_lesson(tmp_path, window_right=[True, False, False, True])
    assert "100% of 2 right" in text and "50% of 4 right" in text
    assert list(ns["voice"]["window"]) == ["inside one sentence", "across a pause", "across a pause",
                                           "inside one sentence"]
    assert ns["by_window"].loc["inside one sentence", "accuracy"] == 1.0
    assert ns["by_window"].loc["across a pause", "accuracy"] == 0.0
    assert "What went wrong" in text and "below chance" not in text


def test_voice_lesson_says_nothing_went_wrong_when_windows_do_as_well(tmp_path):
    text, _ = _run_voice_lesson(tmp_path, window_right=[True, True, True, True])
    assert "What went wrong" not in text and "about as well" in text


def test_voice_lesson_flags_windows_below_chance(tmp_path):
    text, _ = _run_voice_lesson(tmp_path, window_right=[False, False, False, False])
    assert "below chance" in text and "What went wrong" in text
