"""Audio-visual fusion on RAVDESS: the voice and the face of the same clips, speaker-independent.

Each clip is described twice: by the audio chapter's 420 clip features of the
voice (:func:`mmer_utils.audio.features.extract_features`) and by the 35 clip-mean
OpenFace action units of the face video (``load_ravdess(with_action_units=True)``).
Both live side by side in one matrix ``X`` whose ``blocks`` name the columns of
each modality, so every fusion method is a scikit-learn estimator on the same ``X``:

=========================  ==================================================================
family                     estimator
=========================  ==================================================================
one modality               :func:`modality_model` (select the block, standardise, SVM or LR)
early fusion               :func:`early_fusion_model` (concatenate, balance the blocks, SVM)
late fusion                :class:`~mmer_utils.fusion.stacking.AveragingEnsemble` /
                           :class:`~mmer_utils.fusion.stacking.StackingEnsemble` over the
                           single-modality models (mean, product, weights learnt on the
                           validation actors, out-of-fold stacking)
intermediate fusion        :class:`FusionNet` ``fusion="concat"``: one Keras branch per
                           modality, fused at a hidden layer and trained end to end
cross-modal attention      :class:`FusionNet` ``fusion="attention"``: each modality becomes a
                           few tokens; audio tokens attend to face tokens and vice versa
=========================  ==================================================================

Protocol (:func:`evaluate_fusion`): the audio chapter's six actor folds
(:func:`mmer_utils.splits.iter_actor_splits`). Every method trains on the fold's
*train* actors (16), uses its *validation* actors (4) for every choice (C,
fusion weights, early stopping) and is scored once on the *test* actors (4).
Standardisation statistics come from the training actors only.

>>> data = load_audiovisual(quick=True)                                # doctest: +SKIP
>>> res = evaluate_fusion(lambda: early_fusion_model(data.blocks), data, folds=[0])  # doctest: +SKIP
>>> res.pooled["accuracy"]                                              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import config
from ..evaluation import Fold, FoldResults, headline_scores, pooled_results, rescored, run_folds
from ..evaluation import recall_table  # noqa: F401 (the notebooks call av.recall_table)
from ..labels import RAVDESS
from ..splits import actor_folds, iter_actor_splits
from .stacking import AveragingEnsemble, FusionInputError, StackingEnsemble, average_probas, fit_one

MODALITIES = ("audio", "face")
#: Test-time corruptions of :func:`evaluate_fusion`: (modality, mode).
DEFAULT_CORRUPTIONS = (("face", "missing"), ("audio", "missing"), ("face", "noise"), ("audio", "noise"))


# --------------------------------------------------------------------------- data


@dataclass
class AVData:
    """The clips of both modalities: ``X`` = [audio features | action units], ``blocks`` = name -> (start, end).

    Attributes
    ----------
    X : array (n, d)
    blocks : dict
        Modality -> (start, end) columns of ``X``.
    y, actors : array (n,)
        Emotion and actor of each clip.
    frame : DataFrame
        The clips' table (:func:`mmer_utils.datasets.load_ravdess`).
    feature_names : list of str
    """

    X: np.ndarray
    blocks: dict
    y: np.ndarray
    actors: np.ndarray
    frame: pd.DataFrame
    feature_names: list = field(default_factory=list)

    def modality(self, name: str) -> np.ndarray:
        """The columns of one modality.

        Parameters
        ----------
        name : str
            A key of ``blocks`` (e.g. ``"audio"``, ``"face"``).

        Returns
        -------
        array (n, d_modality)
            A view of ``X``.
        """
        start, end = self.blocks[name]
        return self.X[:, start:end]

    def __len__(self) -> int:
        return len(self.y)


def load_audiovisual(root=None, *, quick: bool = False, progress: bool = False, n_jobs: int = 1) -> AVData:
    """RAVDESS speech clips with their voice features and face action units, in one matrix.

    ``quick=True`` keeps the actors of the first three folds (720 clips): enough for
    folds 0 and 1. Audio features come from the audio chapter's on-disk cache
    (computed on first use).

    Parameters
    ----------
    root : str, Path or None
        The RAVDESS folder (default: the data directory's).
    quick : bool
        Only the actors of the first three folds.
    progress : bool
        Show the feature extraction's progress.
    n_jobs : int
        Parallel feature extraction.

    Returns
    -------
    AVData
    """
    from ..audio import features
    from ..datasets import load_ravdess

    df = load_ravdess(root, with_action_units=True)
    au_cols = [c for c in df.columns if c.startswith("AU") and c[-2:] in ("_r", "_c")]
    if len(au_cols) != 35 or df[au_cols].isna().any().any():
        raise FusionInputError(f"expected 35 action-unit columns without gaps for every clip, got {len(au_cols)}; "
                               "check video/openface_au_clipmean_speech.npz in the RAVDESS folder")
    if quick:
        keep = [a for fold in actor_folds()[:3] for a in fold]
        df = df[df.actor.isin(keep)].reset_index(drop=True)
    Xa = features.extract_features(df.path.tolist(), progress=progress, n_jobs=n_jobs)
    Xf = df[au_cols].to_numpy(dtype=np.float64)
    X = np.hstack([Xa, Xf])
    blocks = {"audio": (0, Xa.shape[1]), "face": (Xa.shape[1], X.shape[1])}
    names = features.feature_names() + au_cols
    return AVData(X=X, blocks=blocks, y=df.emotion.to_numpy(), actors=df.actor.to_numpy(), frame=df,
                  feature_names=names)


def _check_blocks(blocks, n_features: int | None = None) -> dict:
    if not blocks or not isinstance(blocks, dict):
        raise FusionInputError("blocks must be a dict modality -> (start, end) columns, e.g. data.blocks")
    for name, (start, end) in blocks.items():
        if not 0 <= start < end:
            raise FusionInputError(f"block {name!r} = ({start}, {end}) is not a (start, end) column range")
        if n_features is not None and end > n_features:
            raise FusionInputError(f"block {name!r} = ({start}, {end}) does not fit X with n_features={n_features}")
    return blocks


# --------------------------------------------------------------------------- building blocks


class SelectModality(TransformerMixin, BaseEstimator):
    """Keep the columns of one modality (``blocks[modality]``) of the fused matrix.

    Stateless (``fit`` checks the blocks against the width and records it).

    Parameters
    ----------
    blocks : dict
        Modality -> (start, end) columns.
    modality : str
        The block kept.
    """

    def __init__(self, blocks=None, modality: str = "audio"):
        self.blocks = blocks
        self.modality = modality

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # the columns kept depend on the parameters only
        return tags

    def _columns(self, n_features: int) -> slice:
        _check_blocks(self.blocks, n_features)
        if self.modality not in self.blocks:
            raise FusionInputError(f"unknown modality {self.modality!r}; blocks has {list(self.blocks)}")
        return slice(*self.blocks[self.modality])

    def fit(self, X, y=None):
        """Check ``X`` and the blocks (nothing is learnt).

        Parameters
        ----------
        X : array (n, n_features)
            The fused matrix.
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X)  # finite numbers; records n_features_in_
        self._columns(X.shape[1])
        return self

    def transform(self, X):
        """The columns of ``modality``.

        Parameters
        ----------
        X : array (n, n_features)
            The fused matrix, as wide as in ``fit``.

        Returns
        -------
        array (n, d_modality)
        """
        X = validate_data(self, X, reset=False)  # the width seen in fit, when fitted
        return X[:, self._columns(X.shape[1])]


