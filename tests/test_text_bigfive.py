"""Big Five models and their cross-validation: honest folds, binary independent traits, real learning."""

from functools import partial

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from mmer_utils.splits import kfold_indices
from mmer_utils.text import bigfive


def _synthetic_corpus(n=200, seed=0):
    """Texts of random filler words; trait 0 is 1 exactly when the text holds "sunshine",
    trait 1 when it holds "thunder", trait 2 is random (nothing to learn)."""
    rng = np.random.default_rng(seed)
    filler = [f"word{i}" for i in range(60)]
    texts, Y = [], []
    for _ in range(n):
        words = list(rng.choice(filler, 30))
        y = rng.integers(0, 2, 3)
        if y[0]:
            words[rng.integers(30)] = "sunshine"
        if y[1]:
            words[rng.integers(30)] = "thunder"
        texts.append(" ".join(words))
        Y.append(y)
    return texts, np.array(Y)


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Records the row ids (first feature) of every fit: proves which rows a model saw."""

    seen: list = []

    def __init__(self, dummy=0):
        self.dummy = dummy

    def fit(self, X, y):
        SpyClassifier.seen.append(set(np.asarray(X)[:, 0].astype(int).tolist()))
        self.classes_ = np.unique(y)
        self.p_ = float(np.mean(y))
        return self

    def predict_proba(self, X):
        p = np.full(len(X), self.p_)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _ids_as_features(X):
    return np.asarray([[int(t.split("_")[1])] for t in X], dtype=float)


def test_outer_and_inner_cv_never_touch_test_rows():
    n = 60
    texts = [f"row_{i}" for i in range(n)]
    Y = np.random.default_rng(1).integers(0, 2, (n, 5))
    folds = kfold_indices(n, n_splits=3, seed=42)
    SpyClassifier.seen = []
    model = bigfive.TraitClassifier(FunctionTransformer(_ids_as_features), SpyClassifier(),
                                    param_grid={}, inner_cv=3)
    bigfive.TraitClassifier(FunctionTransformer(_ids_as_features), SpyClassifier()).fit(texts[:6], Y[:6])
    SpyClassifier.seen = []
    cv = bigfive.cross_validate_bigfive(model, texts, Y, folds)
    assert len(cv) == 3 and cv["n_test"].sum() == n
    assert len(SpyClassifier.seen) == 3 * 5  # one fit per trait per fold, no grid
    for k, (tr, te) in enumerate(folds):
        for seen in SpyClassifier.seen[5 * k: 5 * (k + 1)]:
            assert seen == set(tr.tolist()) and not seen & set(te.tolist())

    # with a grid: every inner fit (search folds and refit) stays inside the outer training rows
    SpyClassifier.seen = []
    grid = bigfive.TraitClassifier(FunctionTransformer(_ids_as_features), SpyClassifier(), inner_cv=3,
                                   param_grid={"dummy": [0, 1]})
    tr, te = folds[0]
    grid.fit(bigfive.take(texts, tr), Y[tr])
    assert len(SpyClassifier.seen) == 5 * (2 * 3 + 1)  # per trait: 2 candidates x 3 inner folds + refit
    for seen in SpyClassifier.seen:
        assert seen <= set(tr.tolist()) and not seen & set(te.tolist())
    sizes = sorted({len(s) for s in SpyClassifier.seen})
    assert sizes[-1] == len(tr) and sizes[0] < len(tr)  # inner folds hold training rows out; refit uses all
    assert all(p["dummy"] in (0, 1) for p in grid.best_params_)


def test_overlapping_folds_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        bigfive.cross_validate_bigfive(bigfive.MajorityTraits, list("abcd"), np.zeros((4, 5), int),
                                       [(np.array([0, 1, 2]), np.array([2, 3]))])


def test_tfidf_lr_learns_a_word_and_traits_are_independent_binaries():
    texts, Y = _synthetic_corpus()
    folds = kfold_indices(len(texts), n_splits=4, seed=42)
    model = bigfive.TraitClassifier(bigfive.make_vectorizer("tfidf", min_df=1), LogisticRegression(solver="liblinear"),
                                    param_grid={"C": [1.0, 10.0, 100.0]})
    cv = bigfive.cross_validate_bigfive(model, texts, Y, folds, traits=("SUN", "THU", "RND"))
    assert cv["SUN"].mean() > 0.9 and cv["THU"].mean() > 0.9
    assert cv["RND"].mean() < 0.75  # pure noise: nothing to learn
    proba = cv.attrs["proba"]
    assert proba.shape == Y.shape and np.all((proba >= 0) & (proba <= 1))
    # five (here three) independent binaries, not a softmax: the rows do not sum to 1
    assert not np.allclose(proba.sum(axis=1), 1.0)
    fitted = model.fit(texts, Y)
    pred = fitted.predict(texts[:10])
    assert pred.shape == (10, 3) and set(np.unique(pred)) <= {0, 1}
    assert len(fitted.best_params_) == 3
    # a text with both words is high on both traits at once
    assert fitted.predict(["sunshine thunder word1"]).tolist()[0][:2] == [1, 1]


def test_majority_baseline_and_summary():
    Y = np.array([[1, 0, 1, 0, 1]] * 7 + [[0, 1, 0, 1, 0]] * 3)
    folds = kfold_indices(10, n_splits=5, seed=42)
    res = {"majority": bigfive.cross_validate_bigfive(bigfive.MajorityTraits, [""] * 10, Y, folds)}
    table = bigfive.summary_table(res)
    assert table.loc["majority", "mean"] == pytest.approx(0.7)
    assert table.loc["majority", "vs_baseline"] == 0.0
    ax = bigfive.plot_summary(table)
    assert ax.get_ylabel() == "accuracy"


def test_style_features_count_what_they_say():
    f = bigfive.style_features("I can't go. I won't! Maybe we should?")
    assert f["i"] == pytest.approx(2 / 8)
    assert f["negation"] == pytest.approx(2 / 8)
    assert f["tentative"] > 0 and f["we"] > 0 and f["exclamation"] > 0 and f["question"] > 0
    X = bigfive.StyleFeatures().fit_transform(["Hello.", "I I I"])
    assert X.shape == (2, len(bigfive.StyleFeatures().fit([]).feature_names_))


def test_stacked_model_beats_noise_on_synthetic_words():
    texts, Y = _synthetic_corpus(n=200, seed=3)
    base = bigfive.TraitClassifier(bigfive.make_vectorizer("tfidf", min_df=1), LogisticRegression(C=100, solver="liblinear"))
    stacked = bigfive.StackedTraits({"tfidf": base}, cv=3)
    tr, te = np.arange(150), np.arange(150, 200)
    stacked.fit(bigfive.take(texts, tr), Y[tr])
    acc = (stacked.predict(bigfive.take(texts, te)) == Y[te]).mean(axis=0)
    assert acc[0] > 0.85 and acc[1] > 0.85


def test_tiny_keras_models_fit_and_predict_shapes():
    pytest.importorskip("keras")
    from mmer_utils.text import models

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    tokens = [list(rng.choice(words, 24)) for _ in range(48)]
    Y = np.array([[int("w1" in t), int("w2" in t), 0, 1, int(len(set(t)) > 15)] for t in tokens])
    lstm = models.build_lstm((24,), 5, vocab_size=40, embedding_dim=8, lstm_units=4)
    assert lstm.output_shape == (None, 5) and lstm.layers[-1].activation.__name__ == "sigmoid"
    builders = [partial(models.build_cnn_lstm, filters=(4, 8), kernel_size=3, lstm_units=(4,), dense_units=4)]
    for build in builders:  # the source's CNN-LSTM, small, with Word2Vec weights trained in fit
        model = bigfive.KerasTraitClassifier(build, epochs=1, batch_size=16, max_len=24,
                                             w2v_params={"vector_size": 8, "epochs": 1})
        model.fit(pd.DataFrame({"tokens": tokens}), Y)
        proba = model.predict_proba(tokens[:7])  # 7: not a multiple of the batch size
        assert proba.shape == (7, 5) and np.all((proba >= 0) & (proba <= 1))
        assert model.predict(tokens[:3]).shape == (3, 5)
        assert model.model_.output_shape == (None, 5)
        assert model.model_.layers[-1].activation.__name__ == "sigmoid"


def test_word2vec_document_features_learn_from_the_training_texts_only():
    rng = np.random.default_rng(0)
    train = [list(rng.choice(["alpha", "beta", "gamma", "delta"], 12)) for _ in range(30)]
    test = [["omega", "omega", "alpha"], ["omega", "omega"]]  # "omega" only in the test texts
    feats = bigfive.Word2VecDocFeatures(vector_size=8, epochs=2, min_count=1).fit(pd.Series(train))
    assert "omega" not in feats.kv_.key_to_index and "alpha" in feats.kv_.key_to_index
    Z = feats.transform(test)
    assert Z.shape == (2, 8)
    assert np.allclose(Z[0], feats.kv_["alpha"], atol=1e-6) and np.allclose(Z[1], 0)  # unknown words skipped


def test_fold_cache_is_named_by_settings_and_reused(tmp_path):
    cat1, cat2 = bigfive.model_catalogue(quick=True), bigfive.model_catalogue(quick=True)
    for name in ("TF-IDF + LR", "stacked", "CNN-LSTM (source)"):  # partials and nested estimators: no memory address
        assert bigfive.settings_hash(model=cat1[name]()) == bigfive.settings_hash(model=cat2[name]())
    assert bigfive.settings_hash(model=cat1["TF-IDF + LR"]()) != bigfive.settings_hash(model=cat1["stacked"]())
    texts, Y = _synthetic_corpus(n=40)
    folds = kfold_indices(40, n_splits=2, seed=42)
    first = bigfive.cross_validate_bigfive(bigfive.MajorityTraits, texts, Y, folds, traits="ABC",
                                           cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold_0.npz", "fold_1.npz"]

    def must_not_train():
        raise AssertionError("a cached fold was trained again")

    again = bigfive.cross_validate_bigfive(must_not_train, texts, Y, folds, traits="ABC", cache_dir=tmp_path)
    assert np.allclose(first["mean"], again["mean"])


def test_averaged_model_is_the_mean_of_its_bases_fitted_on_the_training_rows():
    texts, Y = _synthetic_corpus(n=200, seed=4)
    tr, te = np.arange(150), np.arange(150, 200)
    bases = {"strong": bigfive.TraitClassifier(bigfive.make_vectorizer("tfidf", min_df=1),
                                               LogisticRegression(C=100, solver="liblinear")),
             "weak": bigfive.TraitClassifier(bigfive.make_vectorizer("tfidf", min_df=1),
                                             LogisticRegression(C=0.01, solver="liblinear"))}
    avg = bigfive.AveragedTraits(bases).fit(bigfive.take(texts, tr), Y[tr])
    assert not hasattr(bases["strong"], "estimators_")  # the bases given are clones' templates, left unfitted
    test = bigfive.take(texts, te)
    want = np.mean([m.predict_proba(test) for m in avg.base_models_.values()], axis=0)
    np.testing.assert_allclose(avg.predict_proba(test), want)
    acc = (avg.predict(test) == Y[te]).mean(axis=0)
    assert acc[0] > 0.85 and acc[1] > 0.85
    with pytest.raises(ValueError, match="base_models"):
        bigfive.AveragedTraits({}).fit(texts, Y)
