"""Deep models of emotion in the voice, and their speaker-independent evaluation.

Two models read log-mel spectrograms (:mod:`mmer_utils.audio.spectrogram`):

* :func:`build_cnn_lstm`, the source's **time-distributed CNN-LSTM** (after Zhao,
  Mao & Chen 2019): the spectrogram is cut into overlapping windows
  (:func:`~mmer_utils.audio.spectrogram.rolling_windows`); the same small CNN, four
  *local feature learning blocks* (Conv2D + BatchNorm + ELU + MaxPool + Dropout),
  turns each window into a vector (``TimeDistributed``); an LSTM reads the sequence
  of window vectors and a softmax gives the emotion.
* :func:`build_cnn2d`, a plain 2-D CNN on the whole spectrogram (the same blocks,
  then global average pooling): the comparison that says whether the LSTM helps.

Both return an uncompiled ``keras.Model``; :class:`mmer_utils.training.KerasEstimator`
compiles and trains them behind the scikit-learn interface.

The protocol (:func:`train_eval_actor_folds`) is the course's headline:
speaker-independent, on the six fixed actor folds of :mod:`mmer_utils.splits`;
each fold's validation actors (the next fold) drive early stopping, the
learning-rate schedule and the choice of the best epoch, and its test actors are
seen once, at the end. ``by=sex`` trains one model per sex (the source's
"separate handling of gender"). :func:`train_eval_random_split` is the same
model on a random split of the clips: leaky, shown only to see how much it inflates.
With a ``cache_dir`` both are resumable twice over: a finished fold is read back, and an
interrupted one continues from its last finished epoch (each model trains with a
``checkpoint_dir`` of its own, see :class:`mmer_utils.training.KerasEstimator`).

>>> model = build_cnn_lstm((4, 128, 64, 1), 8, filters=(8, 8, 16, 16))  # doctest: +SKIP
>>> model.output_shape                                                  # doctest: +SKIP
(None, 8)
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import evaluation
from ..evaluation import Fold, FoldResults
from ..labels import RAVDESS
from ..splits import actor_folds, random_split


# --------------------------------------------------------------------------- models


def local_feature_block(x, filters: int, *, pool=2, dropout: float = 0.2, bn_momentum: float = 0.9,
                        name: str = "lflb"):
    """One *local feature learning block*: Conv2D 3x3 -> BatchNorm -> ELU -> MaxPool -> Dropout.

    BatchNorm keeps the activations' scale stable from batch to batch (faster,
    steadier training); ELU is a ReLU that lets small negative values through;
    max-pooling halves time and frequency (a little invariance to small shifts);
    dropout fights over-fitting on a small data set. ``bn_momentum=0.9`` (Keras: 0.99)
    lets BatchNorm's running statistics, used at inference, follow the weights within
    an epoch: with ~30 steps per epoch, 0.99 lags and makes the validation loss jumpy.
    """
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    x = layers.ELU(name=f"{name}_elu")(x)
    x = layers.MaxPooling2D(pool, name=f"{name}_pool")(x)
    return layers.Dropout(dropout, name=f"{name}_drop")(x)


def build_window_encoder(window_shape=(128, 64, 1), *, filters: Sequence[int] = (16, 32, 64, 64),
                         pools: Sequence = (2, 2, 2, 2), dropout: float = 0.2, flatten: bool = False):
    """The CNN that turns one window ``(win, n_mels, 1)`` into a vector.

    After the blocks, the feature maps ``(time, frequency, channels)`` are averaged and
    max-pooled over the window's time and kept per frequency (``flatten=False``): fewer numbers
    for the LSTM than the source's ``Flatten`` (``flatten=True``), which over-fits
    the training voices on RAVDESS's ~900 training clips.
    """
    import keras
    from keras import layers

    inputs = keras.Input(window_shape, name="window")
    x = inputs
    for i, (f, p) in enumerate(zip(filters, pools)):
        x = local_feature_block(x, f, pool=p, dropout=dropout, name=f"lflb{i + 1}")
    if flatten:
        x = layers.Flatten(name="flatten")(x)
    else:  # mean and max over the window's time, per frequency and channel
        _, t, fr, c = x.shape
        x = layers.Reshape((t, fr * c), name="time_major")(x)
        x = layers.Concatenate(name="time_pool")([layers.GlobalAveragePooling1D(name="time_mean")(x),
                                                  layers.GlobalMaxPooling1D(name="time_max")(x)])
    return keras.Model(inputs, x, name="window_encoder")


def build_cnn_lstm(input_shape=(4, 128, 64, 1), n_classes: int = 8, *, filters: Sequence[int] = (16, 32, 64, 64),
                   pools: Sequence = (2, 2, 2, 2), dropout: float = 0.2, lstm_units: Sequence[int] = (64, 32),
                   head_dropout: float = 0.3, flatten: bool = False, pool_sequence: bool = True,
                   name: str = "cnn_lstm"):
    """The source's time-distributed CNN-LSTM.

    Parameters
    ----------
    input_shape : (n_windows, win, n_mels, 1), from
        :func:`~mmer_utils.audio.spectrogram.rolling_windows`.
    n_classes : number of emotions.
    filters, pools : filters and pooling size of each local feature learning block
        (four in the source); the window must survive the pooling (128 / 2^4 = 8 frames).
    dropout : after each block; ``head_dropout`` before the softmax.
    lstm_units : one LSTM per entry (two in the source); all but the last return sequences.
    flatten : how each window's feature maps become a vector (see :func:`build_window_encoder`).
    pool_sequence : True: the last LSTM returns its output at every window, and their mean
        and max over windows go to the softmax; False (the source): only the output after
        the last window. With centred clips the last windows are mostly silence, and the
        final state alone learns less well on ~900 clips.

    >>> build_cnn_lstm((4, 128, 64, 1), 8).output_shape   # 4 windows of 1.28 s   # doctest: +SKIP
    (None, 8)
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, name="windows")
    encoder = build_window_encoder(input_shape[1:], filters=filters, pools=pools, dropout=dropout, flatten=flatten)
    x = layers.TimeDistributed(encoder, name="time_distributed_cnn")(inputs)  # (batch, n_windows, features)
    for i, units in enumerate(lstm_units):
        last = i == len(lstm_units) - 1
        x = layers.LSTM(units, return_sequences=pool_sequence or not last, name=f"lstm{i + 1}")(x)
    if pool_sequence:
        x = layers.Concatenate(name="window_pool")([layers.GlobalAveragePooling1D(name="window_mean")(x),
                                                    layers.GlobalMaxPooling1D(name="window_max")(x)])
    x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_cnn2d(input_shape=(351, 64, 1), n_classes: int = 8, *, filters: Sequence[int] = (16, 32, 64, 64),
                pools: Sequence = (2, 2, 2, 2), dropout: float = 0.2, head_dropout: float = 0.3,
                name: str = "cnn2d"):
    """A plain 2-D CNN on the whole log-mel ``(n_frames, n_mels, 1)``: the same blocks, then
    pooling over time only, and a softmax.

    The last feature maps ``(time, frequency, channels)`` are averaged and max-pooled
    over **time** (the clip's length and the position of the words do not matter) but
    not over frequency: where in the spectrum a pattern sits (a high or a low voice, a
    formant) carries emotion.

    >>> build_cnn2d((351, 64, 1), 8).output_shape                     # doctest: +SKIP
    (None, 8)
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, name="logmel")
    x = inputs
    for i, (f, p) in enumerate(zip(filters, pools)):
        x = local_feature_block(x, f, pool=p, dropout=dropout, name=f"lflb{i + 1}")
    _, t, fr, c = x.shape
    x = layers.Reshape((t, fr * c), name="time_major")(x)  # (batch, time, frequency x channels)
    x = layers.Concatenate(name="time_pool")([layers.GlobalAveragePooling1D(name="time_mean")(x),
                                              layers.GlobalMaxPooling1D(name="time_max")(x)])
    x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def add_channel(S) -> np.ndarray:
    """``(..., n_frames, n_mels)`` -> ``(..., n_frames, n_mels, 1)``: the input of :func:`build_cnn2d`."""
    return np.asarray(S)[..., None]


#: Default SpecAugment settings of :func:`make_estimator`: one mask of up to 0.15 s and one of up to
#: 6 mel bands. Stronger masks (2 x 0.2 s, 2 x 8 bands) with dropout after every block slowed
#: learning so much that fold 0 reached 37 % after 40 epochs (59 % without).
SPEC_AUGMENT = {"n_time_masks": 1, "max_time": 15, "n_freq_masks": 1, "max_freq": 6}


def make_estimator(kind: str = "cnn_lstm", *, filters: Sequence[int] = (16, 32, 64, 64),
                   pools: Sequence = (2, 2, 2, 2), dropout: float = 0.0, lstm_units: Sequence[int] = (64, 32),
                   head_dropout: float = 0.3, win: int = 128, hop: int = 64, spec_augment: dict | bool | None = True,
                   epochs: int = 50, batch_size: int = 32, learning_rate: float = 1e-3, patience: int = 10,
                   lr_patience: int = 4, class_weight: str | None = None, seed: int = 42, verbose: int = 0):
    """A :class:`~mmer_utils.training.KerasEstimator` that takes log-mel spectrograms ``(n, n_frames, n_mels)``.

    ``kind="cnn_lstm"``: the spectrogram is cut into windows of ``win`` frames every
    ``hop`` frames (``transform``) for :func:`build_cnn_lstm`; ``kind="cnn2d"``: the
    whole spectrogram goes to :func:`build_cnn2d`. ``spec_augment``: True (the
    :data:`SPEC_AUGMENT` masks), a dict of :func:`~mmer_utils.audio.augment.spec_augment`
    arguments, or None/False (off); applied to training batches only.

    Defaults measured on fold 0 (validation actors for early stopping, test actors
    scored once): the blocks' dropout is 0 (0.1 with SpecAugment under-fitted), the
    regularisation comes from the dropout before the softmax, SpecAugment and the
    waveform copies.

    >>> est = make_estimator("cnn2d", filters=(8, 16), pools=(2, 2), epochs=3)   # doctest: +SKIP
    >>> est.fit(X_train, y_train, validation_data=(X_val, y_val))              # doctest: +SKIP
    """
    from functools import partial

    from ..training import KerasEstimator
    from .augment import spec_augment as _spec_augment
    from .spectrogram import rolling_windows

    common = dict(filters=tuple(filters), pools=tuple(pools), dropout=dropout, head_dropout=head_dropout)
    if kind == "cnn_lstm":
        build = partial(build_cnn_lstm, lstm_units=tuple(lstm_units), **common)
        transform = partial(rolling_windows, win=win, hop=hop)
    elif kind == "cnn2d":
        build = partial(build_cnn2d, **common)
        transform = add_channel
    else:
        raise ValueError(f"kind must be 'cnn_lstm' or 'cnn2d', got {kind!r}")
    if spec_augment is True:
        spec_augment = SPEC_AUGMENT
    augment = partial(_spec_augment, **spec_augment) if spec_augment else None
    return KerasEstimator(build, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                          patience=patience, lr_patience=lr_patience, class_weight=class_weight,
                          augment=augment, transform=transform, seed=seed, verbose=verbose)


# --------------------------------------------------------------------------- protocol

#: The fold results of a deep model: :class:`mmer_utils.evaluation.FoldResults` (its
#: ``proba`` and ``histories`` are filled). The old name, kept for code that imports it.
DeepFoldResults = FoldResults


def _fresh(make_estimator):
    from sklearn.base import clone

    if hasattr(make_estimator, "fit") and not isinstance(make_estimator, type):
        return clone(make_estimator)
    return make_estimator()  # a class or a factory function


def _proba_in_order(est, X, labels) -> np.ndarray:
    p = est.predict_proba(X)
    out = np.zeros((len(X), len(labels)), dtype=np.float32)
    for j, c in enumerate(est.classes_.tolist()):
        out[:, list(labels).index(c)] = p[:, j]
    return out


def _fit_predict(make_estimator, X, y, train, val, test, extra_train, labels, checkpoint_dir=None):
    """Train one fresh model on rows ``train`` (plus their augmented copies), validated on ``val``;
    return it, its probabilities on rows ``test`` and its fitting seconds."""
    est = _fresh(make_estimator)
    if checkpoint_dir is not None and "checkpoint_dir" in est.get_params():
        est.set_params(checkpoint_dir=str(checkpoint_dir))
    X_tr = np.concatenate([X[train]] + [Xa[train] for Xa in extra_train])
    y_tr = np.concatenate([y[train]] * (1 + len(extra_train)))
    validation = (X[val], y[val]) if val is not None and len(val) else None
    start = time.perf_counter()
    est.fit(X_tr, y_tr, validation_data=validation)
    seconds = time.perf_counter() - start
    return est, _proba_in_order(est, X[test], labels), seconds


def _savable(y) -> np.ndarray:
    """Labels as a NumPy string array (object arrays cannot be read back without pickle)."""
    y = np.asarray(y)
    return y.astype(str) if y.dtype.kind == "O" else y


def _stem(fold) -> str:
    """File stem of a fold: ``fold0`` ... ``fold5``, or ``random`` for the random split."""
    return str(fold) if isinstance(fold, str) else f"fold{fold}"


def _load_fold(cache_dir: Path | None, fold: Fold) -> dict | None:
    """A finished fold's output read back from ``cache_dir`` (``<stem>.npz`` + ``.json``), or None."""
    if cache_dir is None:
        return None
    npz, js = cache_dir / f"{_stem(fold.fold)}.npz", cache_dir / f"{_stem(fold.fold)}.json"
    if not (npz.is_file() and js.is_file()):
        return None
    with np.load(npz, allow_pickle=False) as data:
        proba, index = data["proba"], data["index"]
    if not np.array_equal(index, fold.test):
        raise ValueError(f"{npz} was made with other folds; delete it")
    info = json.loads(js.read_text())
    return {"proba": proba, "row": info["row"], "histories": info["histories"]}


