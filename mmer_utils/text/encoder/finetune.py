"""MiniLM fine-tuned end to end with a softmax head (:class:`FineTunedTextClassifier`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from ...errors import DataNotFoundError
from .bert import batch_slices, bert_config, build_bert_encoder, load_pretrained, masked_mean, pad_rows
from .files import encoder_files
from .tokenizer import WordPieceTokenizer


def build_text_classifier(encoder, n_classes: int, *, dropout: float = 0.1):
    """The encoder, mean pooling, dropout and a softmax layer: the model that fine-tuning trains.

    Parameters
    ----------
    encoder : keras.Model
        :func:`~mmer_utils.text.encoder.build_bert_encoder`'s model (named inputs
        ``token_ids``, ``segment_ids``, ``padding_mask``).
    n_classes : int
        Width of the softmax.
    dropout : float
        Dropout rate before the softmax.

    Returns
    -------
    keras.Model
    """
    import keras
    from keras import layers

    pooled = layers.Lambda(lambda a: masked_mean(a[0], a[1]), name="mean_pool")(
        [encoder.output, encoder.input["padding_mask"]])
    x = layers.Dropout(dropout, name="head_dropout")(pooled)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(encoder.input, outputs, name="minilm_classifier")


def trim_to_longest(x: dict) -> dict:
    """Cut a batch of padded token ids to its longest text, rounded up to a multiple of 8 tokens.

    A ``batch_fn`` for :class:`~mmer_utils.training.KerasEstimator`: short utterances
    padded to ``max_len`` would otherwise cost as much as long ones.

    Parameters
    ----------
    x : dict of tensors (batch, max_len)
        ``token_ids``, ``segment_ids`` and ``padding_mask``.

    Returns
    -------
    dict of tensors (batch, width)
    """
    import tensorflow as tf

    longest = tf.reduce_max(tf.reduce_sum(tf.cast(x["padding_mask"], tf.int32), axis=1))
    width = tf.minimum((longest + 7) // 8 * 8, tf.shape(x["token_ids"])[1])
    return {k: v[:, :width] for k, v in x.items()}


def _build_classifier(input_shape, n_classes, *, files, train_embeddings: bool, dropout: float):
    """``build_fn`` of the fine-tuning: the pretrained encoder (its word vectors frozen or not) and a softmax head."""
    encoder, _ = load_pretrained(files)
    # the word vectors stay as pretrained by default: words never seen in training keep their
    # place beside the ones that were (and each step skips an update of 11.7 M parameters)
    encoder.get_layer("word_embeddings").trainable = train_embeddings
    return build_text_classifier(encoder, n_classes, dropout=dropout)


def _warmup_adamw(learning_rate: float, total_steps: int):
    """AdamW (weight decay 0.01, gradients clipped to norm 1) with a linear warm-up over the first 10 % of
    ``total_steps`` and a linear decay to zero."""
    import keras

    warmup = max(1, total_steps // 10)
    decay = keras.optimizers.schedules.PolynomialDecay(learning_rate, max(1, total_steps - warmup), 0.0)

    class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            step = keras.ops.cast(step, "float32")
            return keras.ops.where(step < warmup, learning_rate * (step + 1) / warmup, decay(step - warmup))

    return keras.optimizers.AdamW(WarmUp(), weight_decay=0.01, clipnorm=1.0)


def _texts_and_pairs(X, context_column: str | None):
    """``(texts, pairs)`` from a list of texts or a DataFrame with ``text`` (and ``context_column``)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        texts = X["text"].astype(str).tolist()
        pairs = X[context_column].fillna("").astype(str).tolist() if context_column else None
        return texts, pairs
    if context_column:
        raise ValueError(f"context_column={context_column!r} needs a DataFrame with 'text' and that column")
    return [str(t) for t in X], None


