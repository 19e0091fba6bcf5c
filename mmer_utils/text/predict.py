"""The text chapter's inference API: one interview answer in, the candidate view out.

:class:`TextAnswerModel` bundles the chapter's Big Five model (TF-IDF + logistic
regression per trait, the best cheap model of ``01_text/03``), the MELD text-emotion
model (TF-IDF + logistic regression, ``01_text/04``) and a *population*: the essays'
**out-of-fold** trait probabilities (each essay scored by a model that never saw it),
so that a new answer is placed among the other candidates by percentile rather than
by raw probabilities, which cluster near the base rates.

>>> model = TextAnswerModel.train(quick=True)                      # doctest: +SKIP
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
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from ..atomic import atomic_path
from ..errors import DataNotFoundError, MmerError
from .preprocess import EmptyTextError, check_text, clean_tokens, tokenize

#: Trait codes (the essays' order) and names.
TRAIT_NAMES = {"EXT": "extraversion", "NEU": "neuroticism", "AGR": "agreeableness",
               "CON": "conscientiousness", "OPN": "openness"}
#: Below this many words an answer gets ``low_confidence=True`` (the essays average ~650 words).
MIN_WORDS = 50
#: Where :meth:`TextAnswerModel.load_default` looks (``train`` writes it).
DEFAULT_NAME = "text_answer.joblib"


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
    """``build/cache/models/text_answer.joblib`` (``text_answer_quick.joblib`` for the quick bundle)."""
    name = DEFAULT_NAME.replace(".joblib", "_quick.joblib") if quick else DEFAULT_NAME
    return config.cache_dir("models") / name


def _trait_model(C: float = 1.0):
    """TF-IDF of the raw words + one logistic regression per trait (binary, never a softmax over traits)."""
    from sklearn.linear_model import LogisticRegression

    from .bigfive import TraitClassifier, make_vectorizer

    return TraitClassifier(make_vectorizer("tfidf", min_df=2), LogisticRegression(C=C, solver="liblinear"))


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
    """Big Five + text emotion + population percentiles for new answers (see the module docstring).

    Parameters
    ----------
    traits_model : fitted estimator with ``predict_proba(texts) -> (n, 5)`` P(high) per trait.
    population : DataFrame (n_people, 5) of out-of-fold P(high), columns = trait codes.
    emotion_model : fitted classifier on texts with ``predict_proba`` and ``classes_``, or None.
    min_words : answers shorter than this are flagged ``low_confidence``.
    """

    def __init__(self, traits_model, population: pd.DataFrame, emotion_model=None, *, min_words: int = MIN_WORDS,
                 info: dict | None = None):
        self.traits_model = traits_model
        self.population = pd.DataFrame(population)[list(TRAIT_NAMES)]
        self.emotion_model = emotion_model
        self.min_words = min_words
        self.info = dict(info or {})

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

        from ..datasets import load_essays, load_meld
        from .bigfive import take
        from .emotion import tfidf_classifier

        essays = load_essays() if essays is None else essays
        if quick and len(essays) > 600:
            essays = essays.sample(600, random_state=seed)
        essays = essays.reset_index(drop=True)
        texts, Y = essays["text"].tolist(), essays[list(TRAIT_NAMES)].to_numpy()
        oof = np.zeros(Y.shape, dtype=float)
        for train, test in KFold(cv, shuffle=True, random_state=seed).split(texts):
            oof[test] = _trait_model(C).fit(take(texts, train), Y[train]).predict_proba(take(texts, test))
        traits_model = _trait_model(C).fit(texts, Y)
        emotion_model = None
        if emotion:
            meld = load_meld(splits=("train",)) if meld is None else meld[meld["split"] == "train"]
            if quick and len(meld) > 3000:
                meld = meld.sample(3000, random_state=seed)
            emotion_model = tfidf_classifier(max_char_features=None if quick else 200_000).fit(
                meld["text"].tolist(), meld["emotion"].tolist())
        info = {"quick": quick, "n_essays": len(texts), "C": C, "cv": cv,
                "traits": "TF-IDF + logistic regression per trait (essays)",
                "emotion": "TF-IDF + logistic regression (MELD train)" if emotion else None}
        return cls(traits_model, pd.DataFrame(oof, columns=list(TRAIT_NAMES)), emotion_model, info=info)

    # ------------------------------------------------------------------ inference
    def trait_probabilities(self, texts) -> pd.DataFrame:
        """(n, 5) P(high) per trait for a list of texts (each checked: empty text raises)."""
        texts = [check_text(t, where="answer") for t in ([texts] if isinstance(texts, str) else texts)]
        return pd.DataFrame(self.traits_model.predict_proba(texts), columns=list(TRAIT_NAMES))

    def percentiles(self, probabilities: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """Percentile (0-100) of each probability among the population, per trait (ties count half)."""
        P = pd.DataFrame([probabilities]) if isinstance(probabilities, pd.Series) else pd.DataFrame(probabilities)
        out = {}
        for code in TRAIT_NAMES:
            pop = np.sort(self.population[code].to_numpy())
            below = np.searchsorted(pop, P[code].to_numpy(), side="left")
            equal = np.searchsorted(pop, P[code].to_numpy(), side="right") - below
            out[code] = 100.0 * (below + 0.5 * equal) / len(pop)
        return pd.DataFrame(out, index=P.index)

    def emotions(self, text: str) -> pd.Series | None:
        if self.emotion_model is None:
            return None
        proba = self.emotion_model.predict_proba([check_text(text, where="answer")])[0]
        return pd.Series(proba, index=[str(c) for c in self.emotion_model.classes_]).sort_values(ascending=False)

    def analyse(self, text: str, *, n_words: int = 15) -> AnswerAnalysis:
        """The candidate view of one answer.

        Raises :class:`~mmer_utils.text.preprocess.EmptyTextError` on an empty or
        non-string answer. A short answer (fewer than ``min_words`` words) or one with
        no content words still gets an analysis, flagged ``low_confidence`` with a note.
        """
        text = check_text(text, where="answer")
        words = [t for t in tokenize(text) if any(ch.isalnum() for ch in t)]
        notes = []
        if not words:
            raise EmptyTextError("answer has no words (only punctuation or symbols): nothing to analyse")
        low = len(words) < self.min_words
        if low:
            notes.append(f"only {len(words)} words (< {self.min_words}): the trait estimates are close to chance; "
                         "longer answers give more reliable estimates")
        clean = clean_tokens(text)
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
        """Left: the population's P(high) per trait (violins) with this answer marked;
        right: the text-emotion distribution. Returns the axes."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
        ax = axes[0]
        codes = list(TRAIT_NAMES)
        ax.violinplot([self.population[c].to_numpy() for c in codes], showextrema=False)
        ax.scatter(np.arange(1, 6), analysis.traits[codes].to_numpy(), color="crimson", zorder=3,
                   label="this answer")
        for i, c in enumerate(codes, start=1):
            ax.annotate(f"p{analysis.percentiles[c]:.0f}", (i, analysis.traits[c]), textcoords="offset points",
                        xytext=(8, 0), va="center", fontsize=8)
        ax.set_xticks(range(1, 6), [TRAIT_NAMES[c] for c in codes], rotation=15)
        ax.set_ylabel("P(high)")
        ax.set_title(f"Big Five vs {len(self.population)} other writers (most visible: "
                     f"{TRAIT_NAMES[analysis.most_visible_trait]})", fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
        if analysis.emotions is not None:
            analysis.emotions.iloc[::-1].plot.barh(ax=axes[1], color="steelblue")
            axes[1].set_xlabel("probability")
            axes[1].set_title("text emotion (MELD labels)", fontsize=10)
        else:
            axes[1].set_axis_off()
        return axes

    # ------------------------------------------------------------------ persistence
    def save(self, path=None) -> Path:
        """Write the bundle with joblib (atomically: a half-written file never replaces a good one)."""
        import joblib

        path = Path(path) if path is not None else default_model_path(bool(self.info.get("quick")))
        with atomic_path(path) as tmp:
            joblib.dump(self, tmp)
        return path

    @classmethod
    def load(cls, path) -> "TextAnswerModel":
        import joblib

        path = Path(path)
        if not path.is_file():
            raise DataNotFoundError(f"no text model at {path}: build one with "
                                    "`python -m mmer_utils.text.predict train` (add --quick for a small one)")
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise MmerError(f"{path} does not hold a TextAnswerModel")
        return model

    @classmethod
    def load_default(cls, *, quick: bool | None = None) -> "TextAnswerModel":
        """The full bundle if it was trained, else the quick one (``quick=True/False`` insists on one)."""
        candidates = [default_model_path(False), default_model_path(True)] if quick is None else [
            default_model_path(bool(quick))]
        for path in candidates:
            if path.is_file():
                return cls.load(path)
        return cls.load(candidates[0])  # raises the one-line "how to build it" error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmer_utils.text.predict",
                                     description="Train or apply the text chapter's answer model.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="fit the bundle on the essays and MELD and save it")
    tr.add_argument("--quick", action="store_true", help="600 essays and 3,000 utterances (seconds)")
    tr.add_argument("--out", help=f"where to save it (default build/cache/models/{DEFAULT_NAME})")
    an = sub.add_parser("analyse", help="analyse one answer")
    an.add_argument("text", nargs="?", help="the answer (or use --file)")
    an.add_argument("--file", help="a UTF-8 text file with the answer")
    an.add_argument("--model", help="a saved bundle (default: the trained default)")
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            model = TextAnswerModel.train(quick=args.quick)
            print(f"wrote {model.save(args.out)}")
            return 0
        if bool(args.text) == bool(args.file):
            parser.error("give the answer as an argument or with --file (one of them)")
        text = Path(args.file).read_text(encoding="utf-8") if args.file else args.text
        model = TextAnswerModel.load(args.model) if args.model else TextAnswerModel.load_default()
        view = model.analyse(text)
        print(view.summary())
        table = pd.DataFrame({"P(high)": view.traits, "percentile": view.percentiles}).rename(index=TRAIT_NAMES)
        print(table.round(3).to_string())
        print("most common words:", ", ".join(f"{w} ({c})" for w, c in view.words[:10]))
        return 0
    except (MmerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