def _save_fold(cache_dir: Path | None, fold: Fold, y, out: dict) -> None:
    if cache_dir is None:
        return
    from ..atomic import atomic_save_npz, atomic_write_json

    stem = _stem(fold.fold)
    atomic_save_npz(cache_dir / f"{stem}.npz", index=np.asarray(fold.test), y_true=_savable(y[fold.test]),
                    proba=out["proba"])
    # written last: marks the fold done
    atomic_write_json(cache_dir / f"{stem}.json", {"row": out["row"], "histories": out["histories"]}, default=str)


def _save_weights(est, path: Path) -> dict:
    """Keep a trained estimator's weights and its classes; not the optimizer's state (Keras'
    ``save_weights`` keeps it too: three times the size), as a plain ``.npz`` of arrays."""
    from ..atomic import atomic_save_npz
    from ..datasets.download import sha256sum

    arrays = {f"w{i:03d}": w for i, w in enumerate(est.model_.get_weights())}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_npz(path, **arrays)
    return {"file": path.name, "sha256": sha256sum(path), "classes": [str(c) for c in est.classes_.tolist()]}


def _fold_from_weights(model_dir: Path | None, fold: Fold, make_estimator, X, groups, labels) -> dict | None:
    """A finished fold's output rebuilt from its saved weights (``<stem>.json`` and its
    ``.weights.npz``), or None when the fold is not finished."""
    from ..datasets.download import sha256sum
    from ..errors import ChecksumError

    if model_dir is None:
        return None
    js = model_dir / f"{_stem(fold.fold)}.json"
    if not js.is_file():
        return None
    info = json.loads(js.read_text())
    test = np.asarray(fold.test)
    proba = np.zeros((len(test), len(labels)), dtype=np.float32)
    for g in np.unique(groups[test]):
        saved = info["weights"][str(g)]
        path = model_dir / saved["file"]
        if not path.is_file() or sha256sum(path) != saved["sha256"]:
            raise ChecksumError(f"{path} is missing or does not match its SHA-256 in {js.name}: "
                                f"delete {js.name} to train fold {fold.fold} again")
        est = _fresh(make_estimator)
        est.classes_ = np.asarray(saved["classes"], dtype=object)
        in_g = groups[test] == g
        X_test = X[test[in_g]]
        X_test = est.transform_inputs(X_test) if hasattr(est, "transform_inputs") else X_test
        est.model_ = est.build_fn(tuple(X_test.shape[1:]), len(est.classes_))
        with np.load(path, allow_pickle=False) as saved_weights:
            est.model_.set_weights([saved_weights[k] for k in sorted(saved_weights.files)])
        est.transform = None  # X_test is transformed already
        proba[in_g] = _proba_in_order(est, X_test, labels)
    return {"proba": proba, "row": info["row"], "histories": info["histories"]}


