"""Benchmark of the Big Five models on the essays (part of ``python -m mmer_utils.bench text``).

Every model of :func:`mmer_utils.text.bigfive.model_catalogue` on the 2,465
essays, with the notebook ``01_text/03_big_five_models``'s protocol: 10-fold
cross-validation on the fixed folds of :func:`mmer_utils.splits.kfold_indices`
(seed 42), hyper-parameters chosen inside each training fold. One record per
model and metric: ``mean_accuracy`` (the mean of the five per-trait accuracies)
and ``accuracy_EXT`` ... ``accuracy_OPN``; ``train_seconds`` is the sum of the
ten folds' training times.

Every finished fold is kept in ``build/cache/text_bigfive/<model>-<hash of its
settings>/fold_<k>.npz`` (its test probabilities), so a rerun skips it: an
interrupted benchmark resumes where it stopped. Environment variables:

* ``MMER_BIGFIVE_DEEP=0`` leaves out the Keras models (hours on a 2-core CPU);
* ``MMER_BIGFIVE_MODELS="TF-IDF + LR,stacked"`` runs only the models named.
"""

from __future__ import annotations

import os

from .. import config
from ..results import BenchRecord
# the protocol lives in the text package; the benchmark only runs and records it
from ..text.bigfive import fold_cache  # noqa: F401

CHAPTER = "text"
PROTOCOL = "10-fold CV, fixed folds (seed 42), 2,465 of 2,467 essays"
#: The quick smoke run: 3 folds on 300 essays, small grids and networks (nothing cached or saved).
QUICK = {"n_essays": 300, "n_splits": 3}


def evaluate(names=None, *, full: bool = True, progress: bool = True, deep: bool = True, encoder: bool = False):
    """Cross-validate the models ``names`` (default: all); return ``({name: per-fold DataFrame}, n_essays)``."""
    from ..datasets import load_essays
    from ..splits import kfold_indices
    from ..text import bigfive, preprocess

    config.set_seed(config.DEFAULT_SEED)
    df = load_essays()
    if not full:
        df = df.sample(QUICK["n_essays"], random_state=config.DEFAULT_SEED).reset_index(drop=True)
    n_splits = 10 if full else QUICK["n_splits"]
    tokens = preprocess.clean_corpus(df.text.tolist(), progress=progress)
    X = bigfive.essay_inputs(df.text.tolist(), tokens)
    Y = df[list(bigfive.TRAITS)].to_numpy()
    folds = kfold_indices(len(df), n_splits=n_splits, seed=config.DEFAULT_SEED)
    catalogue = bigfive.model_catalogue(quick=not full, deep=deep, encoder=encoder)
    names = list(catalogue) if names is None else list(names)
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known: {list(catalogue)}")
    results = {}
    for name in names:
        # the settings name the cache: a change of model or data retrains
        cache_dir = fold_cache(name, catalogue[name](), len(df), n_splits) if full else None
        results[name] = bigfive.cross_validate_bigfive(catalogue[name], X, Y, folds, cache_dir=cache_dir,
                                                       progress=progress, name=name)
        cv = results[name]
        print(f"{name}: mean accuracy {cv['mean'].mean():.4f} "
              f"({cv['fit_seconds'].sum():.0f} s of training)", flush=True)
    return results, len(df)


def records_of(results, *, command: str, protocol: str = PROTOCOL) -> list[BenchRecord]:
    """One record per model for the mean accuracy and for each trait's accuracy."""
    from ..text import bigfive

    table = bigfive.summary_table(results)
    records = []
    for name, cv in results.items():
        seconds = float(cv["fit_seconds"].sum())
        extra = {"per_fold_mean_accuracy": [round(float(a), 4) for a in cv["mean"]],
                 "fold_std_mean_accuracy": round(float(table.loc[name, "std"]), 4)}
        records.append(BenchRecord(CHAPTER, f"Big Five: {name}", protocol, "10-fold CV", "mean_accuracy",
                                   float(table.loc[name, "mean"]), seconds, command, extra=extra))
        for trait in bigfive.TRAITS:
            records.append(BenchRecord(CHAPTER, f"Big Five: {name}", protocol, "10-fold CV", f"accuracy_{trait}",
                                       float(table.loc[name, trait]), seconds, command))
    return records


def run(full: bool, command: str) -> list[BenchRecord]:
    """Benchmark the Big Five models; ``full=False`` is a smoke run of a few minutes on 300 essays."""
    from ..text import bigfive

    names = os.environ.get("MMER_BIGFIVE_MODELS")
    names = [n.strip() for n in names.split(",") if n.strip()] if names else None
    deep = os.environ.get("MMER_BIGFIVE_DEEP", "1") != "0"
    results, n = evaluate(names, full=full, deep=deep)
    protocol = PROTOCOL if full else f"{QUICK['n_splits']}-fold CV on {n} essays (quick smoke run)"
    table = bigfive.summary_table(results)
    print(table.round(3).to_string())
    return records_of(results, command=command, protocol=protocol)


if __name__ == "__main__":  # pragma: no cover
    import sys

    full = "--full" in sys.argv
    for rec in run(full, "python -m mmer_utils.bench.text_bigfive" + (" --full" if full else "")):
        print(f"{rec.model:<45} {rec.metric:<16} {rec.value:.4f}")
