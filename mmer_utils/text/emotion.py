"""Emotion in text: MELD utterances (7 emotions) and dair-ai tweets (6 emotions).

Three families of models, all scikit-learn estimators (``fit`` / ``predict`` /
``predict_proba``), so the ensemble chapter can stack them:

* :func:`tfidf_classifier`: TF-IDF of words (1-2 grams) and characters (2-5
  grams) + a linear model. Characters catch spelling variants ("soooo", "grr").
* :class:`NeuralTextClassifier`: word ids -> embedding -> bidirectional GRU ->
  softmax, trained from scratch with the course's Keras helpers.
* :class:`ContextClassifier` (MELD): the utterance *and* the turns before it in
  the dialogue, each with its own TF-IDF. "Oh really?" is surprise after "I'm
  getting married", anger after "I broke your TV": the context carries what the
  words alone do not. This is the idea behind M2FNet's text branch, which encodes
  the whole dialogue with a transformer.

Protocols: MELD is scored with the weighted F1 on its official test split,
models chosen on dev; dair-ai with accuracy and macro F1 on its test split,
models chosen on validation.

>>> clf = tfidf_classifier().fit(["i am so happy", "this is awful", "happy days", "awful news"],
...                              ["joy", "sadness", "joy", "sadness"])
>>> str(clf.predict(["a happy day"])[0])
'joy'
"""

from __future__ import annotations

import re
import time
from collections import Counter
from itertools import product
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .. import evaluation

_TOKEN = re.compile(r"[a-z0-9']+|[!?]")


def _tfidf_union(min_df: int = 2, max_char_features: int | None = 200_000) -> FeatureUnion:
    parts = [("words", TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True, lowercase=True))]
    if max_char_features:
        parts.append(("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=min_df,
                                               sublinear_tf=True, max_features=max_char_features)))
    return FeatureUnion(parts)


def tfidf_classifier(*, C: float = 4.0, class_weight: str | None = None, min_df: int = 2,
                     max_char_features: int | None = 200_000) -> Pipeline:
    """TF-IDF words + characters -> multinomial logistic regression (texts in, labels out).

    ``max_char_features=None`` (or 0) leaves the character n-grams out: faster, a little less accurate.
    """
    return Pipeline([
        ("tfidf", _tfidf_union(min_df, max_char_features)),
        ("clf", LogisticRegression(C=C, class_weight=class_weight, max_iter=3000)),
    ])


def dialogue_context(df: pd.DataFrame, *, n_previous: int = 3, with_speaker: bool = True) -> pd.Series:
    """The ``n_previous`` turns before each utterance of its dialogue, oldest first, as one string.

    ``df`` needs ``split``, ``dialogue_id``, ``utterance_id``, ``text`` (and ``speaker``);
    the first utterance of a dialogue gets an empty context.
    """
    out = pd.Series("", index=df.index, dtype=object)
    for _, dialogue in df.sort_values("utterance_id").groupby(["split", "dialogue_id"], sort=False):
        lines = [(f"{s}: {t}" if with_speaker else t) for s, t in zip(dialogue.get("speaker", ""), dialogue["text"])]
        for k, idx in enumerate(dialogue.index):
            out[idx] = " | ".join(lines[max(0, k - n_previous):k])
    return out


def _labels(X, y) -> np.ndarray:
    """``y`` as a 1-D array of class labels, as many as the rows of ``X`` (a clear error otherwise)."""
    y = column_or_1d(y, warn=True)  # a column vector is accepted, with a warning
    check_classification_targets(y)  # no continuous, NaN or infinite targets
    check_consistent_length(X, y)
    return y