def fold_ensemble(model_dir, make_estimator, input_shape, *, n_folds: int = 6):
    """One network that averages the probabilities of a finished run's fold models: a cross-validation
    ensemble, ready to ``predict_proba`` and to ``save`` as one ``.keras`` file.

    Each fold model of :func:`train_eval_actor_folds` trained on 16 actors and stopped on 4 others,
    so together the six have heard all 24 actors; averaging them is the course's way to use every
    actor without a seventh, unvalidated training (no epoch count is chosen on test actors). Its honest
    score is the members' cross-validated one: every actor is a training actor of five members.

    Parameters
    ----------
    model_dir : Path
        The run's folder under ``models/checkpoints/audio_deep/`` (``fold<k>.json`` + weights).
    make_estimator : KerasEstimator
        The run's estimator (:func:`make_estimator`): its network builder and ``transform``.
    input_shape : tuple
        One example's network input, e.g. ``(351, 64, 1)`` for :func:`build_cnn2d`.

    Returns
    -------
    KerasEstimator with ``model_`` (inputs -> the members' mean) and ``classes_``.

    >>> est = fold_ensemble(folder, make_estimator("cnn2d"), (351, 64, 1))   # doctest: +SKIP
    >>> est.model_.output_shape                                               # doctest: +SKIP
    (None, 8)
    """
    import keras
    from keras import layers

    from ..datasets.download import sha256sum
    from ..errors import ChecksumError, DataNotFoundError

    model_dir = Path(model_dir)
    members, classes = [], None
    for k in range(n_folds):
        js = model_dir / f"{_stem(k)}.json"
        if not js.is_file():
            raise DataNotFoundError(f"fold {k} of {model_dir} is not finished ({js.name} missing): "
                                    "run python -m mmer_utils.bench audio-deep --full first")
        saved = json.loads(js.read_text())["weights"]
        if len(saved) != 1:
            raise ValueError(f"{js.name} holds one model per group ({sorted(saved)}): only one model per fold "
                             "can be averaged")
        saved = next(iter(saved.values()))
        path = model_dir / saved["file"]
        if not path.is_file() or sha256sum(path) != saved["sha256"]:
            raise ChecksumError(f"{path} is missing or does not match its SHA-256 in {js.name}")
        if classes is not None and saved["classes"] != classes:
            raise ValueError(f"fold {k} orders its classes {saved['classes']}, fold 0 {classes}")
        classes = saved["classes"]
        net = _fresh(make_estimator).build_fn(tuple(input_shape), len(classes), name=f"fold{k}")
        with np.load(path, allow_pickle=False) as w:
            net.set_weights([w[key] for key in sorted(w.files)])
        members.append(net)
    inputs = keras.Input(tuple(input_shape), name="logmel")
    outputs = layers.Average(name="mean_of_folds")([net(inputs) for net in members])
    est = _fresh(make_estimator)
    est.model_ = keras.Model(inputs, outputs, name=f"{n_folds}_fold_ensemble")
    est.classes_ = np.asarray(classes, dtype=object)
    return est


