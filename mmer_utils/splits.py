"""Honest splits, fixed and documented, shared by every chapter.

RAVDESS: the same 24 actors say the same two sentences, so a random split puts
one actor's voice in training and test, and measures memory of the speaker more
than recognition of the emotion. The course's headline is speaker-independent:
six folds of four actors (two men, two women), each fold tested once, with the
next fold's actors as validation actors for early stopping and model selection.

==== ================ =====================
fold test actors      validation actors
==== ================ =====================
0    1, 2, 13, 14     3, 4, 15, 16
1    3, 4, 15, 16     5, 6, 17, 18
2    5, 6, 17, 18     7, 8, 19, 20
3    7, 8, 19, 20     9, 10, 21, 22
4    9, 10, 21, 22    11, 12, 23, 24
5    11, 12, 23, 24   1, 2, 13, 14
==== ================ =====================

>>> actor_folds()[0]
(1, 2, 13, 14)
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

N_ACTOR_FOLDS = 6


def actor_folds(n_actors: int = 24, n_folds: int = N_ACTOR_FOLDS) -> list[tuple[int, ...]]:
    """Return the fixed actor folds: fold k holds the actor pairs k and k + n_folds.

    Actors 2i+1 (male) and 2i+2 (female) form pair i, so every fold is balanced by sex.
    """
    pairs = [(2 * i + 1, 2 * i + 2) for i in range(n_actors // 2)]
    per_fold = len(pairs) // n_folds
    return [tuple(a for p in pairs[k::n_folds][:per_fold] for a in p) for k in range(n_folds)]


def actor_split(actors, fold: int, *, n_folds: int = N_ACTOR_FOLDS) -> dict[str, np.ndarray]:
    """Boolean masks ``train``/``val``/``test`` over ``actors`` for one speaker-independent fold.

    Test = fold ``fold``; validation = fold ``fold + 1`` (mod n_folds), taken out of
    the training actors; train = the other actors. No actor is in two parts.
    """
    actors = np.asarray(actors)
    folds = actor_folds(n_folds=n_folds)
    test = np.isin(actors, folds[fold % n_folds])
    val = np.isin(actors, folds[(fold + 1) % n_folds])
    return {"train": ~(test | val), "val": val, "test": test}


def iter_actor_splits(actors, *, n_folds: int = N_ACTOR_FOLDS) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(fold, masks)`` for every speaker-independent fold."""
    for fold in range(n_folds):
        yield fold, actor_split(actors, fold, n_folds=n_folds)


def actor_fold_table() -> pd.DataFrame:
    """The fold table above as a DataFrame (for notebooks and reports)."""
    folds = actor_folds()
    return pd.DataFrame({
        "fold": range(len(folds)),
        "test_actors": [", ".join(map(str, f)) for f in folds],
        "val_actors": [", ".join(map(str, folds[(k + 1) % len(folds)])) for k in range(len(folds))],
    })


def random_split(n: int, *, test_size: float = 0.2, seed: int = 42) -> dict[str, np.ndarray]:
    """A random (leaky for RAVDESS) split, only to show why it inflates results."""
    rng = np.random.default_rng(seed)
    test = np.zeros(n, dtype=bool)
    test[rng.permutation(n)[: int(round(n * test_size))]] = True
    return {"train": ~test, "test": test}


def fer_split(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """FER2013's official splits as masks: train = Training, val = PublicTest, test = PrivateTest."""
    usage = df["usage"].to_numpy()
    return {"train": usage == "Training", "val": usage == "PublicTest", "test": usage == "PrivateTest"}


def kfold_indices(n: int, *, n_splits: int = 10, seed: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed k-fold (train, test) index pairs over ``n`` examples, shuffled once with ``seed``.

    Used for the essays (10 folds, as Majumder et al. 2017); the same seed gives the
    same folds on every machine.
    """
    from sklearn.model_selection import KFold

    return list(KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.arange(n)))
