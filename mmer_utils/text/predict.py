"""The text chapter's inference API: one interview answer in, the candidate view out.

:class:`TextAnswerModel` bundles the chapter's Big Five model (TF-IDF + logistic
regression per trait, the best cheap model of ``01_text/03``), a *population*: the
essays' **out-of-fold** trait probabilities (each essay scored by a model that never
saw it), kept as 101 quantiles per trait, so that a new answer is placed among the
other candidates by percentile rather than by raw probabilities, which cluster near the
base rates, and optionally a :class:`TextEmotionModel` (MELD text emotion, TF-IDF +
logistic regression, ``01_text/04``).

The three modalities share one inference contract (see also
:class:`~mmer_utils.audio.predict.AudioEmotionModel` and
:class:`~mmer_utils.video.predict.FaceEmotionModel`):

====================  ================================================================
``predict_proba``     a batch in (here: a list of texts), ``(n, len(labels))`` out,
                      columns in ``labels`` order
``analyse``           one input in, its analysis out (here: an :class:`AnswerAnalysis`)
``save`` / ``load``   one safe file (``.skops``: no pickle, nothing runs when loading)
``load_pretrained``   the model shipped with the course (``mmer_utils.models``)
====================  ================================================================

>>> model = TextAnswerModel.load_pretrained()                      # doctest: +SKIP
>>> view = model.analyse("Tell us about the last time you showed leadership. ...")  # doctest: +SKIP
>>> view.most_visible_trait, view.percentiles.round()              # doctest: +SKIP

Command line::

    python -m mmer_utils.text.predict train [--quick]     # builds the default bundle
    python -m mmer_utils.text.predict analyse --file answer.txt

These are course models trained on student essays (Pennebaker & King) and TV dialogue
(MELD): they are not validated psychometric instruments, and the course says so.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import config
from ..errors import DataNotFoundError, MmerError
from ..labels import MELD
from ..persist import ModelFileError, load_payload, load_shipped, save_payload
from .preprocess import EmptyTextError, check_text, clean_tokens, tokenize

#: Trait codes (the essays' order) and names.
TRAIT_NAMES = {"EXT": "extraversion", "NEU": "neuroticism", "AGR": "agreeableness",
               "CON": "conscientiousness", "OPN": "openness"}
#: Below this many words an answer gets ``low_confidence=True`` (the essays average ~650 words).
MIN_WORDS = 50
#: Where :meth:`TextAnswerModel.load_default` looks (``train`` writes it).
DEFAULT_NAME = "text_answer.skops"
#: Percent levels of the quantiles kept per trait: 0, 1, ..., 100.
QUANTILE_LEVELS = np.linspace(0.0, 100.0, 101)
#: Kinds written in the skops files (see :func:`mmer_utils.persist.save_payload`).
ANSWER_KIND, EMOTION_KIND = "TextAnswerModel", "TextEmotionModel"


def most_visible_trait(percentiles: pd.Series) -> str:
    """The trait whose P(high) stands out most **against the other candidates**: the highest percentile.

    Raw P(high) is not compared across traits, because each trait's probabilities cluster
    around its own base rate (more essays are "high" in some traits than in others); the
    percentile among a population of writers puts the five traits on one scale. The text
    chapter's candidate view and the portrait both use this definition.

    >>> most_visible_trait(pd.Series({"EXT": 40.0, "OPN": 91.0, "AGR": 75.0}))
    'OPN'
    """
    percentiles = pd.Series(percentiles, dtype=float)
    if percentiles.dropna().empty:
        raise ValueError("no trait percentiles: cannot name the most visible trait")
    return str(percentiles.idxmax())


def default_model_path(quick: bool = False) -> Path:
    """``build/cache/models/text_answer.skops`` (``text_answer_quick.skops`` for the quick bundle)."""
    name = DEFAULT_NAME.replace(".skops", "_quick.skops") if quick else DEFAULT_NAME
    return config.cache_dir("models") / name


def emotion_sibling(path) -> Path:
    """Where the command line keeps a bundle's text-emotion model: ``<stem>_emotion.skops`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}_emotion.skops")


_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


def _plain_words(text: str) -> list[str]:
    """Words by a regular expression: the fallback when NLTK's tokenizer data is not installed."""
    return _WORD.findall(text)