def results_cache(name: str, **settings) -> Path:
    """A folder for the resumable fold results of one configuration: ``cache_dir("audio_deep", name, <hash>)``.

    ``settings`` must hold everything that changes the results (model, spectrogram,
    augmentation, epochs, ...): the same settings give the same folder, so a
    notebook in full mode reuses the folds the benchmark already trained, and the
    reverse.

    Parameters
    ----------
    name : str
        The configuration's folder name (e.g. ``"cnn-lstm_log-mel_windows"``).
    **settings
        Every setting that changes the results; their hash names the sub-folder.

    Returns
    -------
    Path
    """
    from .. import config
    from ..cache import settings_key

    return config.cache_dir("audio_deep", name, settings_key(settings))


def _run(protocol: str, folds: list[Fold], make_estimator, X, y, *, groups, by, extra_train, labels,
         cache_dir, model_dir, save_models, progress) -> FoldResults:
    """Train (or read back) every fold through :func:`mmer_utils.evaluation.run_folds` and pool them.

    A finished fold is read from ``cache_dir`` (per-clip predictions), else rebuilt from
    its weights in ``model_dir``; otherwise one model per group is trained, with its epoch
    checkpoint in ``model_dir`` (or ``cache_dir``), and the fold is saved to both.
    """
    checkpoints = model_dir if model_dir is not None else cache_dir

    def fit_predict(f: Fold) -> dict:
        done = _load_fold(cache_dir, f)
        if done is None:
            done = _fold_from_weights(model_dir, f, make_estimator, X, groups, labels)
            if done is not None:
                _save_fold(cache_dir, f, y, done)
        if done is not None:  # the original training time, not that of reading it back
            return {**done, "fit_seconds": float(done["row"]["fit_seconds"]), "cached": True}
        test = np.asarray(f.test)
        proba = np.zeros((len(test), len(labels)), dtype=np.float32)
        seconds, histories, best_epochs, weights = 0.0, [], [], {}
        for g in np.unique(groups[test]):
            suffix = "" if by is None else f"_{g}"
            stem = _stem(f.fold) + suffix
            # one folder per model: training resumes from its last epoch after an interruption
            ckpt = checkpoints / f"{stem}_ckpt" if checkpoints is not None else None
            rows = [np.asarray(r)[groups[r] == g] for r in (f.train, f.val if f.val is not None else [], test)]
            est, p, secs = _fit_predict(make_estimator, X, y, *rows, extra_train, labels, checkpoint_dir=ckpt)
            proba[groups[test] == g] = p
            seconds += secs
            histories.append(getattr(est, "history_", {}))
            best_epochs.append(getattr(est, "best_epoch_", None))
            if save_models and cache_dir is not None and hasattr(est, "save"):
                est.save(cache_dir / f"{stem}.keras")
            if model_dir is not None:
                weights[str(g)] = _save_weights(est, model_dir / f"{stem}.weights.npz")
        y_pred = np.asarray(labels, dtype=object)[proba.argmax(axis=1)]
        row = {"fold": f.fold, **f.info, "n_train": len(f.train) * (1 + len(extra_train)),
               "n_val": 0 if f.val is None else len(f.val), "n_test": len(test),
               **evaluation.headline_scores(y[test].astype(object), y_pred, labels=labels),
               "best_epoch": best_epochs if by is not None else best_epochs[0], "fit_seconds": seconds}
        out = {"proba": proba, "row": row, "histories": histories, "fit_seconds": seconds}
        _save_fold(cache_dir, f, y, out)
        if model_dir is not None:  # the fold is done: its weights and scores replace the epoch checkpoints
            from ..atomic import atomic_write_json

            atomic_write_json(model_dir / f"{_stem(f.fold)}.json", {"row": row, "histories": histories,
                                                                    "weights": weights}, default=str)
            for g in weights:
                shutil.rmtree(model_dir / f"{_stem(f.fold)}{'' if by is None else f'_{g}'}_ckpt",
                              ignore_errors=True)
        return out

    outputs = evaluation.run_folds(fit_predict, folds, desc=protocol, progress=progress)
    res = evaluation.pooled_results(protocol, outputs, y, labels=labels)
    res.histories = [h for out in outputs for h in out["histories"]]  # one per model (two per fold with `by`)
    return res


