"""Training helpers shared by every chapter's Keras models.

* :func:`make_dataset`: a ``tf.data`` pipeline from NumPy arrays. Training batches
  are shuffled, optionally augmented on the fly, and always **complete**
  (``drop_remainder=True``): TF 2.21 + Keras 3 on some CPUs crash in oneDNN when
  a training step meets a smaller last batch. Evaluation batches keep every
  example: the last batch is padded and the padding gets a sample weight of 0.
* :func:`standard_callbacks`: early stopping, learning-rate reduction on plateau
  and a checkpoint of the best epoch, all watching the validation loss (or a
  validation score, :func:`validation_scores_callback`); :func:`resumable_callbacks`,
  the same with counters that survive an interruption.
* :func:`class_weights`: weights that make every class count the same in the loss.
* :func:`plot_history`: training curves (:func:`integer_epochs`: whole-epoch ticks on any axes).
* :class:`KerasEstimator`: the course's **one** Keras training loop, behind the
  scikit-learn interface (``fit`` / ``predict`` / ``predict_proba`` / ``classes_``,
  ``sklearn.base.clone`` works), saved and loaded in Keras' native ``.keras`` format;
  with a ``checkpoint_dir``, training **resumes** after an interruption
  (:func:`read_state`). Its hooks (``loss``, ``optimizer``, ``val_metric``,
  ``batch_fn``, named inputs, multi-label targets) let every chapter's network train
  through it: the audio and face CNNs, the text chapter's networks
  (:class:`~mmer_utils.text.bigfive.KerasTraitClassifier`,
  :class:`~mmer_utils.text.encoder.FineTunedTextClassifier`) and the fusion network
  (:class:`~mmer_utils.fusion.audiovisual.FusionNet`), all with one ``history_`` format.

>>> import numpy as np
>>> ds = make_dataset(np.zeros((10, 3)), np.zeros(10), batch_size=4, shuffle=True)
>>> [int(x.shape[0]) for x, y in ds]          # 10 = 4 + 4 + (2 dropped)
[4, 4]
"""

from __future__ import annotations

import importlib
import json
import time
import zipfile
from functools import cache, partial
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
    X : array (n, ...) or dict of arrays (n, ...)
        The inputs; a dict gives named inputs (a model with several ``keras.Input``).
    y : array (n,) or (n, k), or None
        Targets; None yields inputs only (prediction).
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

    Returns
    -------
    tf.data.Dataset
        Batches of ``(x, y)`` in training mode, ``(x, y, w)`` in evaluation mode, ``x``
        alone when ``y`` is None.

    >>> ds = make_dataset(np.zeros((10, 3)), np.arange(10), batch_size=4, shuffle=False)
    >>> [(int(x.shape[0]), float(w.numpy().sum())) for x, y, w in ds]
    [(4, 4.0), (4, 4.0), (4, 2.0)]
    """
    import tensorflow as tf

    X = {k: np.asarray(v) for k, v in X.items()} if isinstance(X, dict) else np.asarray(X)
    n = _n_rows(X)
    if augment_fn is not None and isinstance(X, dict):
        raise ValueError("augment_fn takes one array per example, not named inputs")
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
            ds = tf.data.Dataset.from_tensor_slices(_take(X, index))
        else:
            weights = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
            ds = tf.data.Dataset.from_tensor_slices((_take(X, index), np.asarray(y)[index], weights))
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

    Parameters
    ----------
    y : array (n,)
        Class ids.

    Returns
    -------
    dict class -> weight

    >>> class_weights([0, 0, 0, 1])
    {0: 0.6666666666666666, 1: 2.0}
    """
    values, counts = np.unique(np.asarray(y), return_counts=True)
    weights = len(y) / (len(values) * counts)
    return {v.item() if hasattr(v, "item") else v: float(w) for v, w in zip(values, weights)}


# --------------------------------------------------------------------------- callbacks


def monitor_mode(monitor: str) -> str:
    """``"min"`` for a loss, ``"max"`` for a score (accuracy, F1, UAR, AUC...).

    Parameters
    ----------
    monitor : str
        A logged quantity, e.g. ``"val_loss"``.

    Returns
    -------
    str

    >>> monitor_mode("val_loss"), monitor_mode("val_weighted_f1")
    ('min', 'max')
    """
    return "min" if monitor.endswith("loss") else "max"


