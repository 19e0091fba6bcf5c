"""Training helpers shared by every chapter's Keras models.

* :func:`make_dataset`: a ``tf.data`` pipeline from NumPy arrays. Training batches
  are shuffled, optionally augmented on the fly, and always **complete**
  (``drop_remainder=True``): TF 2.21 + Keras 3 on some CPUs crash in oneDNN when
  a training step meets a smaller last batch. Evaluation batches keep every
  example: the last batch is padded and the padding gets a sample weight of 0.
* :func:`standard_callbacks`: early stopping, learning-rate reduction on plateau
  and a checkpoint of the best epoch, all watching the validation loss.
* :func:`class_weights`: weights that make every class count the same in the loss.
* :func:`plot_history`: training curves.
* :class:`KerasEstimator`: a Keras model behind the scikit-learn interface
  (``fit`` / ``predict`` / ``predict_proba`` / ``classes_``, ``sklearn.base.clone``
  works), saved and loaded in Keras' native ``.keras`` format; with a
  ``checkpoint_dir``, training **resumes** after an interruption (:func:`read_state`).

>>> import numpy as np
>>> ds = make_dataset(np.zeros((10, 3)), np.zeros(10), batch_size=4, shuffle=True)
>>> [int(x.shape[0]) for x, y in ds]          # 10 = 4 + 4 + (2 dropped)
[4, 4]
"""

from __future__ import annotations

import importlib
import json
import tempfile
import time
import zipfile
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from . import config
from .atomic import atomic_path, atomic_write_json

#: Name of the estimator's metadata inside a saved ``.keras`` archive (Keras ignores it).
META_NAME = "mmer_estimator.json"


# --------------------------------------------------------------------------- data