def train_eval_actor_folds(make_estimator, X, y, actors, *, folds: Sequence[int] | None = None,
                           by=None, extra_train: Sequence[np.ndarray] = (), labels: Sequence = RAVDESS,
                           train_actors: Sequence[int] | None = None, cache_dir=None, save_models: bool = False,
                           model_dir=None, progress: bool = True) -> FoldResults:
    """Train and test a deep model on the speaker-independent actor folds.

    For each fold of :func:`mmer_utils.evaluation.actor_fold_splits`: fit on the training
    actors, with the validation actors (the next fold) as ``validation_data`` for early
    stopping, learning-rate reduction and the best-epoch checkpoint; predict the test
    actors. Scores per fold and pooled over every test prediction. The folds run through
    :func:`mmer_utils.evaluation.run_folds`, the course's one cross-validation loop.

    Parameters
    ----------
    make_estimator : estimator or callable
        Cloned for every model, or a callable returning a fresh one (e.g. a
        :class:`~mmer_utils.training.KerasEstimator`).
    X : array (n, ...)
        Inputs (e.g. log-mel spectrograms).
    y : array (n,)
        Labels.
    actors : array (n,)
        Actor id of each row.
    folds : list of int or None
        The folds to run (default: all six).
    by : array (n,) or None
        One model per value (e.g. ``df.sex``): each trained, validated and tested on
        its own group only; the predictions are pooled.
    extra_train : list of arrays
        Augmented copies of ``X`` (each ``(n, ...)``, row i an augmented version of row
        i); their rows of training actors are added to the training set, never those of
        validation or test actors.
    labels : sequence
        Class order of ``proba`` and of the scores.
    train_actors : list of int or None
        Keep only these actors for training (quick mode); validation and test actors are
        unchanged.
    cache_dir : folder or None
        Resumable runs: each finished fold's predictions are kept there
        (``fold<k>.npz`` + ``.json``) and skipped on a rerun. Use one folder per
        configuration (:func:`results_cache`): the content is not checked against the
        arguments.
    save_models : bool
        Also keep each fold's model as ``fold<k>[_<group>].keras`` in ``cache_dir``.
    model_dir : folder or None
        Resumable runs that survive a fresh machine (e.g. ``models/checkpoints/...``, which is
        committed): each model trains with its epoch checkpoint there, and a finished fold
        keeps only its weights (``fold<k>[_<group>].weights.npz``) and its scores and curves
        (``fold<k>.json``), no per-clip output. A rerun rebuilds the fold's test predictions
        from those weights instead of training again.
    progress : bool
        Show a progress bar over the folds.

    Returns
    -------
    FoldResults
        :class:`mmer_utils.evaluation.FoldResults` with ``per_fold`` (fold, test actors,
        sizes, accuracy, macro F1, UAR, best epoch, fit seconds), ``pooled``,
        ``y_true`` / ``y_pred`` / ``proba`` / ``index`` and ``histories``.
    """
    X, y, extra_train, groups = _inputs(X, y, extra_train, by)
    actors = np.asarray(actors)
    wanted = list(range(len(actor_folds()))) if folds is None else list(folds)
    splits = evaluation.actor_fold_splits(actors, folds=wanted)
    missing = sorted(set(wanted) - {f.fold for f in splits})
    if missing:
        raise ValueError(f"fold {missing[0]}: no training or no test actor in `actors`")
    if train_actors is not None:
        for f in splits:
            f.train = f.train[np.isin(actors[f.train], list(train_actors))]
            if not len(f.train):
                raise ValueError(f"fold {f.fold}: none of train_actors {sorted(train_actors)} is a training actor")
    protocol = "speaker-independent actor folds" + (" (one model per group)" if by is not None else "")
    return _run(protocol, splits, make_estimator, X, y, groups=groups, by=by, extra_train=extra_train,
                labels=labels, cache_dir=_folder(cache_dir), model_dir=_folder(model_dir),
                save_models=save_models, progress=progress)