class BalanceBlocks(TransformerMixin, BaseEstimator):
    """Rescale standardised columns so that every modality carries the same total variance.

    Concatenating 420 audio features with 35 action units lets the audio dominate any
    distance (an RBF kernel sees 12x more audio variance); each block is multiplied by
    ``sqrt(d / (n_blocks * d_block))``.

    Parameters
    ----------
    blocks : dict
        Modality -> (start, end) columns.
    """

    def __init__(self, blocks=None):
        self.blocks = blocks

    def fit(self, X, y=None):
        """Compute each block's scale from its width (the columns are already standardised).

        Parameters
        ----------
        X : array (n, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X)  # finite numbers; records n_features_in_
        _check_blocks(self.blocks, X.shape[1])
        self.scale_ = np.ones(X.shape[1])
        total = sum(e - s for s, e in self.blocks.values())
        for s, e in self.blocks.values():
            self.scale_[s:e] = np.sqrt(total / (len(self.blocks) * (e - s)))
        return self

    def transform(self, X):
        """``X`` with each block multiplied by its scale.

        Parameters
        ----------
        X : array (n, n_features)
            Standardised columns, as wide as in ``fit``.

        Returns
        -------
        array (n, n_features) of float64
        """
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float64, reset=False) * self.scale_


def _classifier(kind: str, C: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    from ..estimators import CalibratedSVC

    if kind == "svm":
        return CalibratedSVC(C=C, gamma="scale/3", random_state=seed)
    if kind == "logreg":
        return LogisticRegression(C=C, max_iter=3000)
    raise FusionInputError(f"kind must be 'svm' or 'logreg', got {kind!r}")


def modality_model(blocks: dict, modality: str, *, kind: str = "svm", C: float = 10.0, seed: int = 42):
    """One modality alone: select its columns -> StandardScaler -> RBF SVM (calibrated) or logistic regression.

    Parameters
    ----------
    blocks, modality
        As in :class:`SelectModality`.
    kind : {"svm", "logreg"}
    C : float
        Inverse regularisation.
    seed : int

    Returns
    -------
    sklearn.pipeline.Pipeline

    >>> modality_model({"audio": (0, 420), "face": (420, 455)}, "face", kind="logreg").steps[0][0]
    'select'
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("select", SelectModality(blocks, modality)), ("scale", StandardScaler()),
                     ("clf", _classifier(kind, C, seed))])


