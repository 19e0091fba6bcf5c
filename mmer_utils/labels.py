"""Emotion vocabularies of the course's data sets and one shared vocabulary.

Each data set names its emotions its own way. The ensemble chapter combines
face (FER2013), voice (RAVDESS) and text (MELD, dair-ai) models, so every label
is mapped onto one shared set: the six basic emotions of Ekman plus neutral,
in FER2013's order.

==========  ========  ===========  =========  ============================
shared      FER2013   RAVDESS      MELD       dair-ai emotion
==========  ========  ===========  =========  ============================
angry       angry     angry        anger      anger
disgust     disgust   disgust      disgust    (none)
fear        fear      fearful      fear       fear
happy       happy     happy        joy        joy, love (*)
sad         sad       sad          sadness    sadness
surprise    surprise  surprised    surprise   surprise
neutral     neutral   neutral,     neutral    (none)
                      calm (*)
==========  ========  ===========  =========  ============================

(*) Lossy merges, made on purpose and worth discussing with students: RAVDESS
*calm* is a low-arousal, neutral-valence state (most papers that merge classes
fold it into neutral); dair-ai *love* is positive-valence affect, closest to
happy. dair-ai has no neutral and no disgust, so a text model trained on it can
never predict them: :func:`to_shared_proba` returns zeros there, and
:func:`coverage` says which shared classes a source can express.

>>> to_shared(["calm", "fearful"], "ravdess")
['neutral', 'fear']
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

SHARED = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Class order of each source, as the source numbers them.
FER2013 = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
RAVDESS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
MELD = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
DAIR_EMOTION = ("sadness", "joy", "love", "anger", "fear", "surprise")

VOCABULARIES = {
    "fer2013": FER2013,
    "ravdess": RAVDESS,
    "meld": MELD,
    "emotion": DAIR_EMOTION,
    "shared": SHARED,
}

TO_SHARED = {
    "fer2013": {name: name for name in FER2013},
    "ravdess": {
        "neutral": "neutral",
        "calm": "neutral",
        "happy": "happy",
        "sad": "sad",
        "angry": "angry",
        "fearful": "fear",
        "disgust": "disgust",
        "surprised": "surprise",
    },
    "meld": {
        "neutral": "neutral",
        "joy": "happy",
        "surprise": "surprise",
        "anger": "angry",
        "sadness": "sad",
        "disgust": "disgust",
        "fear": "fear",
    },
    "emotion": {
        "sadness": "sad",
        "joy": "happy",
        "love": "happy",
        "anger": "angry",
        "fear": "fear",
        "surprise": "surprise",
    },
    "shared": {name: name for name in SHARED},
}


def _source(source: str) -> str:
    key = source.lower().replace("-", "_")
    key = {"dair_ai": "emotion", "dair_emotion": "emotion", "fer": "fer2013"}.get(key, key)
    if key not in VOCABULARIES:
        raise ValueError(f"unknown label source {source!r}; expected one of {sorted(VOCABULARIES)}")
    return key


def vocabulary(source: str) -> tuple[str, ...]:
    """Return the class names of ``source`` in the source's own order."""
    return VOCABULARIES[_source(source)]


def to_shared(labels: Iterable[str], source: str) -> list[str]:
    """Map label names of ``source`` onto the shared vocabulary."""
    table = TO_SHARED[_source(source)]
    out = []
    for label in labels:
        if label not in table:
            raise ValueError(f"{label!r} is not a {source} label; expected one of {sorted(table)}")
        out.append(table[label])
    return out


def mapping_matrix(source: str) -> np.ndarray:
    """Return the 0/1 matrix M (n_source x n_shared) with M[i, j] = 1 when class i maps to j."""
    src = vocabulary(source)
    table = TO_SHARED[_source(source)]
    matrix = np.zeros((len(src), len(SHARED)))
    for i, name in enumerate(src):
        matrix[i, SHARED.index(table[name])] = 1.0
    return matrix


def to_shared_proba(proba: np.ndarray, source: str) -> np.ndarray:
    """Turn class probabilities in ``source`` order into shared-vocabulary probabilities.

    Merged classes add up (RAVDESS calm + neutral -> neutral); classes the source
    cannot express get 0. Rows still sum to 1.

    >>> p = np.array([[0.1, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]])
    >>> float(dict(zip(SHARED, to_shared_proba(p, "ravdess")[0].round(2)))["neutral"])
    0.4
    """
    proba = np.asarray(proba, dtype=float)
    matrix = mapping_matrix(source)
    if proba.shape[-1] != matrix.shape[0]:
        raise ValueError(f"expected {matrix.shape[0]} {source} classes, got {proba.shape[-1]} columns")
    return proba @ matrix


def coverage(source: str) -> np.ndarray:
    """Boolean mask over :data:`SHARED`: which shared classes ``source`` can express."""
    return mapping_matrix(source).sum(axis=0) > 0


def encode(labels: Sequence[str], source: str) -> np.ndarray:
    """Integer class ids of ``labels`` in the order of ``vocabulary(source)``."""
    names = vocabulary(source)
    index = {name: i for i, name in enumerate(names)}
    try:
        return np.array([index[label] for label in labels], dtype=int)
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not a {source} label; expected one of {names}") from None


def source_of(names: Sequence[str]) -> str:
    """The first source (FER2013, RAVDESS, MELD, dair-ai, shared) whose vocabulary holds every label of ``names``.

    >>> source_of(["calm", "angry"]), source_of(["joy", "neutral"])
    ('ravdess', 'meld')
    """
    wanted = {str(n) for n in names}
    for source in ("fer2013", "ravdess", "meld", "emotion", "shared"):
        if wanted <= set(VOCABULARIES[source]):
            return source
    raise ValueError(f"no label source holds all of {sorted(wanted)}; name the source explicitly")


def shared_proba(proba: np.ndarray, names: Sequence[str], source: str | None = None) -> np.ndarray:
    """:func:`to_shared_proba` of columns named ``names`` (any order, any subset of ``source``'s labels).

    The columns are put in ``source``'s order (a label the model does not have gets 0)
    and mapped onto :data:`SHARED`. ``source`` defaults to :func:`source_of` ``(names)``.

    >>> shared_proba(np.array([[0.25, 0.75]]), ["angry", "calm"]).round(2).tolist()
    [[0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.75]]
    """
    names = [str(n) for n in names]
    source = _source(source) if source is not None else source_of(names)
    vocab = vocabulary(source)
    proba = np.asarray(proba, dtype=float)
    if proba.shape[-1] != len(names):
        raise ValueError(f"{proba.shape[-1]} probability columns for {len(names)} labels")
    missing = [n for n in names if n not in vocab]
    if missing:
        raise ValueError(f"{missing} are not {source} labels; expected some of {vocab}")
    full = np.zeros(proba.shape[:-1] + (len(vocab),))
    for j, name in enumerate(names):
        full[..., vocab.index(name)] += proba[..., j]
    return to_shared_proba(full, source)
