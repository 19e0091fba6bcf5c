"""The voice chapter's deep-model experiments on RAVDESS: settings, resumable fold runs, ensembles.

What ``python -m mmer_utils.bench audio-deep`` runs and records, and what the notebook
``02_audio/03_deep_models`` calls (``bench/`` only runs and records):

* :data:`MODELS` (the time-distributed CNN-LSTM and the 2-D CNN on log-mel
  spectrograms) and :data:`ABLATIONS` (the source's: content above 4 kHz dropped, one
  model per sex, no augmentation), as settings of :func:`evaluate`;
* :func:`evaluate` on the six speaker-independent actor folds and
  :func:`evaluate_random` on a random split of the clips (leaky, for comparison);
* :func:`restrict` (the scores on some folds) and :func:`average` (soft voting of runs
  on the same folds).

Training is long on a CPU (minutes per fold), so the runs are resumable across machines:
each model trains with an epoch checkpoint in ``models/checkpoints/audio_deep/<setting>/<hash
of the settings>/`` (committed between working sessions), and a finished fold keeps there only
its weights, scores and curves; its per-clip predictions are cached in ``build/cache`` (never
committed) and rebuilt from the weights on a fresh machine. A rerun skips finished folds and
continues an interrupted one from its last epoch.
"""

from __future__ import annotations

import numpy as np

PROTOCOL = "speaker-independent, 6 actor folds"
RANDOM_PROTOCOL = "random 80/20 split of clips (leaky)"

#: Spectrogram settings (overrides of :data:`mmer_utils.audio.spectrogram.DEFAULT_PARAMS`).
LOGMEL: dict = {}
#: Waveform augmentation of the extra training copies (:func:`mmer_utils.audio.augment.augment_waveform`).
WAVE_AUGMENT: dict = {"noise_snr": [15.0, 35.0], "shift": 0.25, "pitch": 2.0, "stretch": [0.85, 1.15], "p": 0.5}

#: name -> settings of :func:`evaluate` for the headline models (arguments of
#: :func:`mmer_utils.audio.models.make_estimator` under "estimator"; its defaults otherwise).
MODELS: dict[str, dict] = {
    "CNN-LSTM (log-mel windows)": {"estimator": {"kind": "cnn_lstm"}, "wave_copies": 1},
    "2-D CNN (whole log-mel)": {"estimator": {"kind": "cnn2d"}, "wave_copies": 1},
}
#: The source's ablations, each a change to the best headline model.
ABLATIONS: dict[str, dict] = {
    "0-4 kHz only": {"logmel": {"fmax": 4000}},
    "one model per sex": {"by_sex": True},
    "no augmentation": {"estimator": {"spec_augment": None}, "wave_copies": 0},
}
#: Folds of the ablations (each costs a full training per fold): ``MMER_AUDIO_DEEP_ABLATION_FOLDS=0,1,2,3,4,5``
#: runs all six.
ABLATION_FOLDS = (0, 1, 2)
#: Quick smoke run: one fold, four training actors, a tiny model, two epochs (nothing cached or saved).
QUICK = {"folds": [0], "train_actors": [5, 6, 17, 18],
         "estimator": {"epochs": 2, "filters": (8, 8, 16, 16), "lstm_units": (16,)}}
#: Bump when a change of the code changes the results: cached folds are then retrained.
VERSION = 1


def merge(base: dict, change: dict) -> dict:
    """Settings ``base`` with ``change`` applied (the "estimator" and "logmel" dicts are merged)."""
    out = {**base, **change}
    for key in ("estimator", "logmel"):
        out[key] = {**base.get(key, {}), **change.get(key, {})}
    return out


def _resolved(estimator: dict, logmel: dict) -> dict:
    """Every setting that changes the results, defaults included (the cache key)."""
    import inspect

    from . import models, spectrogram

    defaults = {k: p.default for k, p in inspect.signature(models.make_estimator).parameters.items()
                if p.default is not inspect.Parameter.empty and k != "verbose"}
    return {"estimator": {**defaults, **estimator}, "logmel": {**spectrogram.DEFAULT_PARAMS, **logmel},
            "spec_augment_default": models.SPEC_AUGMENT, "version": VERSION}


def _features(df, logmel: dict, wave_copies: int, progress: bool):
    from . import spectrogram

    X = spectrogram.logmel_batch(df.path, progress=progress, **logmel)
    extra = [spectrogram.logmel_batch(df.path, progress=progress, augment=WAVE_AUGMENT, copy=c + 1, **logmel)
             for c in range(wave_copies)]
    return X, extra


def _slug(name: str) -> str:
    """'CNN-LSTM, 0-4 kHz only' -> 'cnn-lstm_0-4_khz_only' (a readable cache folder name)."""
    return "".join(c if c.isalnum() or c == "-" else "_" for c in name.lower()).strip("_").replace("__", "_")


def _model_dir(cache_dir):
    """Where the folds' epoch checkpoints and finished weights live: in a clone,
    ``models/checkpoints/audio_deep/<setting>/<hash>/`` (committed, so a fresh machine resumes
    the run), mirroring the cache folder; None when nothing is cached."""
    if cache_dir is None:
        return None
    from ..models import checkpoints_dir

    return checkpoints_dir("audio_deep") / cache_dir.parent.name / cache_dir.name


