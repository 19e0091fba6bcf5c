"""Benchmark of the audio chapter's deep models on RAVDESS (part of ``python -m mmer_utils.bench audio``).

What it measures, with the functions the notebook ``02_audio/03_deep_models`` calls:

1. the time-distributed CNN-LSTM and the 2-D CNN on log-mel spectrograms, on the six
   speaker-independent actor folds (accuracy, macro F1, UAR, training time);
2. the better of the two on a random split of the clips (leaky, for comparison);
3. the source's ablations, each a change to the better model: content above 4 kHz
   dropped, one model per sex, no augmentation; on folds 0-2 by default (each costs a
   full training per fold), beside the better model's scores on the same folds.

Training is long on a CPU (minutes per fold), so the run is resumable across machines:
each model trains with an epoch checkpoint in ``models/checkpoints/audio_deep/<setting>/<hash
of the settings>/`` (committed between working sessions), and a finished fold keeps there only
its weights, scores and curves; its per-clip predictions are cached in ``build/cache`` (never
committed) and rebuilt from the weights on a fresh machine. A rerun skips finished folds and
continues an interrupted one from its last epoch. ``MMER_AUDIO_DEEP_RANDOM=0`` skips the
random split and ``MMER_AUDIO_DEEP_ABLATIONS=0`` the ablations (records of the parts that ran
are saved, the others' earlier rows kept); ``MMER_AUDIO_DEEP_ABLATION_FOLDS=0,1,2,3,4,5`` runs them on every fold.
"""

from __future__ import annotations

import os
import time

from .. import config
from ..audio.experiment import (ABLATION_FOLDS, ABLATIONS, LOGMEL, MODELS, PROTOCOL, QUICK, RANDOM_PROTOCOL,  # noqa: F401
                                VERSION, WAVE_AUGMENT, average, evaluate, evaluate_random, merge, restrict)
from ..results import BenchRecord

CHAPTER = "audio"


def _records(name: str, res, protocol: str, command: str, settings: dict) -> list[BenchRecord]:
    extra = {"per_fold_accuracy": [round(float(a), 4) for a in res.per_fold["accuracy"]],
             "per_fold_seconds": [round(float(s), 1) for s in res.per_fold["fit_seconds"]],
             "best_epochs": [b for b in res.per_fold["best_epoch"]], **training_effort(res),
             "settings": settings}
    return [BenchRecord(CHAPTER, name, protocol, "test", metric, float(res.pooled[metric]), res.fit_seconds,
                        command, extra=extra)
            for metric in ("accuracy", "macro_f1", "uar")]


def training_effort(res) -> dict:
    """Epochs trained (every model of every fold, early-stopped ones included) and CPU hours:
    the wall-clock hours of training on the recorded machine, which has no GPU."""
    epochs = [len(h.get("loss", [])) for h in getattr(res, "histories", None) or []]
    out = {"cpu_hours": round(float(res.fit_seconds) / 3600, 2)}
    if epochs:
        out["epochs"] = int(sum(epochs))
    return out


def _fold_names(folds) -> str:
    return "6 actor folds" if len(folds) == 6 else f"actor folds {', '.join(map(str, folds))} of 6"


def run(full: bool, command: str) -> list[BenchRecord]:
    """Benchmark the deep models; ``full=False`` is a smoke run of a few seconds per model."""
    import pandas as pd

    from ..datasets import load_ravdess

    config.set_seed(config.DEFAULT_SEED)
    df = load_ravdess()
    records, results = [], {}
    quick = {} if full else QUICK
    protocol = PROTOCOL if full else "speaker-independent, fold 0 (quick smoke run)"
    overrides = {"estimator": quick.get("estimator", {})}

    for name, base in MODELS.items():
        settings = merge(base, overrides)
        start = time.perf_counter()
        res = evaluate(name, df=df, folds=quick.get("folds"), train_actors=quick.get("train_actors"),
                       cache=full, **settings)
        print(f"{name}: accuracy {res.pooled['accuracy']:.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
        records += _records(name, res, protocol, command, settings)
        results[name] = res

    # Free extra: the mean of the two models' probabilities (same folds, same test clips)
    ens = average(list(results.values()))
    records += _records("mean of CNN-LSTM and 2-D CNN probabilities", ens, protocol, command,
                        {"members": list(results)})

    best = max(results, key=lambda n: results[n].pooled["accuracy"])
    best_settings = merge(MODELS[best], overrides)
    if os.environ.get("MMER_AUDIO_DEEP_RANDOM", "1") == "0":
        print("random split: skipped (MMER_AUDIO_DEEP_RANDOM=0)", flush=True)
    elif full:
        res = evaluate_random(best, df=df, **best_settings)
        records += _records(best, res, RANDOM_PROTOCOL, command, best_settings)
    else:  # the smoke run only checks that the random protocol runs, on a subset
        subset = df[df.actor.isin(QUICK["train_actors"] + [1, 2])].reset_index(drop=True)
        res = evaluate_random(best, df=subset, cache=False, **best_settings)
        records += _records(best, res, RANDOM_PROTOCOL, command, best_settings)

    if os.environ.get("MMER_AUDIO_DEEP_ABLATIONS", "1") != "0":
        env = os.environ.get("MMER_AUDIO_DEEP_ABLATION_FOLDS")
        folds = tuple(int(f) for f in env.split(",")) if env else ABLATION_FOLDS
        folds = folds if full else tuple(QUICK["folds"])
        fold_protocol = f"speaker-independent, {_fold_names(folds)}" if full else protocol
        # the reference: the best model on the same folds
        records += _records(best, restrict(results[best], folds), fold_protocol, command, best_settings)
        for ablation, change in ABLATIONS.items():
            settings = merge(best_settings, change)
            res = evaluate(f"{best}, {ablation}", df=df, folds=folds, train_actors=quick.get("train_actors"),
                           cache=full, **settings)
            print(f"{best}, {ablation}: accuracy {res.pooled['accuracy']:.3f}", flush=True)
            records += _records(f"{best}, {ablation}", res, fold_protocol, command, settings)

    table = pd.DataFrame([{"model": r.model, "protocol": r.protocol, "metric": r.metric, "value": r.value}
                          for r in records])
    print(table.pivot_table(index=["model", "protocol"], columns="metric", values="value").round(3).to_string())
    return records