class FineTunedTextClassifier(ClassifierMixin, BaseEstimator):
    """MiniLM fine-tuned end to end with a softmax head (texts in, labels out).

    ``X`` is a list of texts, or a DataFrame with ``text`` and, when ``context_column`` is
    set, a second segment (``[CLS] utterance [SEP] context [SEP]``; the context is cut
    first when too long). Training runs through the course's one Keras loop,
    :class:`~mmer_utils.training.KerasEstimator`: AdamW (``learning_rate``, weight decay
    0.01) with a linear warm-up over the first 10 % of the steps and a linear decay to
    zero, complete shuffled batches, each cut to its longest text
    (:func:`trim_to_longest`); the word embeddings are frozen unless
    ``train_embeddings``. After every epoch the model is scored on ``validation_data``
    (``val_metric``) and the best epoch's weights are kept: the test split is never
    looked at.

    Parameters
    ----------
    context_column : str or None
        Column of ``X`` holding the second segment (the dialogue context).
    max_len : int
        Most word pieces per example, ``[CLS]`` and ``[SEP]`` included.
    epochs, batch_size, learning_rate : training settings.
    dropout : float
        Dropout before the softmax.
    train_embeddings : bool
        Fine-tune the word vectors too.
    val_metric : str
        Score of :func:`mmer_utils.evaluation.classification_scores` that chooses the epoch kept.
    max_train_batches : int or None
        Train on a seeded subset of that many batches (a smoke run); None: all the data.
    seed : int
        Seed of the head, the dropout and the batches.
    files : dict or None
        Paths of ``model.safetensors``, ``vocab.txt``, ``config.json`` (default:
        :func:`~mmer_utils.text.encoder.encoder_files`).
    verbose : int
        1: one line per epoch.

    Attributes
    ----------
    classes_ : array of labels, in the column order of ``predict_proba``.
    model_ : the fine-tuned keras.Model.
    history_ : dict
        Keras' format: ``loss`` and ``learning_rate`` per epoch, and the validation scores
        ``val_loss``, ``val_accuracy``, ``val_macro_f1``, ``val_weighted_f1``, ``val_uar``.
    best_epoch_ : the epoch kept (1-based).
    fit_seconds_ : training time in seconds.
    """

    def __init__(self, *, context_column: str | None = None, max_len: int = 64, epochs: int = 3,
                 batch_size: int = 32, learning_rate: float = 5e-5, dropout: float = 0.1,
                 train_embeddings: bool = False, val_metric: str = "weighted_f1",
                 max_train_batches: int | None = None, seed: int = 42, files: Mapping | None = None,
                 verbose: int = 1):
        self.context_column = context_column
        self.max_len = max_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.train_embeddings = train_embeddings
        self.val_metric = val_metric
        self.max_train_batches = max_train_batches
        self.seed = seed
        self.files = files
        self.verbose = verbose

    def _encode(self, X) -> dict:
        texts, pairs = _texts_and_pairs(X, self.context_column)
        return self.tokenizer_.encode_batch(texts, pairs, max_len=self.max_len, pad_to=self.max_len)

    def _predict_encoded(self, enc: dict) -> np.ndarray:
        n = len(enc["token_ids"])
        out = np.zeros((n, len(self.classes_)), dtype=np.float32)
        lengths = enc["padding_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: less padding
        for sl in batch_slices(n, self.batch_size):
            idx = order[sl]
            width = int(min(self.max_len, -(-lengths[idx].max() // 8) * 8))
            batch = {k: v[idx, :width] for k, v in enc.items()}
            out[idx] = np.asarray(self.model_.predict_on_batch(pad_rows(batch, self.batch_size)))[: len(idx)]
        return out

    def fit(self, X, y, *, validation_data=None):
        """Fine-tune on ``(X, y)``; the epoch kept is the best on ``validation_data``.

        Parameters
        ----------
        X : list of texts, or a DataFrame with ``text`` (and ``context_column``)
        y : array (n,) of labels
        validation_data : tuple (X_val, y_val) or None
            None: the last epoch is kept.

        Returns
        -------
        self
        """
        from functools import partial

        from ...training import KerasEstimator, expose_fit

        y = column_or_1d(y, warn=True)  # 1-D class labels, one per text
        check_classification_targets(y)
        check_consistent_length(X, y)
        files = self.files or encoder_files()
        self.bert_config_ = bert_config(files["config.json"])
        self.tokenizer_ = WordPieceTokenizer(files["vocab.txt"])
        enc = self._encode(X)
        n_batches = len(y) // self.batch_size
        if n_batches == 0:
            raise ValueError(f"need at least batch_size={self.batch_size} training texts, got {len(y)}")
        if self.max_train_batches and self.max_train_batches < n_batches:
            n_batches = self.max_train_batches
            keep = np.sort(np.random.default_rng(self.seed).permutation(len(y))[: n_batches * self.batch_size])
            enc, y = {k: v[keep] for k, v in enc.items()}, y[keep]
        val = None
        if validation_data is not None:
            val = (self._encode(validation_data[0]), np.asarray(validation_data[1]))
        self.keras_ = KerasEstimator(
            partial(_build_classifier, files=files, train_embeddings=self.train_embeddings, dropout=self.dropout),
            epochs=self.epochs, batch_size=self.batch_size,
            optimizer=partial(_warmup_adamw, self.learning_rate, n_batches * self.epochs),
            val_metric=self.val_metric if val is not None else None,
            patience=self.epochs, lr_patience=None,  # no early stop, no plateau: the schedule sets the rate
            batch_fn=trim_to_longest, seed=self.seed, verbose=2 if self.verbose else 0)
        return expose_fit(self, self.keras_.fit(enc, y, validation_data=val))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : list of texts, or a DataFrame as in ``fit``

        Returns
        -------
        array (n, n_classes), columns in the order of ``classes_``
        """
        check_is_fitted(self)
        return self._predict_encoded(self._encode(X))

    def predict(self, X) -> np.ndarray:
        """The most probable label of each text (``X`` as in ``fit``); an array (n,)."""
        proba = self.predict_proba(X)  # first: it says when the model is not fitted
        return self.classes_[proba.argmax(axis=1)]

    def save(self, folder) -> Path:
        """Write the fine-tuned model to ``folder``, each file atomically.

        Parameters
        ----------
        folder : str or Path
            Receives the weights (``model.weights.h5``), ``vocab.txt`` and
            ``classifier.json`` (architecture, classes, settings, training history),
            the last written last, so a folder that has it is complete.

        Returns
        -------
        Path
            ``folder``.
        """
        from ...atomic import atomic_path, atomic_write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "model.weights.h5", suffix=".weights.h5") as tmp:
            self.model_.save_weights(tmp)
        vocab = sorted(self.tokenizer_.vocab, key=self.tokenizer_.vocab.get)
        atomic_write_text(folder / "vocab.txt", "\n".join(vocab) + "\n")
        params = {k: v for k, v in self.get_params().items() if k != "files"}
        meta = {"format": 1, "bert_config": self.bert_config_, "classes": [str(c) for c in self.classes_],
                "params": params, "history": self.history_}
        atomic_write_text(folder / "classifier.json", json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder) -> "FineTunedTextClassifier":
        """A model written by :meth:`save`, ready for ``predict`` (no download needed).

        Parameters
        ----------
        folder : str or Path

        Returns
        -------
        FineTunedTextClassifier
        """
        folder = Path(folder)
        meta_path = folder / "classifier.json"
        if not meta_path.is_file():
            raise DataNotFoundError(f"{folder} holds no saved FineTunedTextClassifier (no classifier.json): "
                                    f"fit one and call save({str(folder)!r}) first")
        meta = json.loads(meta_path.read_text())
        clf = cls(**meta["params"])
        clf.bert_config_, clf.history_ = meta["bert_config"], meta["history"]
        clf.classes_ = np.array(meta["classes"])
        clf.tokenizer_ = WordPieceTokenizer(folder / "vocab.txt")
        encoder = build_bert_encoder(clf.bert_config_, name="minilm")
        clf.model_ = build_text_classifier(encoder, len(clf.classes_), dropout=clf.dropout)
        clf.model_.load_weights(folder / "model.weights.h5")
        return clf