def early_fusion_model(blocks: dict, *, kind: str = "svm", C: float = 10.0, balance: bool = True, seed: int = 42):
    """Early fusion: both modalities' features concatenated -> StandardScaler -> [balance blocks] -> classifier.

    Parameters
    ----------
    blocks : dict
        Modality -> (start, end) columns.
    kind : {"svm", "logreg"}
    C : float
        Inverse regularisation.
    balance : bool
        Give every modality the same total variance (:class:`BalanceBlocks`).
    seed : int

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [("scale", StandardScaler())]
    if balance:
        steps.append(("balance", BalanceBlocks(blocks)))
    return Pipeline(steps + [("clf", _classifier(kind, C, seed))])


class ValidationSearch(ClassifierMixin, BaseEstimator):
    """Choose hyper-parameters on held-out validation data (here: the fold's validation actors).

    Fits one model per point of ``param_grid`` on the training data, keeps the one with
    the best ``scoring`` ("accuracy" or "log_loss") on ``validation_data``. Without
    ``validation_data`` the first grid point is used. ``best_params_`` says which.

    Parameters
    ----------
    estimator : scikit-learn classifier
        Cloned for each grid point.
    param_grid : dict or None
        As in ``GridSearchCV``.
    scoring : {"accuracy", "log_loss"}
    """

    def __init__(self, estimator=None, param_grid=None, *, scoring: str = "accuracy"):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:  # the inputs it takes are its estimator's
            inner = get_tags(self.estimator).input_tags
            tags.input_tags.sparse, tags.input_tags.allow_nan = inner.sparse, inner.allow_nan
        return tags

    def fit(self, X, y, validation_data=None, groups=None):
        """Fit one model per grid point on ``X``; keep the best on ``validation_data``.

        Parameters
        ----------
        X : array (n, n_features)
            The fused matrix (every modality's columns).
        y : array (n,)
            Labels.
        validation_data : (X_val, y_val) or None
            Held-out rows that choose the grid point (None: the first point).
        groups : array (n,) or None
            Passed to the estimator's ``fit`` when it takes them.

        Returns
        -------
        self
        """
        from sklearn.model_selection import ParameterGrid

        grid = list(ParameterGrid(self.param_grid or {}))
        if validation_data is None:
            grid = grid[:1]
        best, self.scores_ = None, []
        for params in grid:
            model = fit_one(clone(self.estimator).set_params(**params), X, y, groups=groups)
            if validation_data is None:
                score = 0.0
            elif self.scoring == "log_loss":
                from sklearn.metrics import log_loss

                score = -log_loss(validation_data[1], model.predict_proba(validation_data[0]), labels=model.classes_)
            else:
                score = float(np.mean(model.predict(validation_data[0]) == np.asarray(validation_data[1])))
            self.scores_.append((params, score))
            if best is None or score > best[0] + 1e-12:
                best = (score, params, model)
        _, self.best_params_, self.best_estimator_ = best
        self.classes_ = self.best_estimator_.classes_
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.best_estimator_, attr):
                setattr(self, attr, getattr(self.best_estimator_, attr))
        return self

    def predict_proba(self, X):
        """The chosen model's class probabilities.

        Parameters
        ----------
        X : array (n, n_features)
            The rows to classify, in the columns the estimator was fitted on.

        Returns
        -------
        array (n, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    def predict(self, X):
        """The chosen model's labels (its own ``predict``, not always the argmax of its probabilities).

        Parameters
        ----------
        X : as for :meth:`predict_proba`

        Returns
        -------
        array (n,)
            Labels of ``classes_``.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict(X)


# --------------------------------------------------------------------------- Keras fusion networks


def keras_layers():
    """The fusion networks' custom layers, defined on first use so that importing this module does not import Keras.

    Returns
    -------
    (SliceColumns, ModalityDropout)
        Keras layer classes: one modality's columns of the fused vector, and the dropout of
        a whole modality at training time.
    """
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mmer_fusion")
    class SliceColumns(keras.layers.Layer):
        """Columns ``start:end`` of a (batch, features) input: one modality of the fused vector."""

        def __init__(self, start, end, **kwargs):
            super().__init__(**kwargs)
            self.start, self.end = int(start), int(end)

        def call(self, x):
            return x[:, self.start:self.end]

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.end - self.start)

        def get_config(self):
            return {**super().get_config(), "start": self.start, "end": self.end}

    @keras.saving.register_keras_serializable(package="mmer_fusion")
    class ModalityDropout(keras.layers.Layer):
        """In training, blank out one whole modality of an example with probability ``rate``.

        Inputs are standardised, so zeros mean "the training average": exactly what a
        missing modality looks like at test time. At most one modality is dropped per
        example (never all), so the network learns to use each one alone too.
        """

        def __init__(self, rate=0.3, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.rate = float(rate)
            self.seed = seed
            self.generator = keras.random.SeedGenerator(seed)

        def call(self, inputs, training=None):
            if not training or self.rate <= 0:
                return inputs
            n = len(inputs)
            batch = ops.shape(inputs[0])[0]
            drop = keras.random.uniform((batch, 1), seed=self.generator) < self.rate
            which = keras.random.randint((batch, 1), 0, n, seed=self.generator)
            out = []
            for i, x in enumerate(inputs):
                keep = ops.logical_not(ops.logical_and(drop, ops.equal(which, i)))
                out.append(x * ops.cast(keep, x.dtype))
            return out

        def get_config(self):
            return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    return SliceColumns, ModalityDropout


def build_fusion_net(blocks: dict, n_classes: int, *, fusion: str = "concat", units: int = 64,
                     n_tokens: int = 4, token_dim: int = 32, heads: int = 2, value_from: str = "key",
                     dropout: float = 0.3, modality_dropout: float = 0.0, l2: float = 1e-4, seed: int = 42,
                     n_features: int | None = None):
    """A Keras network with one branch per modality, fused inside the network.

    ``fusion="concat"`` (intermediate fusion): each branch Dense(units) -> Dropout gives a
    modality embedding; the embeddings are concatenated and mixed by a hidden Dense
    layer, so the network can learn interactions (e.g. "raised brows AND loud voice").

    ``fusion="attention"`` (after M2FNet's fusion attention module): each modality is
    projected to ``n_tokens`` tokens of ``token_dim`` numbers. In cross-attention the
    **query** tokens ask "what do I need?", the **keys** of the other modality say
    "what I hold", and the softmax of query . key decides how much of each **value**
    flows back. Audio tokens attend to face tokens (query = audio, key = value = face)
    and face tokens to audio tokens; residual connections and layer norms keep each
    modality's own information; the tokens are averaged, concatenated and classified.
    ``value_from="query"`` is M2FNet's variant (key from the other modality, value from
    the query's own: the other modality only re-weights one's own tokens).

    Parameters
    ----------
    blocks : dict
        Modality -> (start, end) columns of the fused vector.
    n_classes : int
    fusion : {"concat", "attention"}
    units : int
        Width of the branches and of the fused hidden layer.
    n_tokens, token_dim, heads : int
        Attention only: tokens per modality, their width, attention heads.
    value_from : {"key", "query"}
        Attention only: where the values come from.
    dropout, modality_dropout, l2 : float
        Dropout rate, probability of blanking one modality in training
        (``ModalityDropout``), L2 penalty of the dense kernels.
    seed : int
        Seed of the modality dropout.
    n_features : int or None
        Width of the input (default: the end of the last block; columns outside every
        block are ignored).

    Returns
    -------
    keras.Model
        Uncompiled, on the fused vector (batch, d); with ``fusion="attention"`` it has
        ``model.attention_model`` giving the two attention maps.
    """
    import keras
    from keras import layers, regularizers

    if fusion not in ("concat", "attention"):
        raise FusionInputError(f"fusion must be 'concat' or 'attention', got {fusion!r}")
    if value_from not in ("key", "query"):
        raise FusionInputError(f"value_from must be 'key' or 'query', got {value_from!r}")
    SliceColumns, ModalityDropout = keras_layers()
    names = list(blocks)
    d = n_features if n_features is not None else max(end for _, end in blocks.values())
    reg = regularizers.L2(l2) if l2 else None
    inp = keras.Input((d,), name="features")
    parts = [SliceColumns(*blocks[m], name=f"{m}_columns")(inp) for m in names]
    if modality_dropout:
        parts = ModalityDropout(modality_dropout, seed=seed, name="modality_dropout")(parts)
    if fusion == "concat":
        embeds = []
        for m, x in zip(names, parts):
            x = layers.Dropout(dropout / 2, name=f"{m}_in_drop")(x)
            x = layers.Dense(units, activation="relu", kernel_regularizer=reg, name=f"{m}_dense")(x)
            embeds.append(layers.Dropout(dropout, name=f"{m}_drop")(x))
        h = layers.Concatenate(name="fusion")(embeds)
        h = layers.Dense(units, activation="relu", kernel_regularizer=reg, name="fused_dense")(h)
        h = layers.Dropout(dropout, name="fused_drop")(h)
        out = layers.Dense(n_classes, activation="softmax", name="emotion")(h)
        return keras.Model(inp, out, name="joint_fusion_net")

    tokens = {}
    for m, x in zip(names, parts):
        x = layers.Dropout(dropout / 2, name=f"{m}_in_drop")(x)
        x = layers.Dense(n_tokens * token_dim, activation="gelu", kernel_regularizer=reg, name=f"{m}_tokens")(x)
        x = layers.Reshape((n_tokens, token_dim), name=f"{m}_reshape")(x)
        tokens[m] = layers.LayerNormalization(name=f"{m}_token_norm")(x)
    if len(names) != 2:
        raise FusionInputError("the cross-modal attention block fuses exactly two modalities")
    a, b = names
    fused, maps = [], []
    for q, kv in ((a, b), (b, a)):
        mha = layers.MultiHeadAttention(heads, key_dim=max(1, token_dim // heads), dropout=dropout / 2,
                                        name=f"{q}_attends_{kv}")
        value = tokens[kv] if value_from == "key" else tokens[q]
        att, scores = mha(query=tokens[q], value=value, key=tokens[kv], return_attention_scores=True)
        x = layers.LayerNormalization(name=f"{q}_cross_norm")(layers.Add(name=f"{q}_residual")([tokens[q], att]))
        fused.append(layers.GlobalAveragePooling1D(name=f"{q}_pool")(x))
        maps.append(scores)
    h = layers.Concatenate(name="fusion")(fused)
    h = layers.Dropout(dropout, name="fused_in_drop")(h)
    h = layers.Dense(units, activation="relu", kernel_regularizer=reg, name="fused_dense")(h)
    h = layers.Dropout(dropout, name="fused_drop")(h)
    out = layers.Dense(n_classes, activation="softmax", name="emotion")(h)
    model = keras.Model(inp, out, name="attention_fusion_net")
    model.attention_model = keras.Model(inp, maps, name="attention_maps")
    return model


def _build_for_estimator(input_shape, n_classes, *, blocks, **kwargs):
    """:func:`build_fusion_net` with :class:`~mmer_utils.training.KerasEstimator`'s ``build_fn(input_shape, n_classes)``."""
    return build_fusion_net(blocks, n_classes, n_features=input_shape[0], **kwargs)


class FusionNet(ClassifierMixin, BaseEstimator):
    """Intermediate fusion network (:func:`build_fusion_net`) behind the scikit-learn interface.

    ``fit(X, y, validation_data=(X_val, y_val))``: standardises each column with the
    training rows' statistics and trains through the course's one Keras loop,
    :class:`~mmer_utils.training.KerasEstimator` (complete shuffled batches, balanced
    class weights, early stopping / learning-rate reduction on the validation loss,
    best epoch restored). Without validation data it trains ``epochs`` epochs.

    Parameters
    ----------
    blocks : dict
        Modality -> (start, end) columns of ``X``.
    fusion, units, n_tokens, token_dim, heads, value_from, dropout, modality_dropout, l2
        The architecture (:func:`build_fusion_net`).
    epochs, batch_size, learning_rate, patience
        Training settings; the learning rate is halved after ``max(2, patience // 3)``
        epochs without improvement.
    seed : int
        Seed of the weights, the batches and the modality dropout.
    verbose : int
        Keras' verbosity.

    Attributes
    ----------
    classes_, model_, history_, best_epoch_, fit_seconds_
        As in :class:`~mmer_utils.training.KerasEstimator` (``keras_``, the estimator itself).
    """

    def __init__(self, blocks=None, *, fusion: str = "concat", units: int = 64, n_tokens: int = 4,
                 token_dim: int = 32, heads: int = 2, value_from: str = "key", dropout: float = 0.3,
                 modality_dropout: float = 0.0, l2: float = 1e-4, epochs: int = 150, batch_size: int = 32,
                 learning_rate: float = 1e-3, patience: int = 15, seed: int = config.DEFAULT_SEED, verbose: int = 0):
        self.blocks = blocks
        self.fusion = fusion
        self.units = units
        self.n_tokens = n_tokens
        self.token_dim = token_dim
        self.heads = heads
        self.value_from = value_from
        self.dropout = dropout
        self.modality_dropout = modality_dropout
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.seed = seed
        self.verbose = verbose

    def _scale(self, X):
        return ((np.asarray(X, dtype=np.float64) - self.mean_) / self.std_).astype(np.float32)

    def fit(self, X, y, validation_data=None, groups=None):
        """Standardise with the training rows' statistics and train (:class:`~mmer_utils.training.KerasEstimator`).

        Parameters
        ----------
        X : array (n, n_features)
            The fused matrix (columns of every block).
        y : array (n,)
            Labels.
        validation_data : tuple (X_val, y_val) or None
            Rows of other speakers for early stopping; None: ``epochs`` epochs.
        groups : ignored
            Accepted so that evaluation loops can pass the training actors.

        Returns
        -------
        self
        """
        from functools import partial

        from ..training import KerasEstimator, expose_fit

        X, y = validate_data(self, X, y, dtype=np.float64)  # finite numbers; records n_features_in_
        check_classification_targets(y)
        _check_blocks(self.blocks, X.shape[1])
        self.mean_ = X.mean(axis=0)
        self.std_ = X.std(axis=0) + 1e-8
        build = partial(_build_for_estimator, blocks=self.blocks, fusion=self.fusion, units=self.units,
                        n_tokens=self.n_tokens, token_dim=self.token_dim, heads=self.heads,
                        value_from=self.value_from, dropout=self.dropout, modality_dropout=self.modality_dropout,
                        l2=self.l2, seed=self.seed)
        self.keras_ = KerasEstimator(build, epochs=self.epochs, batch_size=self.batch_size,
                                     learning_rate=self.learning_rate, patience=self.patience,
                                     lr_patience=max(2, self.patience // 3), class_weight="balanced", seed=self.seed,
                                     verbose=self.verbose)
        val = None
        if validation_data is not None:
            Xv, yv = validation_data
            unseen = set(np.asarray(yv).tolist()) - set(np.unique(y).tolist())
            if unseen:
                raise FusionInputError(f"label {sorted(unseen)[0]!r} was not seen in training")
            val = (self._scale(Xv), np.asarray(yv))
        return expose_fit(self, self.keras_.fit(self._scale(X), y, validation_data=val))

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array (n, n_features)

        Returns
        -------
        array (n, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.keras_.predict_proba(self._scale(X))

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : array (n, n_features)
            The fused matrix.

        Returns
        -------
        array (n,) of labels
        """
        proba = self.predict_proba(X)  # first: it says when the model is not fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def attention_maps(self, X) -> list[np.ndarray]:
        """The two cross-attention maps: audio attending to the face, and the face to the audio.

        Parameters
        ----------
        X : array (n, n_features)
            The fused matrix (a model fitted with ``fusion="attention"``).

        Returns
        -------
        list of two arrays (n, heads, query tokens, key tokens)
        """
        if self.fusion != "attention":
            raise FusionInputError("attention_maps needs fusion='attention'")
        return [np.asarray(m) for m in self.model_.attention_model.predict(self._scale(X), verbose=0)]


# --------------------------------------------------------------------------- the methods compared


def fusion_methods(blocks: dict, *, quick: bool = False, seed: int = 42) -> dict[str, Callable]:
    """Name -> factory of every method of the chapter's comparison (same order as the table).

    C of the SVMs and of the logistic regressions is chosen on the validation actors
    (:class:`ValidationSearch`); Keras networks stop early on them.

    Parameters
    ----------
    blocks : dict
        Modality -> (start, end) columns.
    quick : bool
        Small grids and short trainings (a smoke run).
    seed : int

    Returns
    -------
    dict name -> callable returning an unfitted model
    """
    audio_grid = {"clf__C": [3.0, 10.0]} if quick else {"clf__C": [3.0, 10.0, 30.0]}
    face_grid = {"clf__C": [0.1, 1.0]} if quick else {"clf__C": [0.03, 0.1, 0.3, 1.0]}
    early_grid = {"clf__C": [3.0, 10.0]} if quick else {"clf__C": [1.0, 3.0, 10.0, 30.0]}
    epochs = 25 if quick else 150
    patience = 6 if quick else 15

    def audio():
        return ValidationSearch(modality_model(blocks, "audio", kind="svm", seed=seed), audio_grid)

    def face():
        return ValidationSearch(modality_model(blocks, "face", kind="logreg", seed=seed), face_grid)

    def bases():
        # fixed C for the base learners of late fusion: no validation data inside OOF folds
        return [("audio", modality_model(blocks, "audio", kind="svm", C=10.0, seed=seed)),
                ("face", modality_model(blocks, "face", kind="logreg", C=0.3, seed=seed))]

    def net(**kw):
        return lambda: FusionNet(blocks, epochs=epochs, patience=patience, seed=seed, **kw)

    return {
        "audio alone (SVM)": audio,
        "face alone (action units, LR)": face,
        "early fusion (concatenation, SVM)": lambda: ValidationSearch(early_fusion_model(blocks, seed=seed),
                                                                      early_grid),
        "late fusion: average": lambda: AveragingEnsemble(bases()),
        "late fusion: product": lambda: AveragingEnsemble(bases(), rule="product"),
        "late fusion: weighted (weights on val)": lambda: AveragingEnsemble(bases(), weights="validation"),
        "late fusion: majority vote": lambda: AveragingEnsemble(bases(), voting="hard"),
        "late fusion: stacking": lambda: StackingEnsemble(bases(), cv=4 if quick else 5, random_state=seed),
        "intermediate: joint network": net(fusion="concat"),
        "intermediate: joint network + modality dropout": net(fusion="concat", modality_dropout=0.3),
        "cross-modal attention": net(fusion="attention"),
        "cross-modal attention + modality dropout": net(fusion="attention", modality_dropout=0.3),
    }


# --------------------------------------------------------------------------- evaluation


def corrupt_modality(X, blocks: dict, modality: str, *, mode: str = "missing", reference=None,
                     seed: int = 0) -> np.ndarray:
    """A copy of ``X`` with one modality removed or replaced by noise.

    ``mode="missing"``: the modality's columns become the training mean (``reference``
    rows' mean): after standardisation, zeros, "nothing known". ``mode="noise"``: random
    values drawn from a normal with the training mean and std of each column: a
    modality that is present but carries no information (a camera pointing at a wall).

    Parameters
    ----------
    X : array (n, d)
    blocks : dict
        Modality -> (start, end) columns.
    modality : str
        The block corrupted.
    mode : {"missing", "noise"}
    reference : array or None
        The rows whose statistics are used (the training rows; default ``X``).
    seed : int
        Seed of the noise.

    Returns
    -------
    array (n, d)
        A copy.

    >>> X = np.arange(6.0).reshape(3, 2)
    >>> corrupt_modality(X, {"a": (0, 1), "b": (1, 2)}, "b")[:, 1].tolist()
    [3.0, 3.0, 3.0]
    """
    X = np.asarray(X, dtype=np.float64)
    _check_blocks(blocks, X.shape[1])
    if modality not in blocks:
        raise FusionInputError(f"unknown modality {modality!r}; blocks has {list(blocks)}")
    ref = X if reference is None else np.asarray(reference, dtype=np.float64)
    s, e = blocks[modality]
    out = X.copy()
    mean = ref[:, s:e].mean(axis=0)
    if mode == "missing":
        out[:, s:e] = mean
    elif mode == "noise":
        rng = np.random.default_rng(seed)
        out[:, s:e] = mean + ref[:, s:e].std(axis=0) * rng.standard_normal((len(X), e - s))
    else:
        raise FusionInputError(f"mode must be 'missing' or 'noise', got {mode!r}")
    return out


#: The results of :func:`evaluate_fusion`: the course's one fold-result class.
FusionResults = FoldResults


def evaluate_fusion(make_model, data: AVData, *, folds: Sequence[int] | None = None,
                    corruptions: Sequence[tuple[str, str]] = (), labels: Sequence = RAVDESS,
                    name: str = "model", seed: int = 42, keep_models: bool = False,
                    progress: bool = False) -> FoldResults:
    """Train and test one method on the speaker-independent actor folds (:func:`mmer_utils.evaluation.run_folds`).

    For each fold: ``fit(X[train], y[train], validation_data=(X[val], y[val]), groups=actors[train])``
    (``validation_data``/``groups`` only when the model's ``fit`` takes them), then
    ``predict_proba`` on the test actors, as they are and with each of ``corruptions``
    applied (:func:`corrupt_modality`, statistics from the training actors).

    Parameters
    ----------
    make_model : callable
        Returns a new unfitted model.
    data : AVData
    folds : list of int or None
        The actor folds run (None: all six).
    corruptions : list of (modality, mode)
        Test-time corruptions scored besides the intact data.
    labels : list
        Class order of the scores and of ``proba``.
    name : str
        The method's name (``result.name``).
    seed : int
        Seed of the noise corruptions.
    keep_models : bool
        Keep each fold's fitted model in ``result.models``.
    progress : bool
        Show a progress bar over the folds.

    Returns
    -------
    FoldResults
        ``pooled`` (accuracy, macro F1, UAR), ``per_fold``, ``proba`` (rows = ``index``),
        ``corrupted``: (modality, mode) -> pooled scores with that corruption.
    """
    labels = list(labels)
    chosen = [(f, m) for f, m in iter_actor_splits(data.actors) if folds is None or f in folds]
    if not chosen:
        raise FusionInputError(f"no actor fold selected by folds={folds}")
    splits = []
    for f, m in chosen:
        if not (m["train"].any() and m["val"].any() and m["test"].any()):
            raise FusionInputError(f"fold {f} lacks train, validation or test actors in this data "
                                   "(quick data covers folds 0 and 1 only)")
        splits.append(Fold(f, np.flatnonzero(m["train"]), np.flatnonzero(m["test"]), np.flatnonzero(m["val"])))

    def fit_predict(fold):
        tr, va, te = fold.train, fold.val, fold.test
        model = make_model()
        fit_one(model, data.X[tr], data.y[tr], groups=data.actors[tr], validation_data=(data.X[va], data.y[va]))
        out = {"proba": _proba_in(model, data.X[te], labels), "model": model,
               "row": {"best_params": getattr(model, "best_params_", None)}}
        for modality, mode in corruptions:
            Xc = corrupt_modality(data.X[te], data.blocks, modality, mode=mode, reference=data.X[tr],
                                  seed=seed + fold.fold)
            out[(modality, mode)] = _proba_in(model, Xc, labels)
        return out

    outputs = run_folds(fit_predict, splits, desc=name, progress=progress)
    result = pooled_results("speaker-independent actor folds", outputs, data.y, labels=labels, name=name,
                            keep_models=keep_models)
    for key in corruptions:
        pc = np.asarray(labels)[np.concatenate([o[key] for o in outputs]).argmax(axis=1)]
        result.corrupted[key] = headline_scores(result.y_true, pc, labels=labels)
    return result


def _proba_in(model, X, labels) -> np.ndarray:
    """predict_proba with columns in ``labels`` order."""
    p = np.asarray(model.predict_proba(X))
    classes = list(np.asarray(model.classes_).tolist())
    out = np.zeros((len(X), len(labels)))
    for j, c in enumerate(classes):
        out[:, labels.index(c)] = p[:, j]
    return out


def member_proba(data: AVData, member, *, labels: Sequence = RAVDESS) -> np.ndarray:
    """A model evaluated elsewhere on the same six actor folds (e.g. the voice chapter's deep 2-D CNN,
    :func:`mmer_utils.audio.experiment.evaluate`) as out-of-fold probabilities aligned with ``data``'s
    rows: each clip scored by the network of the fold that holds its actor out.

    ``member``: a :class:`~mmer_utils.evaluation.FoldResults` of all six folds whose ``index`` points at
    the rows of ``member.frame`` (or of :func:`mmer_utils.datasets.load_ravdess`) and whose ``per_fold``
    names each fold's test actors. A member trained on other folds than :func:`iter_actor_splits`'s
    is refused: its "test" clips could be training clips of the fusion's fold.
    """
    from ..datasets import load_ravdess

    labels = list(labels)
    if member.proba is None or list(member.labels) != labels:
        raise FusionInputError(f"the member needs probabilities in the columns {labels}")
    for row in member.per_fold.to_dict("records"):
        theirs = sorted(int(a) for a in str(row["test_actors"]).split(","))
        ours = sorted(int(a) for a in actor_folds()[int(row["fold"])])
        if theirs != ours:
            raise FusionInputError(f"the member's fold {row['fold']} tests actors {theirs}, the fusion's {ours}")
    frame = getattr(member, "frame", None)
    frame = load_ravdess() if frame is None else frame
    by_path = dict(zip(frame.path.iloc[member.index].astype(str), member.proba))
    missing = [p for p in data.frame.path.astype(str) if p not in by_path]
    if missing:
        raise FusionInputError(f"the member has no prediction for {len(missing)} clip(s) of the data, e.g. "
                               f"{missing[0]}: evaluate it on all six folds")
    return np.stack([by_path[p] for p in data.frame.path.astype(str)]).astype(np.float64)


def fuse_with_member(data: AVData, voice_proba, *, rules=("mean", "product"), folds: Sequence[int] | None = None,
                     quick: bool = False, labels: Sequence = RAVDESS, seed: int = 42,
                     name: str = "deep voice") -> dict[str, FusionResults]:
    """Late fusion of a voice member evaluated elsewhere (``voice_proba``, :func:`member_proba`) with
    the face model trained here on each fold (action units + LR, C chosen on the validation actors).

    Nothing is fitted on the fused probabilities (equal weights; no test actor is seen), so each rule
    is as leak-free as its members. Returns ``{"<name> alone": ..., "late fusion (<name> + face): <rule>": ...}``.
    """
    labels = list(labels)
    voice_proba = np.asarray(voice_proba, dtype=np.float64)
    if voice_proba.shape != (len(data.y), len(labels)):
        raise FusionInputError(f"voice_proba has shape {voice_proba.shape}, expected {(len(data.y), len(labels))}")
    face = evaluate_fusion(fusion_methods(data.blocks, quick=quick, seed=seed)["face alone (action units, LR)"],
                           data, folds=folds, labels=labels, name="face alone (action units, LR)")
    rows = face.index
    out = {}
    combos = {f"{name} alone": lambda pv, pf: pv}
    combos.update({f"late fusion ({name} + face): {'average' if r == 'mean' else r}":
                   (lambda r: lambda pv, pf: average_probas([pv, pf], rule=r))(r) for r in rules})
    for key, combine in combos.items():
        proba = combine(voice_proba[rows], face.proba)
        out[key] = rescored(face, proba, labels=labels, name=key)
    return out


def compare_fusion(data: AVData, methods: dict[str, Callable] | None = None, *, folds=None, quick: bool = False,
                   corruptions=DEFAULT_CORRUPTIONS, seed: int = 42, keep_models: bool = False,
                   progress: bool = True) -> dict[str, FusionResults]:
    """Evaluate every method of :func:`fusion_methods` (or ``methods``) on the same folds.

    Parameters
    ----------
    data : AVData
    methods : dict name -> factory, or None
        Default: :func:`fusion_methods`.
    folds, corruptions, seed, keep_models
        As in :func:`evaluate_fusion`.
    quick : bool
        The quick settings of :func:`fusion_methods`.
    progress : bool
        Show a progress bar over the methods.

    Returns
    -------
    dict name -> FoldResults
    """
    from tqdm.auto import tqdm

    methods = methods or fusion_methods(data.blocks, quick=quick, seed=seed)
    out = {}
    for name, make in tqdm(list(methods.items()), desc="fusion methods", disable=not progress):
        out[name] = evaluate_fusion(make, data, folds=folds, corruptions=corruptions, name=name, seed=seed,
                                    keep_models=keep_models)
    return out


def family(name: str) -> str:
    """The fusion family of a method name of :func:`fusion_methods`.

    Parameters
    ----------
    name : str
        A key of :func:`fusion_methods`.

    Returns
    -------
    str
        "single modality", "early", "late", "intermediate", "intermediate (attention)" or "other".

    >>> family("late fusion: stacking")
    'late'
    """
    if "alone" in name:
        return "single modality"
    for key in ("early", "late", "intermediate", "attention"):
        if key in name:
            return {"attention": "intermediate (attention)"}.get(key, key)
    return "other"


def results_table(results: dict[str, FusionResults]) -> pd.DataFrame:
    """One row per method: family, pooled accuracy / macro F1 / UAR, fold mean and std, training seconds.

    Parameters
    ----------
    results : dict name -> FoldResults

    Returns
    -------
    DataFrame indexed by method
    """
    rows = []
    for name, res in results.items():
        rows.append({"method": name, "family": family(name), **res.pooled,
                     "fold_acc_mean": res.per_fold["accuracy"].mean(),
                     "fold_acc_std": res.per_fold["accuracy"].std(ddof=0), "train_seconds": res.fit_seconds})
    return pd.DataFrame(rows).set_index("method")




def robustness_table(results: dict[str, FusionResults], metric: str = "accuracy") -> pd.DataFrame:
    """``metric`` of each method with both modalities, and with each corruption applied at test time.

    Parameters
    ----------
    results : dict name -> FoldResults
    metric : str
        A key of ``pooled``.

    Returns
    -------
    DataFrame indexed by method
    """
    rows = {}
    for name, res in results.items():
        row = {"both modalities": res.pooled[metric]}
        for (modality, mode), scores in res.corrupted.items():
            row[f"{modality} {mode}"] = scores[metric]
        rows[name] = row
    return pd.DataFrame(rows).T


def plot_comparison(table: pd.DataFrame, *, metrics=("accuracy", "macro_f1", "uar"), ax=None, title=None):
    """Horizontal bars of ``metrics`` per method (from :func:`results_table`), best single modality marked.

    Parameters
    ----------
    table : DataFrame
        :func:`results_table`'s.
    metrics : sequence of str
    ax : matplotlib axes or None
    title : str or None

    Returns
    -------
    matplotlib axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))
    table[list(metrics)][::-1].plot.barh(ax=ax, width=0.8)
    single = table[table["family"] == "single modality"]
    if len(single):
        ax.axvline(single["accuracy"].max(), color="grey", ls="--", lw=1, label="best single modality (accuracy)")
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (pooled over the test actors)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or "Audio-visual fusion on RAVDESS, speaker-independent")
    return ax
