"""Deep + classic voice models combined on the same actor folds (mmer_utils.audio.deep_and_classic,
``python -m mmer_utils.bench audio-stack``)."""

import numpy as np
import pandas as pd
import pytest

from mmer_utils.audio.deep_and_classic import soft_vote, stack_across_folds
from mmer_utils.evaluation import FoldResults

from conftest import real_dataset

LABELS = ["a", "b", "c"]


def _member(seed, y, n_folds, noise=0.3, index=None):
    rng = np.random.default_rng(seed)
    onehot = (np.asarray(y)[:, None] == np.array(LABELS)).astype(float)
    p = np.clip(onehot * 0.6 + 0.2 + rng.normal(0, noise, onehot.shape), 0.01, None)
    p /= p.sum(1, keepdims=True)
    n = len(y)
    per_fold = pd.DataFrame({"fold": range(n_folds), "n_test": n // n_folds})
    return FoldResults("demo", per_fold, {}, np.asarray(y, dtype=object),
                       np.array(LABELS, dtype=object)[p.argmax(1)],
                       np.arange(n) if index is None else index, 0.0, LABELS, proba=p)


def _labels(n, seed=0):
    return np.random.default_rng(seed).choice(LABELS, n)


def test_soft_vote_is_the_mean_of_the_members_probabilities_in_the_first_members_order():
    y = _labels(60)
    a = _member(1, y, 3)
    b = _member(2, y, 3)
    shuffled = np.random.default_rng(3).permutation(60)  # b's rows in another order: aligned by index
    b_shuffled = FoldResults("demo", b.per_fold, {}, b.y_true[shuffled], b.y_pred[shuffled], shuffled, 0.0,
                             LABELS, proba=b.proba[shuffled])
    vote = soft_vote([a, b_shuffled])
    np.testing.assert_allclose(vote.proba, (a.proba + b.proba) / 2)
    assert list(vote.y_pred) == [LABELS[k] for k in vote.proba.argmax(1)]
    assert vote.per_fold["accuracy"].between(0, 1).all()


def test_combinations_refuse_members_on_different_clips():
    y = _labels(60)
    a = _member(1, y, 3)
    b = _member(2, y, 3, index=np.arange(60) + 1)
    with pytest.raises(ValueError, match="same test clips"):
        soft_vote([a, b])


def test_stacking_never_sees_the_labels_of_the_fold_it_predicts():
    y = _labels(90)
    a, b = _member(1, y, 3), _member(2, y, 3)
    base = stack_across_folds([a, b]).proba
    # scramble fold 0's labels (rows 0-29): fold 0's predictions must not move, the others' must
    y2 = y.copy()
    y2[:30] = np.random.default_rng(9).permutation(y2[:30])[::-1]
    a2 = FoldResults("demo", a.per_fold, {}, y2.astype(object), a.y_pred, a.index, 0.0, LABELS, proba=a.proba)
    b2 = FoldResults("demo", b.per_fold, {}, y2.astype(object), b.y_pred, b.index, 0.0, LABELS, proba=b.proba)
    moved = stack_across_folds([a2, b2]).proba
    np.testing.assert_allclose(moved[:30], base[:30])
    assert not np.allclose(moved[30:], base[30:])


def test_stacking_needs_two_folds():
    y = _labels(30)
    with pytest.raises(ValueError, match="two folds or more"):
        stack_across_folds([_member(1, y, 1), _member(2, y, 1)])


@pytest.mark.data
def test_the_stack_benchmark_smoke_run_records_members_and_their_vote():
    from mmer_utils.bench import CHAPTERS, audio_stack

    real_dataset("ravdess")
    assert CHAPTERS["audio-stack"] == "mmer_utils.bench.audio_stack:run"
    records = audio_stack.run(False, "python -m mmer_utils.bench audio-stack")
    models = {r.model for r in records}
    assert audio_stack.CLASSIC not in models  # audio-classic's row, never overwritten here
    votes = [m for m in models if m.startswith("soft vote of ")]
    assert len(votes) == len(audio_stack.MODELS) + 1  # each deep model with the classic one, then all three
    assert all(0.0 <= r.value <= 1.0 for r in records)
    assert {r.metric for r in records} == {"accuracy", "macro_f1", "uar"}