def evaluate(name: str, *, estimator: dict | None = None, logmel: dict | None = None, wave_copies: int = 0,
             by_sex: bool = False, folds=None, train_actors=None, df=None, cache: bool = True,
             progress: bool = True):
    """Train and test one setting on the actor folds; return its :class:`~mmer_utils.audio.models.DeepFoldResults`.

    ``estimator``: arguments of :func:`mmer_utils.audio.models.make_estimator`;
    ``logmel``: of :func:`mmer_utils.audio.spectrogram.logmel`; ``wave_copies``:
    augmented waveform copies added to the training actors; ``by_sex``: one model per sex.
    With ``cache=True`` finished folds are kept and reused (see the module docstring).
    """
    from . import models
    from ..datasets import load_ravdess

    estimator, logmel = dict(estimator or {}), dict(logmel or {})
    df = load_ravdess() if df is None else df
    X, extra = _features(df, logmel, wave_copies, progress)
    settings = {**_resolved(estimator, logmel), "wave_copies": wave_copies,
                "wave_augment": WAVE_AUGMENT if wave_copies else None, "by_sex": by_sex,
                "train_actors": train_actors, "n_clips": len(df)}
    cache_dir = models.results_cache(_slug(name), **settings) if cache else None
    return models.train_eval_actor_folds(
        models.make_estimator(**estimator), X, df.emotion.to_numpy(), df.actor.to_numpy(), folds=folds,
        by=df.sex.to_numpy() if by_sex else None, extra_train=extra, train_actors=train_actors,
        cache_dir=cache_dir, model_dir=_model_dir(cache_dir), progress=progress)


def evaluate_random(name: str, *, estimator: dict | None = None, logmel: dict | None = None, wave_copies: int = 0,
                    df=None, cache: bool = True, progress: bool = True):
    """The same setting on a random 80/20 split of the clips (10 % of the rest for validation): leaky."""
    from . import models
    from ..datasets import load_ravdess

    estimator, logmel = dict(estimator or {}), dict(logmel or {})
    df = load_ravdess() if df is None else df
    X, extra = _features(df, logmel, wave_copies, progress)
    settings = {**_resolved(estimator, logmel), "wave_copies": wave_copies,
                "wave_augment": WAVE_AUGMENT if wave_copies else None, "protocol": "random", "n_clips": len(df)}
    cache_dir = models.results_cache(_slug(name) + "_random", **settings) if cache else None
    return models.train_eval_random_split(models.make_estimator(**estimator), X, df.emotion.to_numpy(),
                                          extra_train=extra, cache_dir=cache_dir, model_dir=_model_dir(cache_dir),
                                          progress=progress)


def restrict(res, folds):
    """The scores of ``res`` (a :class:`~mmer_utils.audio.models.DeepFoldResults`) on ``folds`` only."""
    from ..evaluation import headline_scores
    from .models import DeepFoldResults

    keep = res.per_fold["fold"].isin(list(folds)).to_numpy()
    sizes = res.per_fold["n_test"].to_numpy()
    rows = np.repeat(keep, sizes)  # the predictions are stored fold after fold
    per_fold = res.per_fold[keep].reset_index(drop=True)
    return DeepFoldResults(protocol=res.protocol, per_fold=per_fold,
                           pooled=headline_scores(res.y_true[rows].astype(object), res.y_pred[rows], labels=res.labels),
                           y_true=res.y_true[rows], y_pred=res.y_pred[rows], index=res.index[rows],
                           fit_seconds=float(per_fold["fit_seconds"].sum()), labels=res.labels,
                           proba=None if res.proba is None else res.proba[rows], histories=[])


def average(runs):
    """Average the class probabilities of several runs on the same folds: a soft-voting ensemble."""
    from ..evaluation import headline_scores
    from .models import DeepFoldResults

    first = runs[0]
    if any(not np.array_equal(r.index, first.index) for r in runs):
        raise ValueError("runs to average must cover the same test clips in the same order")
    proba = np.mean([r.proba for r in runs], axis=0)
    y_pred = np.asarray(first.labels, dtype=object)[proba.argmax(axis=1)]
    per_fold = first.per_fold[["fold", "test_actors", "n_test"]].copy()
    per_fold["fit_seconds"] = sum(r.per_fold["fit_seconds"].to_numpy() for r in runs)
    per_fold["best_epoch"] = None
    bounds = np.cumsum([0] + per_fold["n_test"].tolist())
    per_fold["accuracy"] = [float(np.mean(first.y_true[a:b].astype(object) == y_pred[a:b]))
                            for a, b in zip(bounds[:-1], bounds[1:])]
    return DeepFoldResults(protocol=first.protocol, per_fold=per_fold,
                           pooled=headline_scores(first.y_true.astype(object), y_pred, labels=first.labels),
                           y_true=first.y_true, y_pred=y_pred, index=first.index,
                           fit_seconds=float(per_fold["fit_seconds"].sum()), labels=first.labels, proba=proba)
