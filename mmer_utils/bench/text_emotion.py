"""``python -m mmer_utils.bench text-emotion --full``: text emotion models on dair-ai and MELD.

Every model is chosen on the validation (dair-ai) or dev (MELD) split and scored
once on the official test split. Without ``--full`` the same code runs on 2,000
training examples per data set (a smoke run; nothing is saved).

dair-ai rows: TF-IDF words+chars + LR, the BiGRU (seed 42), and the BiGRU averaged over
:data:`BIGRU_SEEDS` (a *deep ensemble*: the same network trained from different random
starts; each network stops early on validation, and the average is decided in advance, not
chosen on test). ``MMER_TEXT_EMOTION_DATASETS=dair`` (or ``meld``) runs one data set.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import datasets, evaluation
from ..results import BenchRecord
from ..text import emotion as E

#: Random starts of the BiGRU deep ensemble (the first is the single BiGRU row).
BIGRU_SEEDS = (42, 1, 2)
DATASETS_ENV = "MMER_TEXT_EMOTION_DATASETS"


def run(full: bool = False, command: str = "python -m mmer_utils.bench text-emotion") -> list[BenchRecord]:
    n = None if full else 2000
    grid_c = [1.0, 4.0, 16.0] if full else [4.0]
    chars = 200_000 if full else 20_000
    records = []

    def part(df, split):
        rows = df[df.split == split]
        return rows.sample(n, random_state=42) if n and n < len(rows) else rows

    def add(model, data, split, scores, metrics, seconds):
        for metric in metrics:
            records.append(BenchRecord(chapter="text", model=model, protocol=f"{data}, chosen on {split}", split="test",
                                       metric=metric, value=scores[metric], train_seconds=seconds, command=command))

    chosen = {d.strip() for d in os.environ.get(DATASETS_ENV, "dair,meld").split(",") if d.strip()}
    unknown = chosen - {"dair", "meld"}
    if unknown:
        raise ValueError(f"{DATASETS_ENV} takes dair and/or meld, got {sorted(unknown)}")
    if "dair" in chosen:
        _dair(part, add, grid_c, chars, full)
    if "meld" in chosen:
        _meld(part, add, grid_c, chars, full)
    return records


def _dair(part, add, grid_c, chars, full):
    tweets = datasets.load_dair_emotion()
    tr, va, te = part(tweets, "train"), part(tweets, "validation"), part(tweets, "test")
    start = time.perf_counter()
    _, _, model = E.select_on_validation(lambda C: E.tfidf_classifier(C=C, max_char_features=chars), {"C": grid_c},
                                         tr.text, tr.label, va.text, va.label, metric="accuracy")
    add("TF-IDF words+chars + LR", "dair-ai emotion", "validation",
        evaluation.classification_scores(te.label, model.predict(te.text)), ["accuracy", "macro_f1"],
        time.perf_counter() - start)
    start = time.perf_counter()
    probas, seconds = [], 0.0
    for seed in BIGRU_SEEDS if full else BIGRU_SEEDS[:2]:
        start = time.perf_counter()
        gru = E.NeuralTextClassifier(epochs=10 if full else 2, seed=seed).fit(tr.text, tr.label,
                                                                              validation_data=(va.text, va.label))
        probas.append(gru.predict_proba(te.text))
        seconds += time.perf_counter() - start
        if len(probas) == 1:
            add("BiGRU (word ids, from scratch)", "dair-ai emotion", "validation",
                evaluation.classification_scores(te.label, gru.predict(te.text)), ["accuracy", "macro_f1"], seconds)
    pred = gru.classes_[np.mean(probas, axis=0).argmax(axis=1)]
    add(f"BiGRU, average of {len(probas)} random starts", "dair-ai emotion", "validation",
        evaluation.classification_scores(te.label, pred), ["accuracy", "macro_f1"], seconds)


def _meld(part, add, grid_c, chars, full):

    meld = E.meld_frame(datasets.load_meld(), n_previous=3)
    tr, dv, te = part(meld, "train"), part(meld, "dev"), part(meld, "test")
    start = time.perf_counter()
    best, _, model = E.select_on_validation(lambda C: E.tfidf_classifier(C=C, max_char_features=chars),
                                            {"C": grid_c}, tr.text, tr.emotion, dv.text, dv.emotion)
    add("TF-IDF words+chars + LR", "MELD", "dev", evaluation.classification_scores(te.emotion, model.predict(te.text)),
        ["weighted_f1", "accuracy", "macro_f1"], time.perf_counter() - start)
    start = time.perf_counter()
    _, _, model = E.select_on_validation(
        lambda context_weight: E.ContextClassifier(C=float(best["C"]), context_weight=context_weight,
                                                   max_char_features=chars),
        {"context_weight": [0.0, 0.3, 0.6, 1.0] if full else [0.3]}, tr, tr.emotion, dv, dv.emotion)
    add("TF-IDF + 3 previous turns + LR", "MELD", "dev", evaluation.classification_scores(te.emotion, model.predict(te)),
        ["weighted_f1", "accuracy", "macro_f1"], time.perf_counter() - start)