def standard_callbacks(checkpoint_path=None, *, monitor: str = "val_loss", patience: int = 10,
                       lr_patience: int | None = 4, lr_factor: float = 0.5, min_lr: float = 1e-5,
                       verbose: int = 0) -> list:
    """The three callbacks of the course's training loops, all watching ``monitor``.

    1. ``EarlyStopping(patience, restore_best_weights=True)``: stop when the validation
       loss has not improved for ``patience`` epochs and go back to the best weights.
       The model is chosen on validation actors, never on test actors.
    2. ``ReduceLROnPlateau(factor=lr_factor, patience=lr_patience)``: when the
       validation loss stalls, smaller steps often find a better minimum; ``lr_patience``
       is shorter than ``patience`` so the rate drops (once or twice) before stopping.
       Left out when ``lr_patience`` is None (an optimizer with its own schedule).
    3. ``ModelCheckpoint(save_best_only=True)``: the best epoch on disk in Keras'
       native format (``.keras``), so a crash or an interrupted run keeps it
       (skipped when ``checkpoint_path`` is None).

    Parameters
    ----------
    checkpoint_path : str, Path or None
        Where the best epoch is saved (must end with ``.keras``); None: no checkpoint.
    monitor : str
        The logged quantity watched: ``"val_loss"`` (minimised) or a score such as
        ``"val_weighted_f1"`` (maximised, see :func:`monitor_mode`).
    patience, lr_patience : int
        Epochs without improvement before stopping, and before halving the rate.
    lr_factor, min_lr : float
        Factor of each learning-rate reduction, and the rate it never goes below.
    verbose : int
        Keras' verbosity of the callbacks.

    Returns
    -------
    list of keras.callbacks.Callback

    >>> [type(c).__name__ for c in standard_callbacks("best.keras")]
    ['EarlyStopping', 'ReduceLROnPlateau', 'ModelCheckpoint']
    """
    import keras

    mode = monitor_mode(monitor)
    callbacks = [keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                               restore_best_weights=True, verbose=verbose)]
    if lr_patience is not None:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=lr_factor,
                                                           patience=lr_patience, min_lr=min_lr, verbose=verbose))
    if checkpoint_path is not None:
        path = Path(checkpoint_path)
        if path.suffix != ".keras":
            raise ValueError(f"checkpoint_path must end with .keras (Keras' native format), got {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(str(path), monitor=monitor, mode=mode, save_best_only=True,
                                                         verbose=verbose))
    return callbacks


def resumable_callbacks(folder, *, state: dict | None = None, monitor: str = "val_loss", patience: int = 10,
                        lr_patience: int | None = 4, verbose: int = 0) -> list:
    """:func:`standard_callbacks` whose counters survive an interruption (``checkpoint_dir`` training).

    The three callbacks are documented subclasses of Keras' own,
    ``ResumableEarlyStopping``, ``ResumableReduceLROnPlateau`` and
    ``ResumableModelCheckpoint`` (the last saves ``folder/best.keras``). Each has
    ``state() -> dict``, its counters (the keys of ``state.json``'s ``"callbacks"``:
    ``es_best``, ``es_wait``, ``es_best_epoch``, ``rlr_best``, ``rlr_wait``,
    ``rlr_cooldown``, ``ckpt_best``), and takes them back at the start of training
    (after Keras' own reset) from ``state``. Early stopping also takes back the best
    weights so far from ``folder/best.keras``.

    Parameters
    ----------
    folder : str or Path
        The training's folder (``best.keras`` is written there).
    state : dict or None
        The ``"callbacks"`` entry of a previous :func:`read_state` (None: a new training).
    monitor, patience, lr_patience, verbose
        As in :func:`standard_callbacks`.

    Returns
    -------
    list of keras.callbacks.Callback
        Early stopping, [learning-rate reduction], checkpoint.
    """
    ResumableEarlyStopping, ResumableReduceLROnPlateau, ResumableModelCheckpoint = _resumable_classes()
    folder = Path(folder)
    mode = monitor_mode(monitor)
    state = dict(state or {})
    callbacks = [ResumableEarlyStopping(folder / "best.keras", state, monitor=monitor, mode=mode, patience=patience,
                                        restore_best_weights=True, verbose=verbose)]
    if lr_patience is not None:
        callbacks.append(ResumableReduceLROnPlateau(state, monitor=monitor, mode=mode, factor=0.5,
                                                    patience=lr_patience, min_lr=1e-5, verbose=verbose))
    folder.mkdir(parents=True, exist_ok=True)
    callbacks.append(ResumableModelCheckpoint(state, str(folder / "best.keras"), monitor=monitor, mode=mode,
                                              save_best_only=True, verbose=verbose))
    return callbacks


