"""Benchmark of the audio chapter's classic models: features + SVM, and the openSMILE peers.

Everything is evaluated on the six fixed speaker-independent actor folds of
:mod:`mmer_utils.splits`, hyper-parameters (and, for the course's features, the
feature set) chosen by a grid search over the training actors only:

* classic features (:mod:`mmer_utils.audio.features`) + RBF SVM, and + logistic regression;
* the same RBF SVM with content above 4 kHz dropped (the source's ablation);
* eGeMAPSv02 and ComParE_2016 functionals (openSMILE) + RBF SVM: the peer baselines;
* the RBF SVM on a random 6-fold split of the clips (leaky: to show how it inflates);
* the RBF SVM with per-speaker normalisation (transductive: reported apart).

``full=False`` is a smoke run on a subset (12 actors, one sentence, 2 folds, small grids).

>>> from mmer_utils.bench.audio_classic import run                    # doctest: +SKIP
>>> records = run(full=True, command="python -m mmer_utils.bench audio --full")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
import warnings


from ..results import BenchRecord

CHAPTER = "audio"
SPEAKER_INDEPENDENT = "speaker-independent, 6 actor folds"
RANDOM_SPLIT = "random 6-fold split (leaky)"
SPEAKER_NORMALISED = "speaker-independent, 6 actor folds, per-speaker normalisation (transductive)"


def _records(model, protocol, res, command, metrics=("accuracy", "macro_f1", "uar"), extra=None):
    info = {"n_folds": int(len(res.per_fold)),
            "fold_accuracy": [round(float(a), 4) for a in res.per_fold["accuracy"]],
            "best_params": [{k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in p.items()}
                            for p in res.per_fold["best_params"]],
            **(extra or {})}
    return [BenchRecord(chapter=CHAPTER, model=model, protocol=protocol, split="test", metric=m,
                        value=float(res.pooled[m]), train_seconds=round(float(res.fit_seconds), 1),
                        command=command, extra=info) for m in metrics]


def run(full: bool = True, command: str = "python -m mmer_utils.bench audio --full", *,
        n_jobs: int | None = None, opensmile: bool = True, progress: bool = True) -> list[BenchRecord]:
    """Extract features, evaluate every classic model, return one record per number.

    Parameters
    ----------
    full : bool
        All 1,440 clips, 6 folds, full grids; False: a quick smoke run (not for publication).
    command : str
        The command line stored in each record.
    n_jobs : int or None
        Parallel jobs for feature extraction and grid searches (default: all cores).
    opensmile : bool
        Include the openSMILE peers (needs the ``opensmile`` package; skipped with a warning
        when it is missing).
    """
    from ..audio import baselines, features, opensmile_peer
    from ..datasets import load_ravdess
    from ..labels import RAVDESS
    from ..splits import actor_folds

    n_jobs = n_jobs or os.cpu_count() or 1
    df = load_ravdess()
    folds = None
    if not full:
        quick_actors = [a for fold in actor_folds()[:3] for a in fold]
        df = df[df.actor.isin(quick_actors) & (df.statement == 1)].reset_index(drop=True)
        folds = [0, 1]
    paths, y, actors = df.path.tolist(), df.emotion.to_numpy(), df.actor.to_numpy()
    common = dict(labels=RAVDESS, folds=folds, n_jobs=n_jobs, progress=progress)
    records: list[BenchRecord] = []
    extra = {"n_clips": len(df), "full": full}

    t = time.perf_counter()
    X, blocks = features.extract_feature_sets(paths, progress=progress, n_jobs=n_jobs)
    X_low, blocks_low = features.extract_feature_sets(paths, progress=progress, n_jobs=n_jobs, max_freq=4000)
    extra["classic_feature_seconds"] = round(time.perf_counter() - t, 1)

    def grid(kind, b=None):
        return baselines.default_param_grid(kind, quick=not full, blocks=b)

    rbf = baselines.evaluate_actor_folds(lambda: baselines.make_svm("rbf", blocks=blocks), X, y, actors,
                                         param_grid=grid("rbf", blocks), **common)
    records += _records("classic features + RBF SVM", SPEAKER_INDEPENDENT, rbf, command, extra=extra)
    lin = baselines.evaluate_actor_folds(lambda: baselines.make_svm("linear", blocks=blocks), X, y, actors,
                                         param_grid=grid("linear", blocks), **common)
    records += _records("classic features + logistic regression", SPEAKER_INDEPENDENT, lin, command, extra=extra)
    low = baselines.evaluate_actor_folds(lambda: baselines.make_svm("rbf", blocks=blocks_low), X_low, y, actors,
                                         param_grid=grid("rbf", blocks_low), **common)
    records += _records("classic features below 4 kHz + RBF SVM", SPEAKER_INDEPENDENT, low, command, extra=extra)
    leaky = baselines.evaluate_random_split(lambda: baselines.make_svm("rbf", blocks=blocks), X, y,
                                            param_grid=grid("rbf", blocks), labels=RAVDESS,
                                            folds=folds, n_jobs=n_jobs, progress=progress)
    records += _records("classic features + RBF SVM", RANDOM_SPLIT, leaky, command, extra=extra)
    norm = baselines.evaluate_actor_folds(
        lambda: baselines.make_svm("rbf", blocks=blocks),
        baselines.speaker_normalize(X, actors), y, actors,
        param_grid=grid("rbf", blocks), **common)
    records += _records("classic features + RBF SVM", SPEAKER_NORMALISED, norm, command, extra=extra)

    if opensmile and not opensmile_peer.available():
        warnings.warn("openSMILE peers skipped: the `opensmile` package is missing (pip install opensmile)",
                      stacklevel=2)
        opensmile = False
    if opensmile:
        for feature_set in opensmile_peer.FEATURE_SETS:
            t = time.perf_counter()
            Xo = opensmile_peer.opensmile_features(paths, feature_set, progress=progress, n_jobs=n_jobs)
            seconds = round(time.perf_counter() - t, 1)
            res = baselines.evaluate_actor_folds(lambda: baselines.make_svm("rbf"), Xo, y, actors,
                                                 param_grid=grid("rbf"), **common)
            records += _records(f"{feature_set} (openSMILE) + RBF SVM", SPEAKER_INDEPENDENT, res, command,
                                extra={**extra, "feature_seconds": seconds})
    return records