def _plain_content_words(text: str) -> list[str]:
    """Lower-cased words minus scikit-learn's English stop words (no NLTK data needed).

    >>> _plain_content_words("I really loved leading the team, and the team loved it.")
    ['really', 'loved', 'leading', 'team', 'team', 'loved']
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in (t.lower() for t in _plain_words(text)) if w not in ENGLISH_STOP_WORDS and len(w) > 1]


#: Said when the common words were counted without NLTK's data.
NO_NLTK_NOTE = ("common words counted without NLTK's data (no lemmas, scikit-learn's stop words); "
                "for the course's preprocessing: python -m mmer_utils.datasets fetch nltk_data")


def content_words(text: str, *, lemma: bool = True) -> tuple[list[str], str | None]:
    """The words of ``text`` that carry content: ``(tokens, note)``.

    The course's :func:`~mmer_utils.text.preprocess.clean_tokens` (contractions, stop
    words, lemmas) when NLTK's data is installed; otherwise plain lower-cased words minus
    scikit-learn's stop words, and ``note`` (else None) says so. The shipped models need
    no data folder, so the candidate view and the portrait must not either.
    """
    try:
        return clean_tokens(text, lemma=lemma), None
    except DataNotFoundError:
        return _plain_content_words(text), NO_NLTK_NOTE


#: File starts that say "not a text file" (what a user may hand over by mistake), by what they are.
_BINARY_MAGIC = ((b"%PDF", "a PDF (give its text, or upload it to the app, which reads PDFs)"),
                 (b"PK\x03\x04", "a ZIP archive or an Office document (save it as plain text)"),
                 (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"RIFF", "a RIFF file (WAV/AVI)"),
                 (b"OggS", "an Ogg recording"), (b"fLaC", "a FLAC recording"), (b"ID3", "an MP3 recording"),
                 (b"\x1aE\xdf\xa3", "a WebM/Matroska recording"), (b"\x7fELF", "a program"))


def read_text_file(path, *, what: str = "text file") -> str:
    """The text of a file: UTF-8 (with or without BOM), else Windows-1252.

    A missing file, a binary one (a PDF, an image, a recording...) and one that decodes
    to mostly control characters are one-line errors (:class:`~mmer_utils.errors.DataNotFoundError`,
    :class:`~mmer_utils.errors.UnreadableFileError`), never a ``UnicodeDecodeError``.
    """
    from ..errors import UnreadableFileError

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{what} {path} not found")
    raw = path.read_bytes()
    head = raw[:4096]
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            raise UnreadableFileError(f"{path} is not a text file: it is {kind}")
    if b"\x00" in head:
        raise UnreadableFileError(f"{path} is not a text file (it holds binary data): give a plain-text (.txt) file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # cp1252 leaves five bytes undefined
        raise UnreadableFileError(f"{path} is neither UTF-8 nor Windows-1252 text: save it as UTF-8 plain text")
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.05 * max(1, len(text[:4096])):
        raise UnreadableFileError(f"{path} is not a text file (it holds binary data): give a plain-text (.txt) file")
    return text


#: An answer is said not to be (mostly) English below this share of words the models know.
MIN_KNOWN_SHARE = 0.6
_ANY_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _find_vocabulary(obj, depth: int = 3):
    """The ``vocabulary_`` of the first fitted vectorizer inside ``obj`` (a pipeline, a TraitClassifier...)."""
    if obj is None or depth < 0:
        return None
    vocab = getattr(obj, "vocabulary_", None)
    if isinstance(vocab, dict) and vocab:
        return vocab
    parts = [step for _, step in getattr(obj, "steps", [])]
    parts += [getattr(obj, name, None) for name in ("features_", "vectorizer_", "vectorizer", "features")]
    for part in parts:
        found = _find_vocabulary(part, depth - 1)
        if found:
            return found
    return None


def known_words(text: str, vocabulary=None) -> tuple[int, int]:
    """``(known, total)``: how many of the words of ``text`` (letters of any script) the models read.

    A word is known when it is in ``vocabulary`` (a model's TF-IDF vocabulary) or is one of
    scikit-learn's English stop words (a vectorizer drops them, and "I" or "a" are too short for
    it); without a vocabulary, when it is made of the Latin letters A-Z only.

    >>> known_words("Ich habe ein Team geleitet", {"team", "ein"})
    (2, 5)
    >>> known_words("I led a team", {"team", "led"})
    (4, 4)
    >>> known_words("去年我带领一个团队。")
    (0, 1)
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w.lower() for w in _ANY_WORD.findall(text)]
    if vocabulary is None:
        known = sum(1 for w in words if re.fullmatch(r"[a-z']+", w))
    else:
        known = sum(1 for w in words if w in vocabulary or w.split("'")[0] in vocabulary or w in ENGLISH_STOP_WORDS)
    return known, len(words)