@cache
def _resumable_classes():
    """The three resumable callback classes (defined on first use: Keras is imported on demand)."""
    import keras

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """``EarlyStopping`` with ``state()`` and a restore of that state (and of the best weights) at train begin."""

        def __init__(self, best_path, state, **kwargs):
            super().__init__(**kwargs)
            self.best_path, self.saved_state = Path(best_path), state

        def state(self) -> dict:
            return {"es_best": _as_float(self.best), "es_wait": int(self.wait), "es_best_epoch": int(self.best_epoch)}

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)  # Keras resets the counters here; then they are given back
            if "es_wait" in self.saved_state:
                s = self.saved_state
                self.best, self.wait, self.best_epoch = s["es_best"], s["es_wait"], s["es_best_epoch"]
                if self.best_path.is_file():
                    self.best_weights = keras.models.load_model(self.best_path).get_weights()

    class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
        """``ReduceLROnPlateau`` with ``state()`` and a restore of that state at train begin."""

        def __init__(self, state, **kwargs):
            super().__init__(**kwargs)
            self.saved_state = state

        def state(self) -> dict:
            return {"rlr_best": _as_float(self.best), "rlr_wait": int(self.wait),
                    "rlr_cooldown": int(self.cooldown_counter)}

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if "rlr_wait" in self.saved_state:
                s = self.saved_state
                self.best, self.wait, self.cooldown_counter = s["rlr_best"], s["rlr_wait"], s["rlr_cooldown"]

    class ResumableModelCheckpoint(keras.callbacks.ModelCheckpoint):
        """``ModelCheckpoint(save_best_only=True)`` with ``state()`` and a restore of its best value."""

        def __init__(self, state, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.saved_state = state

        def state(self) -> dict:
            return {"ckpt_best": _as_float(self.best)}

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if "ckpt_best" in self.saved_state:
                self.best = self.saved_state["ckpt_best"]

    return ResumableEarlyStopping, ResumableReduceLROnPlateau, ResumableModelCheckpoint


# --------------------------------------------------------------------------- figures


def integer_epochs(*axes) -> None:
    """Put the x-axis ticks (epochs) of each of ``axes`` on whole numbers only: 1, 2, 3 ..., never 1.5.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); _ = ax.plot([1, 2], [0.5, 0.4]); integer_epochs(ax)
    >>> all(float(t).is_integer() for t in ax.get_xticks()); plt.close(fig)
    True
    """
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_history(history, *, metrics: Sequence[str] = ("loss", "accuracy"), axes=None, title: str | None = None):
    """Training and validation curves of a Keras ``History`` (or its ``.history`` dict).

    The best validation-loss epoch is marked: the weights the model keeps with
    :func:`standard_callbacks`. Epochs are numbered from 1 and ticked at whole numbers only
    (no "epoch 1.5" on a short run).

    Parameters
    ----------
    history : keras History or dict
        One list per quantity (``KerasEstimator.history_``).
    metrics : sequence of str
        The quantities drawn (one panel each, those absent are skipped).
    axes : matplotlib axes or None
        Where to draw; None: a new figure.
    title : str or None
        The figure's title.

    Returns
    -------
    array of matplotlib axes
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
        integer_epochs(ax)  # epochs are whole numbers
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.legend(fontsize=8)
    fig = np.atleast_1d(axes)[0].figure
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes


# --------------------------------------------------------------------------- estimator


class QuietRetracing:
    """Context manager that hides TensorFlow's "triggered tf.function retracing" warnings during a block.

    Every new model (one per fold, per setting) gets its own train and predict
    functions; TensorFlow counts them together and warns about retracing, which is
    expected here and only clutters notebooks. Other warnings still show.

    >>> with QuietRetracing():
    ...     pass
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
    """The saved state of a resumable training (see :class:`KerasEstimator`'s ``checkpoint_dir``).

    Parameters
    ----------
    folder : str or Path
        The training's ``checkpoint_dir``.

    Returns
    -------
    dict
        ``{}`` when none; else epoch, stopped, history, learning_rate, fit_seconds,
        classes and ``callbacks`` (the counters of :func:`resumable_callbacks`).
    """
    path = Path(folder) / STATE_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def _jsonable(classes) -> list:
    return [c.item() if hasattr(c, "item") else c for c in np.asarray(classes).tolist()]


def _as_float(v):
    return None if v is None else float(v)


def _save_state_callback(folder: Path, callbacks: list, state: dict, seconds_before: float):
    """A Keras callback: after every epoch, keep the model (``last.keras``) and the callbacks' state
    (``state.json``, each callback's ``state()``) in ``folder``."""
    import keras

    class SaveState(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._start = time.perf_counter()
            self._history = {k: list(v) for k, v in state.get("history", {}).items()}

        def on_epoch_end(self, epoch, logs=None):
            for k, v in (logs or {}).items():
                self._history.setdefault(k, []).append(float(v))
            with atomic_path(folder / "last.keras", suffix=".keras") as tmp:
                self.model.save(tmp)
            counters = {}
            for cb in callbacks:
                counters.update(cb.state())
            new = {
                "epoch": epoch + 1, "stopped": bool(self.model.stop_training), "history": self._history,
                "learning_rate": float(np.asarray(self.model.optimizer.learning_rate)),
                "fit_seconds": seconds_before + time.perf_counter() - self._start,
                "classes": state.get("classes"), "callbacks": counters,
            }
            atomic_write_json(folder / STATE_NAME, new)  # written after last.keras: the two agree

    return SaveState()


def validation_scores_callback(predict_proba: Callable, X_val, y_val, classes):
    """A Keras callback that scores the validation data after every epoch, for a metric Keras does not log.

    It adds to the epoch's logs (hence to the history and to the callbacks after it,
    which can monitor them) ``val_accuracy``, ``val_macro_f1``, ``val_weighted_f1`` and
    ``val_uar`` (:func:`mmer_utils.evaluation.classification_scores`) and ``val_loss``,
    the cross-entropy of the predicted probabilities.

    Parameters
    ----------
    predict_proba : callable
        ``predict_proba(X_val) -> (n, n_classes)`` with the model as it is at that epoch.
    X_val : array or dict of arrays
        The validation inputs.
    y_val : array of int, shape (n,)
        Their class ids (column indices of the probabilities).
    classes : array
        The class labels, in column order.

    Returns
    -------
    keras.callbacks.Callback
    """
    import keras

    from . import evaluation

    y_val = np.asarray(y_val)
    classes = np.asarray(classes)

    class ValidationScores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            proba = np.asarray(predict_proba(X_val), dtype=np.float64)
            scores = evaluation.classification_scores(classes[y_val], classes[proba.argmax(axis=1)])
            if logs is not None:
                logs["val_loss"] = float(-np.mean(np.log(np.clip(proba[np.arange(len(y_val)), y_val], 1e-7, 1.0))))
                logs.update({f"val_{k}": float(v) for k, v in scores.items()})

    return ValidationScores()


#: What a fitted :class:`KerasEstimator` learnt, which the estimators built on it show as their own.
FIT_ATTRIBUTES = ("classes_", "model_", "history_", "best_epoch_", "fit_seconds_")


def expose_fit(owner, estimator: "KerasEstimator", names=FIT_ATTRIBUTES):
    """Give ``owner`` (an estimator that trains through a :class:`KerasEstimator`) that estimator's fit results.

    Parameters
    ----------
    owner : object
        Gets ``estimator`` as ``keras_`` and each of ``names`` as its own attribute.
    estimator : KerasEstimator
        Fitted.
    names : sequence of str
        The attributes copied (default :data:`FIT_ATTRIBUTES`).

    Returns
    -------
    owner
    """
    owner.keras_ = estimator
    for name in names:
        setattr(owner, name, getattr(estimator, name))
    return owner


def _as_inputs(X):
    """Model inputs: a float32 array, an integer array (token ids) as it is, or a dict of them (named inputs)."""
    if isinstance(X, dict):
        return {k: _as_inputs(v) for k, v in X.items()}
    X = np.asarray(X)
    return X if np.issubdtype(X.dtype, np.integer) else X.astype(np.float32)


def _n_rows(X) -> int:
    if isinstance(X, dict):
        lengths = {len(v) for v in X.values()}
        if len(lengths) != 1:
            raise ValueError(f"the named inputs differ in length: {sorted(lengths)}")
        return lengths.pop()
    return len(X)


def _take(X, index):
    return {k: v[index] for k, v in X.items()} if isinstance(X, dict) else X[index]


def _shape_of(spec):
    """The input shape a ``build_fn`` gets: a tuple, or a dict of tuples for named inputs."""
    if isinstance(spec, dict):
        return {k: tuple(v.shape[1:]) for k, v in spec.items()}
    return tuple(spec.shape[1:])


def _best_epoch(history: dict, monitor: str) -> int:
    values = history.get(monitor)
    if not values:
        return len(history.get("loss", []))
    return int(np.argmin(values) if monitor_mode(monitor) == "min" else np.argmax(values)) + 1


class KerasEstimator(ClassifierMixin, BaseEstimator):
    """A Keras classifier with the scikit-learn interface: the course's one Keras training loop.

    Parameters
    ----------
    build_fn : callable
        ``build_fn(input_shape, n_outputs) -> keras.Model`` ending in a softmax (or in
        sigmoids for multi-label ``y``); use ``functools.partial`` to set its other
        arguments. ``input_shape`` is a tuple, or a dict of tuples when ``X`` is a dict of
        named inputs. The estimator compiles it.
    epochs : int
        Most epochs trained.
    batch_size : int
        Examples per batch (training batches are always complete, :func:`make_dataset`).
    learning_rate : float
        Adam's learning rate (ignored when ``optimizer`` is given).
    validation_split : float
        Fraction of the training examples held out for early stopping when ``fit`` gets
        no ``validation_data`` (a random, hence speaker-leaky, hold-out: pass
        ``validation_data`` with other speakers instead). 0: no validation, no early stop.
    patience, lr_patience : int
        See :func:`standard_callbacks`; ``lr_patience=None`` never lowers the rate.
    class_weight : None or "balanced"
        ``"balanced"``: :func:`class_weights` (single-label ``y`` only).
    augment : callable or None
        ``augment(x, rng) -> x`` on one training example, a new draw each epoch.
    transform : callable or None
        ``transform(X) -> X'`` on a batch of examples, applied after ``augment`` in
        training and to every input of ``predict`` (e.g. spectrogram -> windows).
    checkpoint_dir : str or None
        None: the best epoch is kept in memory during ``fit``. A folder makes
        training **resumable** (``fit`` then needs validation data): after every epoch it
        keeps the whole model with its optimizer (``last.keras``), the best epoch so far
        (``best.keras``) and the state of early stopping, learning-rate reduction and the
        checkpoint (``state.json``, :func:`read_state`, :func:`resumable_callbacks`).
        Calling ``fit`` again continues from the last finished epoch; a run that early
        stopping ended, or that reached ``epochs``, is not trained again (raise ``epochs``
        to train further); the model kept is the best epoch on the validation data. Use one
        folder per configuration: its content is not checked against the arguments. After
        a resume the data order differs from an uninterrupted run's (the shuffle is
        reseeded with the epoch), so the two are equally good, not identical.
    loss : str or None
        Keras loss. None: sparse categorical cross-entropy for a 1-D ``y`` of labels,
        binary cross-entropy for a 2-D 0/1 ``y`` (multi-label: one sigmoid per column).
    optimizer : callable or None
        ``optimizer() -> keras.optimizers.Optimizer``, called once per ``fit`` (e.g. AdamW
        with a warm-up schedule). None: ``Adam(learning_rate)``.
    val_metric : str or None
        None: early stopping, learning-rate reduction and the epoch kept follow the
        validation loss Keras computes. A score of
        :func:`mmer_utils.evaluation.classification_scores` (``"weighted_f1"``,
        ``"accuracy"``, ``"macro_f1"``, ``"uar"``): the validation data is predicted after
        every epoch (:func:`validation_scores_callback`) and that score, maximised, is
        watched instead.
    batch_fn : callable or None
        ``batch_fn(x) -> x`` on the TensorFlow inputs of every batch (training, validation
        and prediction), e.g. cutting padded token ids to the batch's longest text.
    seed : int
        :func:`mmer_utils.config.set_seed` at the start of ``fit``.
    verbose : int
        Keras' verbosity (0 silent, 2 one line per epoch).

    Attributes
    ----------
    classes_ : array
        The labels, in the column order of ``predict_proba`` (``0..k-1`` for multi-label ``y``).
    model_ : keras.Model
        The network, with the weights of the best epoch on the validation data.
    history_ : dict
        One list per logged quantity (``loss``, ``accuracy``, ``val_loss``, ``val_...``,
        ``learning_rate``), one value per epoch: Keras' ``History.history`` format.
    best_epoch_ : int
        The epoch kept (1-based).
    fit_seconds_ : float
        Training time in seconds.

    >>> from functools import partial                                       # doctest: +SKIP
    >>> from mmer_utils.audio.models import build_cnn2d                      # doctest: +SKIP
    >>> est = KerasEstimator(partial(build_cnn2d, filters=(8, 16)), epochs=5)  # doctest: +SKIP
    >>> est.fit(X_train, y_train, validation_data=(X_val, y_val)).score(X_test, y_test)  # doctest: +SKIP
    """

    def __init__(self, build_fn=None, *, epochs: int = 30, batch_size: int = 32, learning_rate: float = 1e-3,
                 validation_split: float = 0.0, patience: int = 10, lr_patience: int | None = 4,
                 class_weight: str | None = None, augment: Callable | None = None,
                 transform: Callable | None = None, checkpoint_dir: str | None = None, loss: str | None = None,
                 optimizer: Callable | None = None, val_metric: str | None = None, batch_fn: Callable | None = None,
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
        self.loss = loss
        self.optimizer = optimizer
        self.val_metric = val_metric
        self.batch_fn = batch_fn
        self.seed = seed
        self.verbose = verbose

    # -- helpers
    def transform_inputs(self, X):
        """``X`` as the network reads it: float32 (token ids kept as integers), then ``transform``.

        Parameters
        ----------
        X : array or dict of arrays
            Examples, as ``fit`` and ``predict`` take them.

        Returns
        -------
        array or dict of arrays
        """
        X = _as_inputs(X)
        return _as_inputs(self.transform(X)) if self.transform is not None else X

    def _encode(self, y) -> np.ndarray:
        if getattr(self, "multilabel_", False):
            y = np.asarray(y)
            if y.ndim != 2 or y.shape[1] != len(self.classes_) or not np.isin(y, (0, 1)).all():
                raise ValueError(f"multi-label targets must be 0/1 with {len(self.classes_)} columns")
            return y.astype(np.float32)
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        try:
            return np.array([index[v] for v in np.asarray(y).tolist()], dtype=np.int32)
        except KeyError as exc:
            raise ValueError(f"label {exc.args[0]!r} was not seen in training") from None

    def _monitor(self) -> str:
        return f"val_{self.val_metric}" if self.val_metric else "val_loss"

    def _compile(self, model):
        import keras

        multilabel = getattr(self, "multilabel_", False)
        optimizer = keras.optimizers.Adam(self.learning_rate) if self.optimizer is None else self.optimizer()
        loss = self.loss or ("binary_crossentropy" if multilabel else "sparse_categorical_crossentropy")
        # "accuracy" would be read as categorical accuracy on a multi-label output
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")] if multilabel else ["accuracy"]
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        return model

    def _dataset(self, X, y=None):
        """Evaluation batches (every example, in order), with ``batch_fn`` applied."""
        ds = make_dataset(X, y, batch_size=self.batch_size, shuffle=False)
        return ds.map(lambda x, *rest: (self.batch_fn(x), *rest) if rest else self.batch_fn(x))

    def _predict_model(self, X) -> np.ndarray:
        """The network's outputs for inputs already transformed."""
        with QuietRetracing():
            if self.batch_fn is None:
                return self.model_.predict(X, batch_size=self.batch_size, verbose=0)
            return np.asarray(self.model_.predict(self._dataset(X), verbose=0))[: _n_rows(X)]

    def _callbacks(self, val, folder=None, state=None) -> tuple[list, object]:
        """The training callbacks and the validation data for Keras (None when scored by a callback)."""
        if val is None:
            return [], None
        first = []
        keras_val = val if self.batch_fn is None else self._dataset(*val)
        if self.val_metric:
            if getattr(self, "multilabel_", False):
                raise ValueError("val_metric needs single-label y (one class per example)")
            first = [validation_scores_callback(self._predict_model, val[0], val[1], self.classes_)]
            keras_val = None  # the callback predicts the validation data once per epoch
        kw = {"monitor": self._monitor(), "patience": self.patience, "lr_patience": self.lr_patience}
        if folder is None:
            return first + standard_callbacks(None, **kw), keras_val
        return first + resumable_callbacks(folder, state=state, **kw), keras_val

    def _class_weights(self, y_fit):
        if self.class_weight is None:
            return None
        if self.class_weight != "balanced":
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        if getattr(self, "multilabel_", False):
            raise ValueError("class_weight='balanced' needs single-label y")
        return class_weights(y_fit)

    # -- scikit-learn API
    def fit(self, X, y, *, validation_data=None):
        """Train on ``(X, y)``; early stopping on ``validation_data``.

        Parameters
        ----------
        X : array (n, ...) or dict of arrays (named inputs)
            Float features, or integer ids (kept as integers).
        y : array (n,) of labels, or (n, k) of 0/1 (multi-label)
        validation_data : tuple (X_val, y_val) or None
            Data for early stopping, the learning-rate reduction and the choice of the
            epoch kept (never the test data).

        Returns
        -------
        self
        """
        import keras

        if self.build_fn is None:
            raise ValueError("KerasEstimator needs a build_fn(input_shape, n_outputs)")
        config.set_seed(self.seed)
        keras.utils.set_random_seed(self.seed)
        X = _as_inputs(X)
        y = np.asarray(y)
        if len(y) != _n_rows(X):
            raise ValueError(f"X has {_n_rows(X)} examples but y has {len(y)}")
        self.multilabel_ = y.ndim == 2
        self.classes_ = np.arange(y.shape[1]) if self.multilabel_ else np.unique(y)
        y_int = self._encode(y)
        if validation_data is None and self.validation_split:
            rng = np.random.default_rng(self.seed)
            order = rng.permutation(len(y))
            n_val = int(round(len(y) * self.validation_split))
            val, tr = order[:n_val], order[n_val:]
            validation_data = (_take(X, val), y[val])
            X, y_int = _take(X, tr), y_int[tr]
        val = None
        if validation_data is not None:
            val = (self.transform_inputs(validation_data[0]), self._encode(validation_data[1]))

        augment, transform = self.augment, self.transform
        fn = None
        if augment is None and transform is not None:  # deterministic: transform once, up front
            X = self.transform_inputs(X)
        elif augment is not None:
            if isinstance(X, dict):
                raise ValueError("augment takes one array per example, not named inputs")

            def fn(x, rng):
                x = augment(x, rng)
                return transform(x[None])[0] if transform is not None else x
        if self.checkpoint_dir:
            if val is None:
                raise ValueError("resumable training (checkpoint_dir) needs validation_data=(X_val, y_val) "
                                 "or validation_split > 0")
            return self._fit_resumable(X, y_int, val, fn)
        batch_size = min(self.batch_size, len(y_int))
        train_ds = make_dataset(X, y_int, batch_size=batch_size, shuffle=True, seed=self.seed, augment_fn=fn)
        input_shape = _shape_of(train_ds.element_spec[0])
        if self.batch_fn is not None:
            train_ds = train_ds.map(lambda x, t: (self.batch_fn(x), t))
        self.model_ = self._compile(self.build_fn(input_shape, len(self.classes_)))
        callbacks, keras_val = self._callbacks(val)
        start = time.perf_counter()
        with QuietRetracing():
            history = self.model_.fit(train_ds, epochs=self.epochs, validation_data=keras_val, callbacks=callbacks,
                                      class_weight=self._class_weights(y_int), shuffle=False, verbose=self.verbose)
        self.fit_seconds_ = time.perf_counter() - start
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.best_epoch_ = _best_epoch(self.history_, self._monitor())
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
            if isinstance(X, dict):
                input_shape = {k: tuple(v.shape[1:]) for k, v in X.items()}
            else:
                input_shape = tuple(np.asarray(X[0] if fn is None else fn(X[0], np.random.default_rng(0))).shape)
            self.model_ = self._compile(self.build_fn(input_shape, len(self.classes_)))
        if not finished:
            keras.utils.set_random_seed(self.seed + initial_epoch)
            train_ds = make_dataset(X, y_int, batch_size=min(self.batch_size, len(y_int)), shuffle=True,
                                    seed=self.seed + initial_epoch, augment_fn=fn)
            if self.batch_fn is not None:
                train_ds = train_ds.map(lambda x, t: (self.batch_fn(x), t))
            callbacks, keras_val = self._callbacks(val, folder, state.get("callbacks"))
            if initial_epoch and "learning_rate" in state:
                self.model_.optimizer.learning_rate.assign(state["learning_rate"])
            counted = [cb for cb in callbacks if hasattr(cb, "state")]
            callbacks.append(_save_state_callback(folder, counted, state, float(state.get("fit_seconds", 0.0))))
            with QuietRetracing():
                self.model_.fit(train_ds, epochs=self.epochs, initial_epoch=initial_epoch, validation_data=keras_val,
                                callbacks=callbacks, class_weight=self._class_weights(y_int), shuffle=False,
                                verbose=self.verbose)
            state = read_state(folder)
        if (folder / "best.keras").is_file():  # the best epoch on the validation data
            self.model_ = keras.models.load_model(folder / "best.keras")
        self.history_ = state.get("history", {})
        self.fit_seconds_ = float(state.get("fit_seconds", 0.0))
        self.best_epoch_ = _best_epoch(self.history_, self._monitor())
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array or dict of arrays, as in ``fit``

        Returns
        -------
        array (n, n_classes)
            Columns in the order of ``classes_`` (for multi-label ``y``, P(column = 1)).
        """
        return self._predict_model(self.transform_inputs(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each example (multi-label: the 0/1 matrix, threshold 0.5).

        Parameters
        ----------
        X : array or dict of arrays, as in ``fit``

        Returns
        -------
        array (n,) of labels, or (n, k) of 0/1
        """
        proba = self.predict_proba(X)
        if getattr(self, "multilabel_", False):
            return (proba >= 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

    # -- persistence
    def save(self, path, *, metadata: dict | None = None) -> Path:
        """Save the trained model in Keras' native format (``.keras``, one file).

        ``classes_``, the training settings, ``transform`` (when it is an importable
        function or a ``functools.partial`` of one) and ``metadata`` (e.g. the
        spectrogram parameters) travel inside the same archive.

        Parameters
        ----------
        path : str or Path
            A ``.keras`` file (written atomically).
        metadata : dict or None
            JSON-able facts to keep with the model (default: ``metadata_`` when loaded).

        Returns
        -------
        Path
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
            "multilabel": bool(getattr(self, "multilabel_", False)),
        }
        with atomic_path(path, suffix=".keras") as tmp:
            self.model_.save(tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(META_NAME, json.dumps(meta))
        return path

    @classmethod
    def load(cls, path, *, transform: Callable | None = None) -> "KerasEstimator":
        """Load an estimator saved by :meth:`save`, ready to ``predict``.

        Parameters
        ----------
        path : str or Path
            A file written by :meth:`save`.
        transform : callable or None
            Overrides the saved transform (needed when it was not importable).

        Returns
        -------
        KerasEstimator
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
        est.multilabel_ = bool(meta.get("multilabel", False))
        return est
