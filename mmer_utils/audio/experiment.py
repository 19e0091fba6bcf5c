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
#: The notebook's quick run (``02_audio/03`` with ``QUICK=True``; the benchmark's smoke run is :data:`QUICK`):
#: fold 0's actors, four emotions two by two apart in arousal (32 clips per actor: both sentences,
#: intensities and takes), 32 mel bands, a narrow model for up to 20 epochs. Eight emotions on four training
#: actors for two epochs predicted one class for nearly every clip; this subset learns in a few CPU minutes.
NOTEBOOK_QUICK = {"emotions": ("angry", "calm", "happy", "sad"), "repetitions": (1, 2), "folds": [0],
                  "logmel": {"n_mels": 32},
                  "estimator": {"filters": (8, 8, 16, 16), "lstm_units": (16,), "epochs": 20,
                                "learning_rate": 3e-3, "patience": 8, "lr_patience": 3}}


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
             progress: bool = True, labels=None):
    """Train and test one setting on the actor folds; return its :class:`~mmer_utils.audio.models.DeepFoldResults`.

    ``estimator``: arguments of :func:`mmer_utils.audio.models.make_estimator`;
    ``logmel``: of :func:`mmer_utils.audio.spectrogram.logmel`; ``wave_copies``:
    augmented waveform copies added to the training actors; ``by_sex``: one model per sex.
    With ``cache=True`` finished folds are kept and reused (see the module docstring).
    ``labels``: the classes, in the order of the probability columns (default: the 8 RAVDESS
    emotions; a subset when ``df`` holds only some emotions).
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
        cache_dir=cache_dir, model_dir=_model_dir(cache_dir), progress=progress,
        **({} if labels is None else {"labels": list(labels)}))


def evaluate_random(name: str, *, estimator: dict | None = None, logmel: dict | None = None, wave_copies: int = 0,
                    df=None, cache: bool = True, progress: bool = True, labels=None):
    """The same setting on a random 80/20 split of the clips (10 % of the rest for validation): leaky.
    ``labels`` as in :func:`evaluate`."""
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
                                          progress=progress, **({} if labels is None else {"labels": list(labels)}))


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
    from ..evaluation import rescored

    first = runs[0]
    if any(not np.array_equal(r.index, first.index) for r in runs):
        raise ValueError("runs to average must cover the same test clips in the same order")
    out = rescored(first, np.mean([r.proba for r in runs], axis=0))
    # the ensemble costs the training of every member
    out.per_fold["fit_seconds"] = sum(r.per_fold["fit_seconds"].to_numpy() for r in runs)
    out.per_fold["best_epoch"] = None
    out.fit_seconds = float(out.per_fold["fit_seconds"].sum())
    return out


def quick_subset(df, settings: dict | None = None):
    """The clips of the notebook's quick run (:data:`NOTEBOOK_QUICK`): its emotions and takes, every actor.

    >>> from mmer_utils.datasets import load_ravdess                       # doctest: +SKIP
    >>> quick_subset(load_ravdess()).groupby("emotion").size().tolist()   # doctest: +SKIP
    [192, 192, 192, 192]
    """
    settings = NOTEBOOK_QUICK if settings is None else settings
    keep = df.emotion.isin(settings["emotions"]) & df.repetition.isin(settings["repetitions"])
    return df[keep].reset_index(drop=True)


def resolved_estimator(estimator: dict | None = None) -> dict:
    """The arguments of :func:`mmer_utils.audio.models.make_estimator` with its defaults filled in: what a
    setting's ``"estimator"`` dict trains with (``win``, ``hop``, ``batch_size``, ``learning_rate``, ...).

    >>> resolved_estimator({"epochs": 5})["epochs"], resolved_estimator()["batch_size"]
    (5, 32)
    """
    import inspect

    from . import models

    defaults = {k: p.default for k, p in inspect.signature(models.make_estimator).parameters.items()
                if p.default is not inspect.Parameter.empty and k != "verbose"}
    return {**defaults, **(estimator or {})}


def fold_result(y_true, proba, labels, *, fold: int, test_actors, index=None, history: dict | None = None,
                n_train: int = 0, n_val: int = 0, fit_seconds: float = 0.0, best_epoch: int | None = None):
    """One fold trained outside :func:`evaluate` (e.g. in a notebook cell) as a
    :class:`~mmer_utils.audio.models.DeepFoldResults`, so it goes in the same tables and plots.

    ``proba``: class probabilities, columns in ``labels`` order; ``index``: the test clips' rows in the
    data frame (as :func:`evaluate` stores them, so :func:`average` can combine the two).
    """
    from ..evaluation import headline_scores
    from .models import DeepFoldResults

    y_true = np.asarray(y_true, dtype=object)
    proba = np.asarray(proba, dtype=np.float32)
    if proba.shape != (len(y_true), len(labels)):
        raise ValueError(f"proba has shape {proba.shape}, expected ({len(y_true)}, {len(labels)})")
    y_pred = np.asarray(labels, dtype=object)[proba.argmax(axis=1)]
    pooled = headline_scores(y_true, y_pred, labels=list(labels))
    import pandas as pd

    per_fold = pd.DataFrame([{"fold": fold, "test_actors": ", ".join(str(a) for a in test_actors),
                              "n_train": n_train, "n_val": n_val, "n_test": len(y_true), **pooled,
                              "best_epoch": best_epoch, "fit_seconds": fit_seconds}])
    return DeepFoldResults(protocol="speaker-independent actor folds",  # as models.train_eval_actor_folds names it
                           per_fold=per_fold, pooled=pooled, y_true=y_true, y_pred=y_pred,
                           index=np.arange(len(y_true)) if index is None else np.asarray(index),
                           fit_seconds=fit_seconds, labels=list(labels),
                           proba=proba, histories=[history or {}])


def published_dir(name: str, *, n_clips: int = 1440):
    """The committed folder of the full run of ``MODELS[name]`` (all ``n_clips`` RAVDESS speech clips):
    ``models/checkpoints/audio_deep/<setting>/<hash of its settings>/``, as :func:`evaluate` names it."""
    from . import models

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODELS)}")
    s = MODELS[name]
    estimator, logmel, copies = dict(s.get("estimator", {})), dict(s.get("logmel", {})), s.get("wave_copies", 0)
    settings = {**_resolved(estimator, {**LOGMEL, **logmel}), "wave_copies": copies,
                "wave_augment": WAVE_AUGMENT if copies else None, "by_sex": s.get("by_sex", False),
                "train_actors": None, "n_clips": n_clips}
    return _model_dir(models.results_cache(_slug(name), **settings))


def published_fold_runs(name: str, *, n_clips: int = 1440) -> list[dict]:
    """The finished folds of the full run of ``MODELS[name]`` (``python -m mmer_utils.bench audio-deep --full``),
    read from their committed records: one dict per fold with ``fold``, ``row`` (test actors, sizes, accuracy,
    macro F1, UAR, best epoch, training seconds), ``histories`` (the training curves: a list of dicts of
    per-epoch lists, one per model trained) and ``weights``. An empty list when no fold has finished yet.

    >>> runs = published_fold_runs("CNN-LSTM (log-mel windows)")        # doctest: +SKIP
    >>> [round(r["row"]["accuracy"], 3) for r in runs]                  # doctest: +SKIP
    """
    import json

    folder = published_dir(name, n_clips=n_clips)
    if folder is None or not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("fold*.json"), key=lambda p: int(p.stem[4:]) if p.stem[4:].isdigit() else -1):
        if not path.stem[4:].isdigit():
            continue
        info = json.loads(path.read_text())
        out.append({"fold": int(path.stem[4:]), "folder": folder, **info})
    return out


def published_predictions(name: str, df, *, folds=None, n_clips: int = 1440, progress: bool = False):
    """Test predictions of the published full run of ``MODELS[name]`` on its finished ``folds`` (default: all),
    rebuilt from the committed weights (SHA-256 checked) on the test actors' clips of ``df`` (all RAVDESS
    speech clips). Returns a DataFrame with ``fold``, ``actor``, ``y_true`` and ``y_pred``, in ``df``'s order
    within each fold; empty when none of those folds has finished.
    """
    import pandas as pd

    from . import models, spectrogram
    from ..datasets.download import sha256sum
    from ..errors import ChecksumError
    from ..training import QuietRetracing

    s = MODELS[name]
    rows = []
    for run in published_fold_runs(name, n_clips=n_clips):
        if folds is not None and run["fold"] not in list(folds):
            continue
        test_actors = [int(a) for a in str(run["row"]["test_actors"]).split(",")]
        test = df[df.actor.isin(test_actors)]
        X = spectrogram.logmel_batch(test.path, progress=progress, **{**LOGMEL, **s.get("logmel", {})})
        if len(run["weights"]) != 1:  # MODELS train one network per fold (no by_sex)
            raise ValueError(f"fold {run['fold']} of {name!r} has {len(run['weights'])} networks, expected one")
        for saved in run["weights"].values():
            path = run["folder"] / saved["file"]
            if not path.is_file() or sha256sum(path) != saved["sha256"]:
                raise ChecksumError(f"{path} is missing or does not match its SHA-256 in fold{run['fold']}.json")
            est = models.make_estimator(**s.get("estimator", {}))
            Xt = est.transform_inputs(X)
            model = est.build_fn(tuple(Xt.shape[1:]), len(saved["classes"]))
            with np.load(path, allow_pickle=False) as w:
                model.set_weights([w[k] for k in sorted(w.files)])
            with QuietRetracing():  # a new network per fold: Keras' retracing warning says nothing here
                proba = model.predict(Xt, batch_size=32, verbose=0)
            rows.append(pd.DataFrame({"fold": run["fold"], "actor": test.actor.to_numpy(),
                                      "y_true": test.emotion.to_numpy(),
                                      "y_pred": np.asarray(saved["classes"], dtype=object)[proba.argmax(axis=1)]}))
    if not rows:
        return pd.DataFrame(columns=["fold", "actor", "y_true", "y_pred"])
    return pd.concat(rows, ignore_index=True)
