"""The audio chapter's notebooks write some of the package's code out in their cells; these tests run those cells
(found by their first line, as ``test_notebook_architectures`` does) and check them against the package and librosa,
so a notebook cell that drifts from what it claims to compute fails here and not only in a full notebook run."""
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MFCC_MARKER = "# MFCC in NumPy: "


def marked_cell(rel: str, marker: str) -> str:
    """The source of the one code cell of ``notebooks/<rel>`` whose first line starts with ``marker``."""
    nb = json.loads((REPO / "notebooks" / rel).read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    found = [s for s in cells if s.splitlines() and s.splitlines()[0].startswith(marker)]
    assert len(found) == 1, f"{rel}: {len(found)} code cells start with {marker!r} (expected one)"
    return found[0]


@pytest.fixture(scope="module")
def mfcc_numpy():
    ns = {"np": np, "__name__": "notebook_cell"}
    exec(compile(marked_cell("02_audio/01_signal_processing.ipynb", MFCC_MARKER), "02_audio/01 (MFCC in NumPy)",
                 "exec"), ns)
    return ns["mfcc_numpy"]


def _voice_like(seconds=1.3, sr=16000, seed=0):
    """A synthetic vowel-like signal: harmonics of a gliding 140-220 Hz pitch, an amplitude envelope and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 80 * t / seconds
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 20))
    y = y * np.hanning(len(t)) + 0.01 * rng.standard_normal(len(t))
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


@pytest.mark.parametrize("kwargs", [{}, {"n_mfcc": 20, "n_mels": 64}, {"alpha": 0.0}], ids=["default", "64-bands", "no-preemphasis"])
def test_notebook_mfcc_matches_librosa_and_the_package(mfcc_numpy, kwargs):
    librosa = pytest.importorskip("librosa")
    from mmer_utils.audio import dsp

    y, sr = _voice_like(), 16000
    n_mfcc, n_mels, alpha = kwargs.get("n_mfcc", 13), kwargs.get("n_mels", 40), kwargs.get("alpha", 0.97)
    ours = mfcc_numpy(y, sr, **kwargs)
    emphasised = librosa.effects.preemphasis(y, coef=alpha, zi=[0.0]) if alpha else y
    reference = librosa.feature.mfcc(y=emphasised, sr=sr, n_mfcc=n_mfcc, n_mels=n_mels, n_fft=512, hop_length=160,
                                     win_length=400, window="hamming")
    package = dsp.mfcc(y, sr, n_mfcc=n_mfcc, n_mels=n_mels, preemphasis=alpha or None)
    assert ours.shape == reference.shape == (n_mfcc, 1 + len(y) // 160)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-3 * scale)  # librosa's filterbank is float32
    np.testing.assert_allclose(ours, package, rtol=0, atol=1e-6 * scale)


def test_notebook_mfcc_sees_a_change_of_the_signal(mfcc_numpy):
    """Not a constant: 20 dB louder (the floor moves with the peak) adds 20 dB x sqrt(n_mels) to c0 (orthonormal
    DCT of a constant) and leaves c1.. unchanged; another signal gives other coefficients."""
    y = _voice_like()
    a, b = mfcc_numpy(y), mfcc_numpy(10 * y)
    np.testing.assert_allclose(b[0] - a[0], 20 * np.sqrt(40), rtol=1e-6)
    np.testing.assert_allclose(b[1:], a[1:], atol=1e-6 * np.abs(a).max())
    assert np.abs(mfcc_numpy(_voice_like(seed=1)[::-1].copy()) - a).max() > 1


# --------------------------------------------------------------------------- 02_audio/03's helpers


def test_quick_subset_keeps_its_emotions_and_takes():
    pd = pytest.importorskip("pandas")
    from mmer_utils.audio import experiment

    df = pd.DataFrame({"emotion": ["angry", "fearful", "sad", "calm", "happy"], "repetition": [1, 1, 2, 3, 1],
                       "actor": [1, 2, 3, 4, 5]})
    settings = {"emotions": ("angry", "calm", "sad"), "repetitions": (1, 2)}
    out = experiment.quick_subset(df, settings)
    assert out.emotion.tolist() == ["angry", "sad"] and out.index.tolist() == [0, 1]


def test_fold_result_scores_and_averages_like_the_package():
    pytest.importorskip("keras")
    from mmer_utils.audio import experiment

    labels = ["angry", "calm", "sad"]
    y = np.array(["angry", "calm", "sad", "sad"], dtype=object)
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    res = experiment.fold_result(y, proba, labels, fold=0, test_actors=[1, 2], index=[10, 11, 12, 13])
    assert res.y_pred.tolist() == ["angry", "calm", "angry", "sad"]
    assert res.pooled["accuracy"] == pytest.approx(0.75)
    assert res.per_fold.loc[0, "test_actors"] == "1, 2" and res.index.tolist() == [10, 11, 12, 13]
    flipped = experiment.fold_result(y, proba[:, [0, 2, 1]], labels, fold=0, test_actors=[1, 2], index=res.index)
    both = experiment.average([res, flipped])  # soft voting: the mean of the two probability tables
    np.testing.assert_allclose(both.proba, (proba + proba[:, [0, 2, 1]]) / 2)
    with pytest.raises(ValueError, match="shape"):
        experiment.fold_result(y, proba[:, :2], labels, fold=0, test_actors=[1, 2])


def test_published_fold_runs_are_the_committed_folds():
    from mmer_utils import splits
    from mmer_utils.audio import experiment

    name = "CNN-LSTM (log-mel windows)"
    runs = experiment.published_fold_runs(name)
    folder = experiment.published_dir(name)
    on_disk = sorted(int(p.stem[4:]) for p in folder.glob("fold*.json")) if folder.is_dir() else []
    assert [r["fold"] for r in runs] == on_disk
    if not runs:
        pytest.skip("no fold of the full run is committed")
    for r in runs:
        assert r["row"]["fold"] == r["fold"]
        assert [int(a) for a in str(r["row"]["test_actors"]).split(",")] == list(splits.actor_folds()[r["fold"]])
        h = r["histories"][0]
        assert len(h["loss"]) == len(h["val_accuracy"]) >= int(r["row"]["best_epoch"]) >= 1
    with pytest.raises(ValueError, match="unknown model"):
        experiment.published_fold_runs("no such model")