class ContextClassifier(ClassifierMixin, BaseEstimator):
    """TF-IDF of the utterance and, separately, of its dialogue context -> logistic regression.

    ``X`` is a DataFrame with columns ``text`` and ``context`` (see :func:`dialogue_context`).
    ``context_weight`` scales the context features: 0 gives the utterance-only model.
    """

    def __init__(self, *, C: float = 4.0, context_weight: float = 0.5, class_weight: str | None = None,
                 min_df: int = 2, max_char_features: int | None = 200_000):
        self.C = C
        self.context_weight = context_weight
        self.class_weight = class_weight
        self.min_df = min_df
        self.max_char_features = max_char_features

    def _pipeline(self) -> Pipeline:
        columns = ColumnTransformer([
            ("text", _tfidf_union(self.min_df, self.max_char_features), "text"),
            ("context", TfidfVectorizer(ngram_range=(1, 2), min_df=self.min_df, sublinear_tf=True), "context"),
        ], transformer_weights={"text": 1.0, "context": self.context_weight})
        return Pipeline([("features", columns),
                         ("clf", LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=3000))])

    def fit(self, X, y):
        y = _labels(X, y)
        self.pipeline_ = self._pipeline().fit(pd.DataFrame(X)[["text", "context"]], y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.pipeline_.predict_proba(pd.DataFrame(X)[["text", "context"]])

    def predict(self, X):
        proba = self.predict_proba(X)  # first: it says when the model is not fitted
        return self.classes_[np.argmax(proba, axis=1)]


# --------------------------------------------------------------------------- neural


def tokenize_simple(text: str) -> list[str]:
    """Lowercase word tokens plus ``!`` and ``?`` (they carry emotion in short texts)."""
    return _TOKEN.findall(str(text).lower())


def build_bigru(input_shape, n_classes: int, *, vocab_size: int = 20000, embed_dim: int = 128, units: int = 64,
                dropout: float = 0.3):
    """Embedding -> bidirectional GRU -> dropout -> softmax (token ids in, emotion probabilities out)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape)
    x = layers.Embedding(vocab_size, embed_dim, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.GRU(units))(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="bigru_text")


class NeuralTextClassifier(ClassifierMixin, BaseEstimator):
    """Texts -> token ids (own vocabulary, 0 = padding, 1 = unknown) -> :func:`build_bigru`.

    Trained with :class:`mmer_utils.training.KerasEstimator` (complete batches,
    early stopping on ``validation_data``, best epoch kept).
    """

    def __init__(self, *, max_len: int = 48, vocab_size: int = 20000, embed_dim: int = 128, units: int = 64,
                 dropout: float = 0.3, epochs: int = 10, batch_size: int = 64, learning_rate: float = 2e-3,
                 patience: int = 3, class_weight: str | None = None, seed: int = 42, verbose: int = 0):
        self.max_len = max_len
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.class_weight = class_weight
        self.seed = seed
        self.verbose = verbose

    def _ids(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.max_len), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = [self.vocab_.get(t, 1) for t in tokenize_simple(text)][: self.max_len]
            out[i, : len(ids)] = ids
        return out

    def fit(self, X, y, *, validation_data=None):
        from functools import partial

        from ..training import KerasEstimator

        y = _labels(X, y)
        texts = list(X)
        counts = Counter(t for text in texts for t in tokenize_simple(text))
        words = [w for w, c in counts.most_common(self.vocab_size - 2) if c >= 2]
        self.vocab_ = {w: i + 2 for i, w in enumerate(words)}
        build = partial(build_bigru, vocab_size=len(self.vocab_) + 2, embed_dim=self.embed_dim, units=self.units,
                        dropout=self.dropout)
        self.keras_ = KerasEstimator(build, epochs=self.epochs, batch_size=self.batch_size,
                                     learning_rate=self.learning_rate, patience=self.patience,
                                     lr_patience=max(1, self.patience - 1), class_weight=self.class_weight,
                                     seed=self.seed, verbose=self.verbose,
                                     validation_split=0.0 if validation_data is not None else 0.1)
        val = None if validation_data is None else (self._ids(list(validation_data[0])), np.asarray(validation_data[1]))
        self.keras_.fit(self._ids(texts), np.asarray(y), validation_data=val)
        self.classes_ = self.keras_.classes_
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.keras_.predict_proba(self._ids(list(X)))

    def predict(self, X):
        proba = self.predict_proba(X)  # first: it says when the model is not fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def save(self, path) -> Path:
        """One ``.keras`` file (Keras' native format) with the vocabulary inside."""
        return self.keras_.save(path, metadata={"vocab": self.vocab_, "params": self.get_params()})

    @classmethod
    def load(cls, path) -> "NeuralTextClassifier":
        from ..training import KerasEstimator

        keras_est = KerasEstimator.load(path)
        meta = keras_est.metadata_
        clf = cls(**meta["params"])
        clf.vocab_, clf.keras_, clf.classes_ = meta["vocab"], keras_est, keras_est.classes_
        return clf


# --------------------------------------------------------------------------- protocol


def select_on_validation(make_model: Callable[..., BaseEstimator], grid: dict, X_train, y_train, X_val, y_val, *,
                         metric: str = "weighted_f1", fit_kwargs: Callable | None = None):
    """Try every combination of ``grid`` on the validation split.

    Returns ``(best_params, table, best_model)``: the winner is already fitted on
    ``(X_train, y_train)``. The test split is never touched here: the caller scores
    it once, with the chosen model.
    """
    rows, models = [], []
    keys = list(grid)
    for values in product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values))
        model = make_model(**params)
        start = time.perf_counter()
        model.fit(X_train, y_train, **(fit_kwargs(params) if fit_kwargs else {}))
        scores = evaluation.classification_scores(y_val, model.predict(X_val))
        rows.append({**params, **scores, "fit_seconds": time.perf_counter() - start})
        models.append(model)
    table = pd.DataFrame(rows)
    best_row = int(table[metric].to_numpy().argmax())  # first of the best: ties go to the earlier setting
    best = {k: (v.item() if hasattr(v, "item") else v) for k, v in table.loc[best_row, keys].items()}
    table = table.sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)
    return best, table, models[best_row]


def meld_frame(df: pd.DataFrame, *, n_previous: int = 3) -> pd.DataFrame:
    """MELD rows with a ``context`` column added (the dialogue turns before each utterance)."""
    out = df.copy()
    out["context"] = dialogue_context(out, n_previous=n_previous)
    return out
