"""Benchmark: the voice chapter's deep and classic models combined on the same actor folds.

``python -m mmer_utils.bench audio-stack --full`` reads the finished folds of
``audio-deep --full`` (their committed weights: it trains nothing), computes the classic
clip features + logistic regression's test probabilities on the same six speaker-independent
folds (:func:`mmer_utils.audio.deep_and_classic.classic_fold_probas`) and records

* the soft vote of each deep model with the classic one, and of all three
  (:func:`~mmer_utils.audio.deep_and_classic.soft_vote`: nothing fitted, leak-free);
* the same members stacked by a logistic regression fitted on the other folds' predictions
  (:func:`~mmer_utils.audio.deep_and_classic.stack_across_folds`).

The members' own scores are printed, not recorded: their records are ``audio-deep``'s and
``audio-classic``'s (same names and protocol), which this run must not overwrite.

A deep model whose six folds are not all finished is left out with one line saying so:
run ``python -m mmer_utils.bench audio-deep --full`` first (it resumes). Without ``--full``
it is a smoke run on fold 0 of a few actors, with tiny models, in a few minutes (no stacking: it
needs two folds or more).
"""

from __future__ import annotations

import time

from .. import config
from ..audio.experiment import MODELS, PROTOCOL, QUICK, evaluate, merge, published_fold_runs
from ..results import BenchRecord

CHAPTER = "audio"
#: The classic member: the clip feature sets + logistic regression (the voice chapter's best classic model on
#: the actor folds; ``audio-classic`` records it too), tuned inside each fold's training actors.
CLASSIC = "classic features + logistic regression"
#: Smoke run: fold 0's test actors (1, 2, 13, 14), its validation actors (3, 4, 15, 16) and QUICK's training ones.
QUICK_ACTORS = (1, 2, 13, 14, 3, 4, 15, 16, *QUICK["train_actors"])


def _records(model: str, res, protocol: str, command: str, extra: dict) -> list[BenchRecord]:
    extra = {"per_fold_accuracy": [round(float(a), 4) for a in res.per_fold["accuracy"]], **extra}
    return [BenchRecord(CHAPTER, model, protocol, "test", metric, float(res.pooled[metric]), res.fit_seconds,
                        command, extra=extra)
            for metric in ("accuracy", "macro_f1", "uar")]


def finished_deep_models(n_folds: int = 6) -> list[str]:
    """The deep models of :data:`mmer_utils.audio.experiment.MODELS` whose full run has all ``n_folds``
    folds committed (so their test predictions can be rebuilt without training)."""
    return [name for name in MODELS if len(published_fold_runs(name)) >= n_folds]


def run(full: bool, command: str) -> list[BenchRecord]:
    """Combine the deep and classic voice models; ``full=False`` is a smoke run (fold 0, few actors)."""
    from ..audio import baselines, features
    from .audio_deep import training_effort
    from ..audio.deep_and_classic import classic_fold_probas, soft_vote, stack_across_folds
    from ..datasets import load_ravdess
    from ..labels import RAVDESS

    config.set_seed(config.DEFAULT_SEED)
    df = load_ravdess()
    if full:
        folds, protocol, names = None, PROTOCOL, finished_deep_models()
        for name in MODELS:
            if name not in names:
                print(f"{name}: only {len(published_fold_runs(name))} of 6 folds finished, left out "
                      "(python -m mmer_utils.bench audio-deep --full resumes it)", flush=True)
        if not names:
            raise SystemExit("audio-stack: no deep model has finished its 6 folds; "
                             "run python -m mmer_utils.bench audio-deep --full first")
    else:
        df = df[df.actor.isin(QUICK_ACTORS) & (df.repetition == 1)].reset_index(drop=True)  # 360 clips
        folds, protocol, names = [0], "speaker-independent, fold 0 (quick smoke run)", list(MODELS)

    members, effort = {}, {}
    for name in names:
        settings = merge(MODELS[name], {"estimator": {} if full else QUICK["estimator"]})
        start = time.perf_counter()
        members[name] = evaluate(name, df=df, folds=folds, cache=full, progress=False, **settings)
        # the deep model's own training time (from its fold records), not the seconds spent rebuilding here
        effort[name] = members[name].fit_seconds
        print(f"{name}: accuracy {members[name].pooled['accuracy']:.3f} "
              f"({time.perf_counter() - start:.0f} s to rebuild or run)", flush=True)

    start = time.perf_counter()
    X, blocks = features.extract_feature_sets(df.path.tolist(), progress=False, n_jobs=1)
    members[CLASSIC] = classic_fold_probas(
        X, df.emotion.to_numpy(), df.actor.to_numpy(), labels=RAVDESS, folds=folds,
        make_model=lambda: baselines.make_svm("linear", blocks=blocks),
        param_grid=baselines.default_param_grid("linear", quick=not full, blocks=blocks))
    effort[CLASSIC] = members[CLASSIC].fit_seconds
    print(f"{CLASSIC}: accuracy {members[CLASSIC].pooled['accuracy']:.3f} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)

    # the members' own rows are audio-deep's and audio-classic's records (same names and protocol): only printed here
    records = []
    combos = [[name, CLASSIC] for name in names] + ([names + [CLASSIC]] if len(names) > 1 else [])
    for combo in combos:
        parts = [members[n] for n in combo]
        seconds = sum(effort[n] for n in combo)
        combined = [("soft vote", soft_vote(parts))]
        if len(parts[0].per_fold) > 1:  # the meta-learner of a fold learns on the other folds
            combined.append(("stacking", stack_across_folds(parts)))
        for label, res in combined:
            res.fit_seconds = seconds  # the members' training: the combination itself costs milliseconds
            model = f"{label} of {' + '.join(combo)}"
            print(f"{model}: accuracy {res.pooled['accuracy']:.3f}", flush=True)
            deep_epochs = sum(training_effort(members[n]).get("epochs", 0) for n in combo if n != CLASSIC)
            records += _records(model, res, protocol, command, {
                "members": combo, "combination": label, "epochs": deep_epochs,  # the deep members' epochs
                "cpu_hours": round(seconds / 3600, 2)})
    return records