def make_dataset(X, y=None, batch_size: int = 32, shuffle: bool = True, seed: int = config.DEFAULT_SEED,
                 augment_fn: Callable | None = None, *, drop_remainder: bool | None = None):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches (``x`` only when ``y`` is None).

    Parameters
    ----------
    X : array (n, ...); y : array (n,) or (n, k), or None
    batch_size : int
    shuffle : bool
        Training mode: reshuffle every epoch (seeded), apply ``augment_fn`` and drop the
        incomplete last batch. ``shuffle=False`` is evaluation mode: every example is
        kept, in order.
    seed : int
        Seed of the shuffle and of the generator passed to ``augment_fn``.
    augment_fn : callable or None
        ``augment_fn(x, rng) -> x'`` on one example (NumPy in and out, ``rng`` a
        ``numpy.random.Generator``); it may change the shape (e.g. spectrogram ->
        windows), the same way for every example. Applied in training mode only.
    drop_remainder : bool or None
        Default: True in training mode. In evaluation mode (False) the last batch is
        padded to ``batch_size`` by repeating its last example, and the dataset yields
        ``(x, y, w)`` with sample weight ``w = 0`` on the padding, so metrics are
        computed on the real examples only while every batch is complete.

    >>> ds = make_dataset(np.zeros((10, 3)), np.arange(10), batch_size=4, shuffle=False)
    >>> [(int(x.shape[0]), float(w.numpy().sum())) for x, y, w in ds]
    [(4, 4.0), (4, 4.0), (4, 2.0)]
    """
    import tensorflow as tf

    X = np.asarray(X)
    n = len(X)
    if y is not None and len(y) != n:
        raise ValueError(f"X has {n} examples but y has {len(y)}")
    if drop_remainder is None:
        drop_remainder = shuffle
    if drop_remainder and n < batch_size:
        raise ValueError(f"{n} examples cannot fill one batch of {batch_size}; lower batch_size")
    if not drop_remainder:  # evaluation: pad with zero-weight copies of the last example
        pad = (-n) % batch_size
        index = np.concatenate([np.arange(n), np.full(pad, n - 1, dtype=int)])
        if y is None:  # prediction: the caller drops the predictions of the padding
            ds = tf.data.Dataset.from_tensor_slices(X[index])
        else:
            weights = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
            ds = tf.data.Dataset.from_tensor_slices((X[index], np.asarray(y)[index], weights))
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    ds = tf.data.Dataset.from_tensor_slices(X if y is None else (X, np.asarray(y)))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if augment_fn is not None:
        rng = np.random.default_rng(seed)
        sample = np.asarray(augment_fn(X[0], np.random.default_rng(seed)))
        dtype = tf.as_dtype(sample.dtype)

        def _np_augment(x):
            return np.asarray(augment_fn(x, rng), dtype=sample.dtype)

        def _tf_augment(x, *rest):
            out = tf.numpy_function(_np_augment, [x], dtype, stateful=True)
            out.set_shape(sample.shape)
            return (out, *rest) if rest else out

        ds = ds.map(_tf_augment)  # sequential: the draws follow the (seeded) order
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def class_weights(y) -> dict:
    """Balanced class weights ``n / (n_classes * count)``, keyed by class (Keras' ``class_weight``).

    A class twice as rare weighs twice as much in the loss, so the model cannot win by
    favouring frequent classes. Keras needs integer class ids 0..K-1 as keys.

    >>> class_weights([0, 0, 0, 1])
    {0: 0.6666666666666666, 1: 2.0}
    """
    values, counts = np.unique(np.asarray(y), return_counts=True)
    weights = len(y) / (len(values) * counts)
    return {v.item() if hasattr(v, "item") else v: float(w) for v, w in zip(values, weights)}


# --------------------------------------------------------------------------- callbacks


def standard_callbacks(checkpoint_path=None, *, monitor: str = "val_loss", patience: int = 10,
                       lr_patience: int = 4, lr_factor: float = 0.5, min_lr: float = 1e-5,
                       verbose: int = 0) -> list:
    """The three callbacks of the course's training loops, all watching ``monitor``.

    1. ``EarlyStopping(patience, restore_best_weights=True)``: stop when the validation
       loss has not improved for ``patience`` epochs and go back to the best weights.
       The model is chosen on validation actors, never on test actors.
    2. ``ReduceLROnPlateau(factor=lr_factor, patience=lr_patience)``: when the
       validation loss stalls, smaller steps often find a better minimum; ``lr_patience``
       is shorter than ``patience`` so the rate drops (once or twice) before stopping.
    3. ``ModelCheckpoint(save_best_only=True)``: the best epoch on disk in Keras'
       native format (``.keras``), so a crash or an interrupted run keeps it
       (skipped when ``checkpoint_path`` is None).

    >>> [type(c).__name__ for c in standard_callbacks("best.keras")]
    ['EarlyStopping', 'ReduceLROnPlateau', 'ModelCheckpoint']
    """
    import keras

    mode = "max" if "acc" in monitor or "auc" in monitor else "min"
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience, restore_best_weights=True,
                                      verbose=verbose),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=lr_factor, patience=lr_patience,
                                          min_lr=min_lr, verbose=verbose),
    ]
    if checkpoint_path is not None:
        path = Path(checkpoint_path)
        if path.suffix != ".keras":
            raise ValueError(f"checkpoint_path must end with .keras (Keras' native format), got {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(str(path), monitor=monitor, mode=mode, save_best_only=True,
                                                         verbose=verbose))
    return callbacks


# --------------------------------------------------------------------------- figures


def plot_history(history, *, metrics: Sequence[str] = ("loss", "accuracy"), axes=None, title: str | None = None):
    """Training and validation curves of a Keras ``History`` (or its ``.history`` dict).

    The best validation-loss epoch is marked: the weights the model keeps with
    :func:`standard_callbacks`. Returns the axes.
    """
    import matplotlib.pyplot as plt

    hist = history.history if hasattr(history, "history") else dict(history)
    metrics = [m for m in metrics if m in hist]
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
        axes = axes[0]
    best = int(np.argmin(hist["val_loss"])) if "val_loss" in hist else None
    for ax, m in zip(np.atleast_1d(axes), metrics):
        epochs = np.arange(1, len(hist[m]) + 1)
        ax.plot(epochs, hist[m], label="train")
        if f"val_{m}" in hist:
            ax.plot(epochs, hist[f"val_{m}"], label="validation")
        if best is not None:
            ax.axvline(best + 1, color="grey", ls="--", lw=1, label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.legend(fontsize=8)
    fig = np.atleast_1d(axes)[0].figure
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes


# --------------------------------------------------------------------------- estimator


class _QuietRetracing:
    """Hide TensorFlow's "triggered tf.function retracing" warnings during a block.

    Every new model (one per fold, per setting) gets its own train and predict
    functions; TensorFlow counts them together and warns about retracing, which is
    expected here and only clutters notebooks. Other warnings still show.
    """

    def __enter__(self):
        import logging

        self._logger = logging.getLogger("tensorflow")
        self._filter = lambda record: "retracing" not in record.getMessage()
        self._logger.addFilter(self._filter)
        return self

    def __exit__(self, *exc):
        self._logger.removeFilter(self._filter)
        return False


def _callable_spec(fn) -> dict | None:
    """JSON description of an importable function or ``functools.partial`` of one (else None)."""
    kwargs = {}
    if isinstance(fn, partial):
        if fn.args:
            return None
        kwargs, fn = dict(fn.keywords), fn.func
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in name:
        return None
    try:
        json.dumps(kwargs)
    except TypeError:
        return None
    return {"function": f"{module}:{name}", "kwargs": kwargs}


def _from_spec(spec: dict | None):
    """The function a saved spec names; only functions of this package are imported (a model
    file must not make the loader import arbitrary modules): others need ``load(transform=...)``."""
    if not spec:
        return None
    module, name = spec["function"].split(":")
    if module != "mmer_utils" and not module.startswith("mmer_utils."):
        from .errors import MmerError

        raise MmerError(f"the saved model names a transform outside mmer_utils ({spec['function']}); it is not "
                        "imported: pass it yourself with KerasEstimator.load(path, transform=...)")
    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    return partial(fn, **spec["kwargs"]) if spec["kwargs"] else fn


STATE_NAME = "state.json"


def read_state(folder) -> dict:
    """The saved state of a resumable training (``{}`` when none): epoch, stopped, history, learning_rate,
    fit_seconds, classes and the callbacks' counters (see :class:`KerasEstimator`'s ``checkpoint_dir``)."""
    path = Path(folder) / STATE_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def _jsonable(classes) -> list:
    return [c.item() if hasattr(c, "item") else c for c in np.asarray(classes).tolist()]


def _as_float(v):
    return None if v is None else float(v)


def _save_state_callback(folder: Path, es, rlr, ckpt, state: dict, seconds_before: float):
    """A Keras callback: after every epoch, keep the model (``last.keras``) and the callbacks'
    state (``state.json``) in ``folder``; at the start of a resumed run, give the callbacks their
    state back (built here because Keras is imported on demand)."""
    import keras

    class SaveState(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            # after the other callbacks' on_train_begin, which reset them
            cb = state.get("callbacks")
            if cb:
                es.best, es.wait, es.best_epoch = cb["es_best"], cb["es_wait"], cb["es_best_epoch"]
                rlr.best, rlr.wait, rlr.cooldown_counter = cb["rlr_best"], cb["rlr_wait"], cb["rlr_cooldown"]
                ckpt.best = cb["ckpt_best"]
                best = folder / "best.keras"
                if best.is_file():
                    es.best_weights = keras.models.load_model(best).get_weights()
            self._start = time.perf_counter()
            self._history = {k: list(v) for k, v in state.get("history", {}).items()}

        def on_epoch_end(self, epoch, logs=None):
            for k, v in (logs or {}).items():
                self._history.setdefault(k, []).append(float(v))
            with atomic_path(folder / "last.keras", suffix=".keras") as tmp:
                self.model.save(tmp)
            new = {
                "epoch": epoch + 1, "stopped": bool(self.model.stop_training), "history": self._history,
                "learning_rate": float(np.asarray(self.model.optimizer.learning_rate)),
                "fit_seconds": seconds_before + time.perf_counter() - self._start,
                "classes": state.get("classes"),
                "callbacks": {"es_best": _as_float(es.best), "es_wait": int(es.wait),
                              "es_best_epoch": int(es.best_epoch), "rlr_best": _as_float(rlr.best),
                              "rlr_wait": int(rlr.wait), "rlr_cooldown": int(rlr.cooldown_counter),
                              "ckpt_best": _as_float(ckpt.best)},
            }
            atomic_write_json(folder / STATE_NAME, new)  # written after last.keras: the two agree

    return SaveState()


class KerasEstimator(ClassifierMixin, BaseEstimator):
    """A Keras classifier with the scikit-learn interface.

    Parameters
    ----------
    build_fn : callable
        ``build_fn(input_shape, n_classes) -> keras.Model`` ending in a softmax (use
        ``functools.partial`` to set its other arguments). The estimator compiles it
        (Adam, sparse categorical cross-entropy).
    epochs, batch_size, learning_rate : training settings.
    validation_split : float
        Fraction of the training examples held out for early stopping when ``fit`` gets
        no ``validation_data`` (a random, hence speaker-leaky, hold-out: pass
        ``validation_data`` with other speakers instead). 0: no validation, no early stop.
    patience, lr_patience : see :func:`standard_callbacks`.
    class_weight : None or "balanced" (:func:`class_weights`).
    augment : callable or None
        ``augment(x, rng) -> x`` on one training example, a new draw each epoch.
    transform : callable or None
        ``transform(X) -> X'`` on a batch of examples, applied after ``augment`` in
        training and to every input of ``predict`` (e.g. spectrogram -> windows).
    checkpoint_dir : str or None
        None: the best epoch is kept in a temporary folder during ``fit``. A folder makes
        training **resumable** (``fit`` then needs validation data): after every epoch it
        keeps the whole model with its optimizer (``last.keras``), the best epoch so far
        (``best.keras``) and the state of early stopping, learning-rate reduction and the
        checkpoint (``state.json``, :func:`read_state`). Calling ``fit`` again continues
        from the last finished epoch; a run that early stopping ended, or that reached
        ``epochs``, is not trained again (raise ``epochs`` to train further); the model
        kept is the best epoch on the validation loss. Use one folder per configuration:
        its content is not checked against the arguments. After a resume the data order
        differs from an uninterrupted run's (the shuffle is reseeded with the epoch), so
        the two are equally good, not identical.
    seed : int
        :func:`mmer_utils.config.set_seed` at the start of ``fit``.
    verbose : int
        Keras' verbosity (0 silent, 2 one line per epoch).

    Attributes after ``fit``: ``classes_``, ``model_``, ``history_`` (dict of
    curves), ``best_epoch_``, ``fit_seconds_``.

    >>> from functools import partial                                       # doctest: +SKIP
    >>> from mmer_utils.audio.models import build_cnn2d                      # doctest: +SKIP
    >>> est = KerasEstimator(partial(build_cnn2d, filters=(8, 16)), epochs=5)  # doctest: +SKIP
    >>> est.fit(X_train, y_train, validation_data=(X_val, y_val)).score(X_test, y_test)  # doctest: +SKIP
    """

    def __init__(self, build_fn=None, *, epochs: int = 30, batch_size: int = 32, learning_rate: float = 1e-3,
                 validation_split: float = 0.0, patience: int = 10, lr_patience: int = 4,
                 class_weight: str | None = None, augment: Callable | None = None,
                 transform: Callable | None = None, checkpoint_dir: str | None = None,
                 seed: int = config.DEFAULT_SEED, verbose: int = 0):
        self.build_fn = build_fn
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_split = validation_split
        self.patience = patience
        self.lr_patience = lr_patience
        self.class_weight = class_weight
        self.augment = augment
        self.transform = transform
        self.checkpoint_dir = checkpoint_dir
        self.seed = seed
        self.verbose = verbose

    # -- helpers
    def _transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        return np.asarray(self.transform(X), dtype=np.float32) if self.transform is not None else X

    def _encode(self, y) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        try:
            return np.array([index[v] for v in np.asarray(y).tolist()], dtype=np.int32)
        except KeyError as exc:
            raise ValueError(f"label {exc.args[0]!r} was not seen in training") from None

    def _compile(self, model):
        import keras

        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    # -- scikit-learn API
    def fit(self, X, y, *, validation_data=None):
        """Train on ``(X, y)``; early stopping and checkpoint on ``validation_data=(X_val, y_val)``."""
        import keras

        if self.build_fn is None:
            raise ValueError("KerasEstimator needs a build_fn(input_shape, n_classes)")
        config.set_seed(self.seed)
        keras.utils.set_random_seed(self.seed)
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        y_int = self._encode(y)
        if validation_data is None and self.validation_split:
            rng = np.random.default_rng(self.seed)
            order = rng.permutation(len(X))
            n_val = int(round(len(X) * self.validation_split))
            val, tr = order[:n_val], order[n_val:]
            validation_data = (X[val], y[val])
            X, y_int = X[tr], y_int[tr]
        val = None
        if validation_data is not None:
            val = (self._transform(validation_data[0]), self._encode(validation_data[1]))

        augment, transform = self.augment, self.transform
        fn = None
        if augment is None and transform is not None:  # deterministic: transform once, up front
            X = self._transform(X)
        elif augment is not None:
            def fn(x, rng):
                x = augment(x, rng)
                return transform(x[None])[0] if transform is not None else x
        if self.checkpoint_dir:
            if val is None:
                raise ValueError("resumable training (checkpoint_dir) needs validation_data=(X_val, y_val) "
                                 "or validation_split > 0")
            return self._fit_resumable(X, y_int, val, fn)
        batch_size = min(self.batch_size, len(X))
        train_ds = make_dataset(X, y_int, batch_size=batch_size, shuffle=True, seed=self.seed, augment_fn=fn)
        input_shape = tuple(train_ds.element_spec[0].shape[1:])
        self.model_ = self._compile(self.build_fn(input_shape, len(self.classes_)))

        with tempfile.TemporaryDirectory() as tmp:
            callbacks = []
            if val is not None:
                callbacks = standard_callbacks(Path(tmp) / "best.keras", patience=self.patience,
                                               lr_patience=self.lr_patience)
            weights = class_weights(y_int) if self.class_weight == "balanced" else None
            start = time.perf_counter()
            with _QuietRetracing():
                history = self.model_.fit(train_ds, epochs=self.epochs, validation_data=val, callbacks=callbacks,
                                          class_weight=weights, shuffle=False, verbose=self.verbose)
            self.fit_seconds_ = time.perf_counter() - start
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        losses = self.history_.get("val_loss")
        self.best_epoch_ = int(np.argmin(losses)) + 1 if losses else len(self.history_["loss"])
        return self

    def _fit_resumable(self, X, y_int, val, fn):
        """``fit`` with ``checkpoint_dir``: continue from the state kept there (see the class doc)."""
        import keras

        folder = Path(self.checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        state = read_state(folder)
        if state and (state.get("classes") != _jsonable(self.classes_) or not (folder / "last.keras").is_file()):
            state = {}  # another problem's folder, or a run killed before its first epoch ended
        state["classes"] = _jsonable(self.classes_)
        initial_epoch = int(state.get("epoch", 0))
        finished = bool(state.get("stopped")) or initial_epoch >= self.epochs
        if initial_epoch:
            self.model_ = keras.models.load_model(folder / "last.keras")
        else:
            keras.utils.set_random_seed(self.seed)
            input_shape = np.asarray(X[0] if fn is None else fn(X[0], np.random.default_rng(0))).shape
            self.model_ = self._compile(self.build_fn(tuple(input_shape), len(self.classes_)))
        if not finished:
            keras.utils.set_random_seed(self.seed + initial_epoch)
            train_ds = make_dataset(X, y_int, batch_size=min(self.batch_size, len(X)), shuffle=True,
                                    seed=self.seed + initial_epoch, augment_fn=fn)
            callbacks = standard_callbacks(folder / "best.keras", patience=self.patience, lr_patience=self.lr_patience)
            es, rlr, ckpt = callbacks
            if initial_epoch and "learning_rate" in state:
                self.model_.optimizer.learning_rate.assign(state["learning_rate"])
            callbacks.append(_save_state_callback(folder, es, rlr, ckpt, state, float(state.get("fit_seconds", 0.0))))
            weights = class_weights(y_int) if self.class_weight == "balanced" else None
            with _QuietRetracing():
                self.model_.fit(train_ds, epochs=self.epochs, initial_epoch=initial_epoch, validation_data=val,
                                callbacks=callbacks, class_weight=weights, shuffle=False, verbose=self.verbose)
            state = read_state(folder)
        if (folder / "best.keras").is_file():  # the best epoch on the validation loss
            self.model_ = keras.models.load_model(folder / "best.keras")
        self.history_ = state.get("history", {})
        self.fit_seconds_ = float(state.get("fit_seconds", 0.0))
        losses = self.history_.get("val_loss")
        self.best_epoch_ = int(np.argmin(losses)) + 1 if losses else len(self.history_.get("loss", []))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        X = self._transform(X)
        with _QuietRetracing():
            return self.model_.predict(X, batch_size=self.batch_size, verbose=0)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # -- persistence
    def save(self, path, *, metadata: dict | None = None) -> Path:
        """Save the trained model in Keras' native format (``.keras``, one file).

        ``classes_``, the training settings, ``transform`` (when it is an importable
        function or a ``functools.partial`` of one) and ``metadata`` (e.g. the
        spectrogram parameters) travel inside the same archive.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"save to a .keras file (Keras' native format), got {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "classes": self.classes_.tolist(),
            "params": {k: v for k, v in self.get_params().items()
                       if isinstance(v, (int, float, str, type(None))) and k != "checkpoint_dir"},
            "transform": _callable_spec(self.transform),
            "metadata": metadata or getattr(self, "metadata_", None) or {},
            "history": getattr(self, "history_", {}),
        }
        with atomic_path(path, suffix=".keras") as tmp:
            self.model_.save(tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(META_NAME, json.dumps(meta))
        return path

    @classmethod
    def load(cls, path, *, transform: Callable | None = None) -> "KerasEstimator":
        """Load an estimator saved by :meth:`save`, ready to ``predict``.

        ``transform`` overrides the saved one (needed when it was not importable).
        """
        import keras

        path = Path(path)
        if not path.is_file():
            from .errors import DataNotFoundError

            raise DataNotFoundError(f"model file {path} not found")
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(META_NAME)) if META_NAME in zf.namelist() else {}
        est = cls(**meta.get("params", {}))
        est.transform = transform if transform is not None else _from_spec(meta.get("transform"))
        est.model_ = keras.models.load_model(path, safe_mode=True)  # no Lambda code from the file
        est.classes_ = np.asarray(meta.get("classes", list(range(est.model_.output_shape[-1]))))
        est.metadata_ = meta.get("metadata", {})
        est.history_ = meta.get("history", {})
        return est