def language_note(text: str, vocabulary=None, *, min_share: float = MIN_KNOWN_SHARE) -> str | None:
    """A one-line caveat when the models recognise less than ``min_share`` of the words (else None).

    >>> language_note("Ich habe im letzten Jahr ein Team geleitet", {"team", "ein", "im"})
    'the models read English: they recognise 3 of the 8 words of this text (38 %); its traits and emotions mean little'
    """
    known, total = known_words(text, vocabulary)
    if total == 0 or known >= min_share * total:
        return None
    return (f"the models read English: they recognise {known} of the {total} words of this text "
            f"({100 * known / total:.0f} %); its traits and emotions mean little")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after ``.``, ``!``, ``?`` and at line breaks) that hold a letter.

    >>> split_sentences("I led it. Was it hard?! Yes\\n...")
    ['I led it.', 'Was it hard?!', 'Yes']
    """
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+|\n+", text)]
    return [p for p in parts if re.search(r"[A-Za-z]", p)]


def population_quantiles(population: pd.DataFrame) -> pd.DataFrame:
    """The 101 quantiles (0 %, 1 %, ..., 100 %) of each column of ``population``.

    Hazen's definition (``numpy.percentile(method="hazen")``): writer number ``i`` of
    ``n`` (sorted) sits at ``100 (i + 0.5) / n`` %, the percentile that
    ``scipy.stats.percentileofscore(kind="mean")`` gives it, so :func:`percentile_from_quantiles`
    agrees with the full population to within a percentile point.
    """
    population = pd.DataFrame(population)
    q = np.percentile(population.to_numpy(dtype=float), QUANTILE_LEVELS, axis=0, method="hazen")
    return pd.DataFrame(q, index=pd.Index(QUANTILE_LEVELS, name="percent"), columns=population.columns)


def percentile_from_quantiles(values, quantiles, levels=None) -> np.ndarray:
    """Percentile (0-100) of each value among a population known by its quantiles.

    ``percentileofscore(kind="mean")`` on a quantile grid: the mean of the share of the
    population strictly below the value and the share at or below it, each read off the
    grid by linear interpolation between neighbouring quantiles. A value below the
    smallest quantile is at 0, above the largest at 100; a value equal to a run of equal
    quantiles (ties) lands in the middle of the run. NaN stays NaN.

    >>> q = np.linspace(0.0, 1.0, 101)            # a uniform population on [0, 1]
    >>> percentile_from_quantiles([-1, 0.25, 0.5, 2], q).tolist()
    [0.0, 25.0, 50.0, 100.0]
    >>> ties = np.r_[np.zeros(51), np.linspace(0.02, 1, 50)]   # half the population at exactly 0
    >>> float(percentile_from_quantiles(0.0, ties)[0])
    25.0
    """
    q = np.asarray(quantiles, dtype=float)
    levels = np.linspace(0.0, 100.0, len(q)) if levels is None else np.asarray(levels, dtype=float)
    if q.ndim != 1 or len(q) < 2 or len(levels) != len(q):
        raise ValueError("quantiles must be a 1-D grid of at least 2 values, one per level")
    if np.any(np.diff(q) < 0):
        raise ValueError("quantiles must be sorted (non-decreasing)")
    x = np.atleast_1d(np.asarray(values, dtype=float))

    def share(side: str) -> np.ndarray:
        idx = np.searchsorted(q, x, side=side)   # "left": quantiles < x; "right": quantiles <= x
        i = np.clip(idx, 1, len(q) - 1)
        q0, q1 = q[i - 1], q[i]
        width = np.where(q1 > q0, q1 - q0, 1.0)
        frac = np.clip((x - q0) / width, 0.0, 1.0)
        out = levels[i - 1] + frac * (levels[i] - levels[i - 1])
        out = np.where(idx == 0, 0.0, out)
        return np.where(idx == len(q), 100.0, out)

    out = (share("left") + share("right")) / 2
    return np.where(np.isnan(x), np.nan, out)


def trait_model(C: float = 1.0):
    """TF-IDF of the raw words + one logistic regression per trait (binary, never a softmax over traits)."""
    from sklearn.linear_model import LogisticRegression

    from .bigfive import TraitClassifier, make_vectorizer

    return TraitClassifier(make_vectorizer("tfidf", min_df=2), LogisticRegression(C=C, solver="liblinear"))


def _texts(texts, where: str) -> list[str]:
    return [check_text(t, where=where) for t in ([texts] if isinstance(texts, str) else texts)]


def _info_json(info: dict) -> str:
    return json.dumps(info or {}, default=str)


# --------------------------------------------------------------------------- text emotion


class TextEmotionModel:
    """A text-emotion classifier (MELD's 7 emotions by default) behind the course's inference contract.

    Parameters
    ----------
    classifier : fitted scikit-learn classifier on raw texts (``predict_proba``, ``classes_``),
        e.g. :func:`~mmer_utils.text.emotion.tfidf_classifier`.
    labels : the emotions in column order (default: MELD's order when the classifier knows
        exactly MELD's 7 labels, else the classifier's own ``classes_`` order).
    info : free description (what it was trained on), saved with it.

    ``predict_proba(texts)`` -> ``(n, len(labels))``; ``analyse(text)`` -> a Series, one
    probability per label; ``sentences(text)`` -> one row per sentence; saved as one
    ``.skops`` file (:meth:`save`, :meth:`load`); :meth:`load_pretrained` is the course's
    shipped model (``text_emotion``).
    """

    def __init__(self, classifier, *, labels: Sequence[str] | None = None, info: dict | None = None):
        if getattr(classifier, "classes_", None) is None:
            raise ModelFileError("the text-emotion classifier has no classes_: fit it before wrapping it")
        classes = [str(c) for c in classifier.classes_]
        if labels is None:
            labels = list(MELD) if set(classes) == set(MELD) else classes
        labels = [str(c) for c in labels]
        missing = [c for c in labels if c not in classes]
        if missing or len(labels) != len(classes):
            raise ModelFileError(f"the text-emotion classifier's classes {classes} do not match the labels {labels}")
        self.classifier = classifier
        self.labels = labels
        self.info = dict(info or {})
        self._order = [classes.index(c) for c in labels]

    def __repr__(self) -> str:
        return f"TextEmotionModel({type(self.classifier).__name__}, labels={self.labels})"

    @property
    def classes_(self) -> np.ndarray:
        """The labels, as a scikit-learn classifier names its columns."""
        return np.asarray(self.labels, dtype=object)

    # -- training
    @classmethod
    def train(cls, meld: pd.DataFrame | None = None, *, quick: bool = False, limit: int | None = None,
              max_char_features: int | None = -1, seed: int = config.DEFAULT_SEED) -> "TextEmotionModel":
        """TF-IDF (words + characters) + logistic regression on MELD's training utterances.

        ``meld``: a frame with ``text`` and ``emotion`` (and ``split``: only ``train`` rows
        are used); default :func:`~mmer_utils.datasets.load_meld`. ``limit``: a stratified
        sample of that many utterances (``quick``: 3,000). ``max_char_features``: the
        character n-grams kept (default: none when quick, 200,000 otherwise).
        """
        from .emotion import tfidf_classifier

        if meld is None:
            from ..datasets import load_meld

            meld = load_meld(splits=("train",))
        elif "split" in meld.columns:
            meld = meld[meld["split"] == "train"]
        limit = 3000 if (quick and limit is None) else limit
        if limit is not None and limit < len(meld):
            meld = meld.groupby("emotion", group_keys=False).sample(frac=limit / len(meld), random_state=seed)
        if max_char_features == -1:
            max_char_features = None if quick else 200_000
        clf = tfidf_classifier(max_char_features=max_char_features).fit(meld["text"].tolist(),
                                                                         meld["emotion"].astype(str).tolist())
        chars = "words + characters" if max_char_features else "words"
        return cls(clf, info={"n_utterances": len(meld), "quick": quick,
                              "description": f"TF-IDF ({chars}) + logistic regression, MELD train "
                                             f"({len(meld)} utterances)"})

    # -- inference
    def predict_proba(self, texts) -> np.ndarray:
        """``(n, len(labels))`` probabilities of a list of texts (an empty text raises)."""
        texts = _texts(texts, "text")
        return np.asarray(self.classifier.predict_proba(texts), dtype=float)[:, self._order]

    def predict(self, texts) -> np.ndarray:
        """The most probable label of each text."""
        return np.asarray(self.labels, dtype=object)[self.predict_proba(texts).argmax(axis=1)]

    def analyse(self, text: str) -> pd.Series:
        """Probability of each label for one text (Series in ``labels`` order)."""
        return pd.Series(self.predict_proba([text])[0], index=self.labels, name="probability")

    def sentences(self, text: str) -> pd.DataFrame:
        """One row per sentence (:func:`split_sentences`; the whole text when it has none):
        ``sentence``, one column per label, ``emotion`` (the most probable)."""
        text = check_text(text, where="text")
        sentences = split_sentences(text) or [text.strip()]
        df = pd.DataFrame(self.predict_proba(sentences), columns=self.labels)
        df.insert(0, "sentence", sentences)
        df["emotion"] = df[self.labels].idxmax(axis=1)
        return df

    # -- persistence
    def save(self, path) -> Path:
        """Write one ``.skops`` file (classifier, labels, info); atomic."""
        return save_payload(path, EMOTION_KIND, {"classifier": self.classifier, "labels": list(self.labels),
                                                 "info_json": _info_json(self.info)})

    @classmethod
    def load(cls, path) -> "TextEmotionModel":
        """Load a file written by :meth:`save` (only trusted types: :func:`mmer_utils.persist.load_skops`)."""
        obj = load_payload(path, EMOTION_KIND)
        return cls(obj["classifier"], labels=obj["labels"], info=json.loads(obj.get("info_json") or "{}"))

    @classmethod
    def load_pretrained(cls) -> "TextEmotionModel":
        """The course's shipped text-emotion model: ``mmer_utils.models.load("text_emotion")``."""
        return load_shipped("text_emotion")


def _as_emotion_model(model):
    if model is None or isinstance(model, TextEmotionModel):
        return model
    return TextEmotionModel(model)


# --------------------------------------------------------------------------- answer model


@dataclass
class AnswerAnalysis:
    """What :meth:`TextAnswerModel.analyse` returns for one answer."""

    text: str
    n_words: int
    traits: pd.Series  # P(high) per trait code
    percentiles: pd.Series  # percentile of that probability among the population, 0-100
    most_visible_trait: str  # the trait code with the highest percentile
    words: list[tuple[str, int]]  # most common clean words
    emotions: pd.Series | None  # text-emotion distribution (MELD labels), None without an emotion model
    low_confidence: bool
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        name = TRAIT_NAMES[self.most_visible_trait]
        lines = [f"{self.n_words} words; most visible trait: {name} "
                 f"(percentile {self.percentiles[self.most_visible_trait]:.0f} among the population)"]
        if self.emotions is not None:
            lines.append(f"text emotion: {self.emotions.idxmax()} ({self.emotions.max():.0%})")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


class TextAnswerModel:
    """Big Five + population percentiles (+ text emotion) for new answers (see the module docstring).

    Parameters
    ----------
    traits_model : fitted estimator with ``predict_proba(texts) -> (n, 5)`` P(high) per trait.
    population : DataFrame (n_people, 5) of out-of-fold P(high), columns = trait codes; only
        its :func:`population_quantiles` are kept in a saved model. Or give ``quantiles``.
    emotion_model : a :class:`TextEmotionModel`, a fitted classifier on texts (wrapped in one), or None.
    quantiles : DataFrame or array (101, 5): the population's quantiles at :data:`QUANTILE_LEVELS`.
    n_population : how many writers the quantiles summarise (shown in plots).
    min_words : answers shorter than this are flagged ``low_confidence``.

    Attributes: ``labels`` (the trait codes: the columns of :meth:`predict_proba`),
    ``quantiles``, ``population`` (the full out-of-fold table after :meth:`train`, None
    after :meth:`load`).
    """

    def __init__(self, traits_model, population: pd.DataFrame | None = None, emotion_model=None, *,
                 quantiles=None, n_population: int | None = None, min_words: int = MIN_WORDS,
                 info: dict | None = None):
        codes = list(TRAIT_NAMES)
        self.traits_model = traits_model
        self.population = None if population is None else pd.DataFrame(population)[codes]
        if quantiles is None:
            if self.population is None:
                raise ValueError("TextAnswerModel needs the population's probabilities or their quantiles")
            quantiles = population_quantiles(self.population)
            n_population = len(self.population) if n_population is None else n_population
        q = (quantiles[codes].to_numpy(dtype=float) if isinstance(quantiles, pd.DataFrame)
             else np.asarray(quantiles, dtype=float))
        if q.shape != (len(QUANTILE_LEVELS), len(codes)):
            raise ValueError(f"quantiles must be ({len(QUANTILE_LEVELS)}, {len(codes)}), got {q.shape}")
        self.quantiles = pd.DataFrame(q, index=pd.Index(QUANTILE_LEVELS, name="percent"), columns=codes)
        self.n_population = None if n_population is None else int(n_population)
        self.emotion_model = _as_emotion_model(emotion_model)
        self.min_words = min_words
        self.info = dict(info or {})

    @property
    def labels(self) -> list[str]:
        """The trait codes, in the order of :meth:`predict_proba`'s columns."""
        return list(TRAIT_NAMES)

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, essays: pd.DataFrame | None = None, meld: pd.DataFrame | None = None, *, quick: bool = False,
              C: float = 1.0, cv: int = 5, seed: int = config.DEFAULT_SEED, emotion: bool = True) -> "TextAnswerModel":
        """Fit the bundle on the essays (and MELD's training split for emotion).

        ``quick`` uses 600 essays and 3,000 MELD utterances (seconds, for CI and Colab
        demos); the full bundle uses all of both. The population's probabilities are
        ``cv``-fold out-of-fold predictions of the same model on the same essays.
        """
        from sklearn.model_selection import KFold

        from ..datasets import load_essays
        from .bigfive import take

        essays = load_essays() if essays is None else essays
        if quick and len(essays) > 600:
            essays = essays.sample(600, random_state=seed)
        essays = essays.reset_index(drop=True)
        texts, Y = essays["text"].tolist(), essays[list(TRAIT_NAMES)].to_numpy()
        oof = np.zeros(Y.shape, dtype=float)
        for train, test in KFold(cv, shuffle=True, random_state=seed).split(texts):
            oof[test] = trait_model(C).fit(take(texts, train), Y[train]).predict_proba(take(texts, test))
        traits_model = trait_model(C).fit(texts, Y)
        emotion_model = TextEmotionModel.train(meld, quick=quick, seed=seed) if emotion else None
        info = {"quick": quick, "n_essays": len(texts), "C": C, "cv": cv,
                "traits": "TF-IDF + logistic regression per trait (essays)",
                "emotion": emotion_model.info["description"] if emotion else None}
        return cls(traits_model, pd.DataFrame(oof, columns=list(TRAIT_NAMES)), emotion_model, info=info)

    # ------------------------------------------------------------------ inference
    def predict_proba(self, texts) -> np.ndarray:
        """``(n, 5)`` P(high) per trait (columns in ``labels`` order) of a list of texts."""
        return np.asarray(self.traits_model.predict_proba(_texts(texts, "answer")), dtype=float)

    def trait_probabilities(self, texts) -> pd.DataFrame:
        """(n, 5) P(high) per trait for a list of texts (each checked: empty text raises)."""
        return pd.DataFrame(self.predict_proba(texts), columns=self.labels)

    @property
    def vocabulary(self) -> dict | None:
        """The words the Big Five model's TF-IDF knows (None when it has no vocabulary to show)."""
        return _find_vocabulary(self.traits_model)

    def percentiles(self, probabilities: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """Percentile (0-100) of each probability among the population, per trait
        (:func:`percentile_from_quantiles`: ties count half)."""
        P = pd.DataFrame([probabilities]) if isinstance(probabilities, pd.Series) else pd.DataFrame(probabilities)
        out = {code: percentile_from_quantiles(P[code].to_numpy(dtype=float), self.quantiles[code].to_numpy(),
                                               QUANTILE_LEVELS) for code in TRAIT_NAMES}
        return pd.DataFrame(out, index=P.index)

    def emotions(self, text: str) -> pd.Series | None:
        """The text-emotion distribution of ``text``, most probable first (None without an emotion model)."""
        if self.emotion_model is None:
            return None
        return self.emotion_model.analyse(text).sort_values(ascending=False)

    def analyse(self, text: str, *, n_words: int = 15) -> AnswerAnalysis:
        """The candidate view of one answer.

        Raises :class:`~mmer_utils.text.preprocess.EmptyTextError` on an empty or
        non-string answer. A short answer (fewer than ``min_words`` words) or one with
        no content words still gets an analysis, flagged ``low_confidence`` with a note.
        """
        text = check_text(text, where="answer")
        notes = []
        try:
            tokens = tokenize(text)
        except DataNotFoundError:  # no NLTK data (a fresh pip install, no data folder): plain words
            tokens = None
        words = [t for t in (tokens if tokens is not None else _plain_words(text)) if any(ch.isalnum() for ch in t)]
        if not words:
            raise EmptyTextError("answer has no words (only punctuation or symbols): nothing to analyse")
        low = len(words) < self.min_words
        language = language_note(text, self.vocabulary)
        if language:
            low = True
            notes.append(language)
        if len(words) < self.min_words:
            notes.append(f"only {len(words)} words (< {self.min_words}): the trait estimates are close to chance; "
                         "longer answers give more reliable estimates")
        clean, note = content_words(text)
        if note:
            notes.append(note)
        if not clean:
            low = True
            notes.append("no content words after removing stop words")
        counts = pd.Series(clean, dtype=object).value_counts() if clean else pd.Series(dtype=int)
        common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n_words]
        traits = self.trait_probabilities([text]).iloc[0]
        pct = self.percentiles(traits).iloc[0]
        return AnswerAnalysis(text=text, n_words=len(words), traits=traits, percentiles=pct,
                              most_visible_trait=most_visible_trait(pct), words=[(w, int(c)) for w, c in common],
                              emotions=self.emotions(text), low_confidence=low, notes=notes)

    # ------------------------------------------------------------------ plots
    def plot(self, analysis: AnswerAnalysis, *, axes=None):
        """Left: the population's P(high) per trait (violins of its 101 quantiles) with this answer
        marked; right: the text-emotion distribution. Returns the axes."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
        ax = axes[0]
        codes = list(TRAIT_NAMES)
        ax.violinplot([self.quantiles[c].to_numpy() for c in codes], showextrema=False)
        ax.scatter(np.arange(1, 6), analysis.traits[codes].to_numpy(), color="crimson", zorder=3,
                   label="this answer")
        for i, c in enumerate(codes, start=1):
            ax.annotate(f"p{analysis.percentiles[c]:.0f}", (i, analysis.traits[c]), textcoords="offset points",
                        xytext=(8, 0), va="center", fontsize=8)
        ax.set_xticks(range(1, 6), [TRAIT_NAMES[c] for c in codes], rotation=15)
        ax.set_ylabel("P(high)")
        others = f"{self.n_population} other writers" if self.n_population else "the other writers"
        ax.set_title(f"Big Five vs {others} (most visible: {TRAIT_NAMES[analysis.most_visible_trait]})", fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
        if analysis.emotions is not None:
            analysis.emotions.iloc[::-1].plot.barh(ax=axes[1], color="steelblue")
            axes[1].set_xlabel("probability")
            axes[1].set_title("text emotion (MELD labels)", fontsize=10)
        else:
            axes[1].set_axis_off()
        return axes

    # ------------------------------------------------------------------ persistence
    def save(self, path=None, *, emotion_path=None) -> Path:
        """Write the Big Five part to one ``.skops`` file (atomically); return its path.

        The file holds the traits model, the population's 101 quantiles per trait (not the
        writers' scores), ``min_words`` and ``info``. The text-emotion model is its own
        file: written to ``emotion_path`` when given (the course ships it apart, as
        ``text_emotion``). ``path=None``: the default bundle (:func:`default_model_path`),
        with the emotion model beside it (:func:`emotion_sibling`).
        """
        if path is None:
            path = default_model_path(bool(self.info.get("quick")))
            emotion_path = emotion_sibling(path) if emotion_path is None else emotion_path
        if emotion_path is not None and self.emotion_model is not None:
            self.emotion_model.save(emotion_path)
        return save_payload(path, ANSWER_KIND, {
            "traits_model": self.traits_model, "trait_codes": list(TRAIT_NAMES),
            "quantiles": self.quantiles.to_numpy(), "quantile_levels": np.asarray(QUANTILE_LEVELS),
            "n_population": -1 if self.n_population is None else int(self.n_population),
            "min_words": int(self.min_words), "info_json": _info_json(self.info)})

    @classmethod
    def load(cls, path, emotion_path=None) -> "TextAnswerModel":
        """Load a Big Five file written by :meth:`save`, and the text-emotion model of ``emotion_path`` if given.

        Only trusted types are read (:func:`mmer_utils.persist.load_skops`); an old
        ``.joblib`` bundle is refused (a pickle can run code when loaded): train it again.
        """
        path = Path(path)
        if not path.is_file():
            raise DataNotFoundError(f"no text model at {path}: build one with "
                                    "`python -m mmer_utils.text.predict train` (add --quick for a small one)")
        if path.suffix != ".skops":
            raise ModelFileError(f"text models are .skops files, got {path.name} (pickled .joblib bundles are no "
                                 "longer read: run `python -m mmer_utils.text.predict train` again)")
        obj = load_payload(path, ANSWER_KIND)
        if list(obj["trait_codes"]) != list(TRAIT_NAMES) or not np.allclose(obj["quantile_levels"], QUANTILE_LEVELS):
            raise ModelFileError(f"{path.name} has traits {list(obj['trait_codes'])} or quantile levels this "
                                 "package does not read")
        n = int(obj.get("n_population", -1))
        emotion = TextEmotionModel.load(emotion_path) if emotion_path is not None else None
        return cls(obj["traits_model"], emotion_model=emotion, quantiles=obj["quantiles"],
                   n_population=None if n < 0 else n, min_words=int(obj["min_words"]),
                   info=json.loads(obj.get("info_json") or "{}"))

    @classmethod
    def load_pretrained(cls, *, emotion: bool = True) -> "TextAnswerModel":
        """The course's shipped models: ``mmer_utils.models.load("bigfive")``, carrying
        ``load("text_emotion")`` as its emotion model (``emotion=False``: without it)."""
        model = load_shipped("bigfive")
        if emotion:
            model.emotion_model = _as_emotion_model(load_shipped("text_emotion"))
        return model

    @classmethod
    def load_default(cls, *, quick: bool | None = None) -> "TextAnswerModel":
        """The full bundle if it was trained, else the quick one (``quick=True/False`` insists on one).

        Its text-emotion model is loaded too when its file is beside it (:func:`emotion_sibling`).
        """
        candidates = [default_model_path(False), default_model_path(True)] if quick is None else [
            default_model_path(bool(quick))]
        for path in candidates:
            if path.is_file():
                sibling = emotion_sibling(path)
                return cls.load(path, emotion_path=sibling if sibling.is_file() else None)
        return cls.load(candidates[0])  # raises the one-line "how to build it" error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmer_utils.text.predict",
                                     description="Train or apply the text chapter's answer model.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="fit the bundle on the essays and MELD and save it")
    tr.add_argument("--quick", action="store_true", help="600 essays and 3,000 utterances (seconds)")
    tr.add_argument("--out", help=f"where to save it (default build/cache/models/{DEFAULT_NAME}; the emotion "
                                  "model goes beside it, as <name>_emotion.skops)")
    an = sub.add_parser("analyse", help="analyse one answer")
    an.add_argument("text", nargs="?", help="the answer (or use --file)")
    an.add_argument("--file", help="a UTF-8 text file with the answer")
    an.add_argument("--model", help="a saved bundle (default: the model shipped with the course, else the one "
                                    "`train` saved)")
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            model = TextAnswerModel.train(quick=args.quick)
            out = Path(args.out) if args.out else default_model_path(args.quick)
            print(f"wrote {model.save(out, emotion_path=emotion_sibling(out))}")
            return 0
        if bool(args.text) == bool(args.file):
            parser.error("give the answer as an argument or with --file (one of them)")
        text = read_text_file(args.file, what="answer file") if args.file else args.text
        if args.model:
            sibling = emotion_sibling(args.model)
            model = TextAnswerModel.load(args.model, emotion_path=sibling if sibling.is_file() else None)
        else:   # the model shipped with the course; without a model store, the one `train` built here
            try:
                model = TextAnswerModel.load_pretrained()
            except DataNotFoundError:
                model = TextAnswerModel.load_default()
        view = model.analyse(text)
        print(view.summary())
        table = pd.DataFrame({"P(high)": view.traits, "percentile": view.percentiles}).rename(index=TRAIT_NAMES)
        table.index.name = None   # no empty "trait" header row
        print(table.to_string(formatters={"P(high)": "{:.3f}".format, "percentile": "{:.0f}".format}))
        print("most common words:", ", ".join(f"{w} ({c})" for w, c in view.words[:10]))
        return 0
    except (MmerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