def train_eval_random_split(make_estimator, X, y, *, test_size: float = 0.2, val_size: float = 0.1,
                            seed: int = 42, extra_train: Sequence[np.ndarray] = (), labels: Sequence = RAVDESS,
                            cache_dir=None, model_dir=None, progress: bool = True) -> FoldResults:
    """The same model on a random split of the clips: LEAKY for RAVDESS (every actor in
    train, validation and test), shown only beside :func:`train_eval_actor_folds`.

    Parameters
    ----------
    make_estimator, X, y, extra_train, labels, cache_dir, model_dir, progress
        As in :func:`train_eval_actor_folds` (the files are named ``random.*``).
    test_size : float
        Fraction of the clips held out for test (:func:`mmer_utils.splits.random_split`).
    val_size : float
        Fraction of the rest kept for validation.
    seed : int
        Seed of both draws.

    Returns
    -------
    FoldResults
        One "fold" named ``random``.
    """
    X, y, extra_train, groups = _inputs(X, y, extra_train, None)
    split = random_split(len(X), test_size=test_size, seed=seed)
    rest = np.flatnonzero(split["train"])
    rng = np.random.default_rng(seed + 1)
    val = np.zeros(len(X), bool)
    val[rng.choice(rest, int(round(len(rest) * val_size)), replace=False)] = True
    fold = Fold("random", np.flatnonzero(split["train"] & ~val), np.flatnonzero(split["test"]), np.flatnonzero(val),
                {"test_actors": "all (random clips)"})
    return _run("random split (leaky)", [fold], make_estimator, X, y, groups=groups, by=None,
                extra_train=extra_train, labels=labels, cache_dir=_folder(cache_dir), model_dir=_folder(model_dir),
                save_models=False, progress=progress)


def _inputs(X, y, extra_train, by):
    """The arrays of the protocols, checked; ``groups``: ``by``, or one group."""
    X, y = np.asarray(X), np.asarray(y)
    extra_train = [np.asarray(a) for a in extra_train]
    if any(a.shape != X.shape for a in extra_train):
        raise ValueError("every array of extra_train must have the shape of X")
    groups = np.asarray(by) if by is not None else np.zeros(len(X), dtype=int)
    return X, y, extra_train, groups


def _folder(path) -> Path | None:
    return Path(path) if path is not None else None
