"""One interview answer in, the candidate portrait out: what each model perceives, combined.

:func:`build_portrait` runs the chapter models of a :class:`~mmer_utils.portrait.models.PortraitModels`
bundle on the answer's text, audio and video (any of them may be left out) and returns a
:class:`Portrait`, the content of the source web app's report:

* **Big Five**: P(high) of each trait, its percentile among the essays' writers and the
  *most visible trait* (the highest percentile);
* **text emotion**: MELD probabilities of each sentence, their mean and the most frequent label;
* **most common words** after stop-word removal (the text chapter's cleaning pipeline);
* **voice emotions over time**: probabilities of 2 s windows every second, in the shared
  vocabulary (the voice model's RAVDESS labels mapped: *calm* counts as *neutral*);
* **face emotions over time**: shared-vocabulary probabilities of each analysed frame (one face
  per frame: the largest, an interview has one candidate); both timelines have the columns of
  :mod:`mmer_utils.timeline` (``time``, the seven emotions, ``emotion``, ``confidence``, then
  ``start``/``end`` or ``frame``, ``face``, ``x``, ``y``, ``w``, ``h``, ``score``);
* **most frequent emotion per modality**;
* **combined emotion estimate** in the shared vocabulary (:data:`mmer_utils.labels.SHARED`)
  and how much each modality agrees with it (see :func:`agreement_table`);
* **comparison with the other candidates** of a :class:`~mmer_utils.portrait.store.CandidateStore`
  (:func:`compare`): distributions and percentiles.

These are the outputs of models trained on actors (RAVDESS), posed faces (FER2013), TV
dialogue (MELD) and student essays: not validated psychometric measurements of a person.

>>> portrait = build_portrait(load_models(), text="I led a team of five...", audio="answer.wav")  # doctest: +SKIP
>>> portrait.most_visible_trait, portrait.combined.idxmax()                                      # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .. import labels
from ..errors import DataNotFoundError, MmerError, UnreadableFileError
from ..labels import MELD, SHARED
from ..timeline import speech_rows

#: The modalities of a portrait, with the label vocabulary of their distributions: the text keeps
#: MELD's labels, the voice and face timelines are already in the shared vocabulary.
MODALITIES = {"text": "meld", "voice": "shared", "face": "shared"}
#: Which input file feeds which modality.
INPUT_OF = {"text": "text", "voice": "audio", "face": "video"}


class PortraitInputError(MmerError, ValueError):
    """An interview input that cannot be analysed (empty answer, no input at all...).

    ``problems``: input (``text``, ``audio``, ``video``) -> its reason, when every given input was bad.
    """

    def __init__(self, message: str, problems: dict | None = None):
        super().__init__(message)
        self.problems = dict(problems or {})


# --------------------------------------------------------------------------- inputs


def read_answer(path) -> str:
    """Read a typed answer (UTF-8, else Windows-1252); missing, empty or binary files are one-line errors."""
    from ..text.predict import read_text_file

    return check_answer(read_text_file(path, what="text answer"), where=str(path))


def check_answer(text, *, where: str = "text answer") -> str:
    """The answer itself, or :class:`PortraitInputError` when it is empty or has no English words."""
    if not isinstance(text, str):
        raise PortraitInputError(f"{where} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise PortraitInputError(f"{where} is empty: write the answer (a few sentences) or leave the text out")
    if not re.search(r"[A-Za-z]{2,}", text):
        from ..text.predict import known_words

        _, total = known_words(text)
        if total:
            raise PortraitInputError(f"{where} has no English words to analyse: the models read English and "
                                     f"recognise none of its {total} word{'s' if total > 1 else ''}")
        raise PortraitInputError(f"{where} has no words to analyse")
    return text.strip()


def truncated_wav(path) -> tuple[float, float] | None:
    """``(announced, present)`` seconds of a WAV file cut short (its header announces more data than it holds), else None.

    Only RIFF/WAVE files are checked (other formats: None). A file cut by less than 1 % counts as whole.
    """
    import struct

    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size, rate, block = path.stat().st_size, None, None
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(length)
                    if len(fmt) < 16:
                        return None
                    rate, block = struct.unpack("<I", fmt[4:8])[0], struct.unpack("<H", fmt[12:14])[0]
                    fh.seek(length % 2, 1)
                elif cid == b"data":
                    if not rate or not block or length in (0, 0xFFFFFFFF):   # streamed WAV: size unknown
                        return None
                    present = size - fh.tell()
                    if present >= 0.99 * length:
                        return None
                    return length / block / rate, max(present, 0) / block / rate
                else:
                    fh.seek(length + length % 2, 1)
    except OSError:
        return None


def check_video(path) -> Path:
    """Check that ``path`` is a readable video with at least one frame."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"video {path} not found")
    if path.stat().st_size == 0:
        raise UnreadableFileError(f"video {path} is empty (0 bytes)")
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
    finally:
        cap.release()
    if not ok or frame is None:
        raise UnreadableFileError(f"{path} is not a readable video (OpenCV cannot decode a frame)")
    return path


# --------------------------------------------------------------------------- combination


def js_similarity(p, q) -> float:
    """1 - Jensen-Shannon divergence (base 2) of two distributions: 1 = identical, 0 = disjoint.

    >>> js_similarity([1, 0], [0, 1]), js_similarity([0.5, 0.5], [0.5, 0.5])
    (0.0, 1.0)
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))

    return float(np.clip(1.0 - (kl(p, m) + kl(q, m)) / 2, 0.0, 1.0))


def combine(probas: Mapping[str, np.ndarray], sources: Mapping[str, str],
            weights: Mapping[str, float] | None = None) -> pd.Series:
    """Late fusion of one answer's modalities in the shared vocabulary (:data:`SHARED`).

    ``probas``: modality -> its probability vector in its source's own label order;
    ``sources``: modality -> label source (``"meld"``, ``"ravdess"``, ``"fer2013"``...). The
    fusion chapter's :func:`~mmer_utils.fusion.combine_modalities` does the work: a weighted
    mean per shared class over the modalities that can express it (a class none can express
    gets 0), rescaled to sum to 1. Weights default to 1 per modality.

    >>> p = combine({"face": np.eye(7)[3], "voice": np.eye(8)[1]}, {"face": "fer2013", "voice": "ravdess"})
    >>> float(p["happy"]), float(p["neutral"])
    (0.5, 0.5)
    """
    from ..fusion import combine_modalities

    w = {m: float((weights or {}).get(m, 1.0)) for m in probas}
    out = combine_modalities({m: np.asarray(p, dtype=float)[None, :] for m, p in probas.items()},
                             {m: sources[m] for m in probas}, weights=w)
    return out.iloc[0].astype(float).rename("combined")


def agreement_table(shared: pd.DataFrame, combined: pd.Series) -> pd.DataFrame:
    """How much each modality backs the combined estimate.

    Columns: ``top`` (the modality's own most probable shared emotion), ``agrees`` (it is
    the combined top emotion), ``support`` (the probability the modality gives to the
    combined top emotion: 1 = fully behind it, 1/7 = no better than chance), and
    ``similarity`` (1 - Jensen-Shannon divergence between the modality's distribution and
    the combined one: agreement over the whole distribution, not only its top).
    """
    top = combined.idxmax()
    rows = {}
    for modality, row in shared.iterrows():
        rows[modality] = {"top": row.idxmax(), "agrees": bool(row.idxmax() == top),
                          "support": float(row[top]), "similarity": js_similarity(row.to_numpy(), combined.to_numpy())}
    return pd.DataFrame.from_dict(rows, orient="index")


def pairwise_similarity(shared: pd.DataFrame) -> pd.DataFrame:
    """Modality x modality Jensen-Shannon similarity (1 on the diagonal)."""
    names = list(shared.index)
    out = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            out.loc[a, b] = out.loc[b, a] = js_similarity(shared.loc[a], shared.loc[b])
    return out


# --------------------------------------------------------------------------- the portrait


@dataclass
class Comparison:
    """This candidate against the others of a store.

    ``table``: one row per score (``kind``, ``key``, ``value``, ``percentile``, ``n_others``);
    ``others``: kind -> the other candidates' scores (one row per candidate, one column per key).
    """

    n_others: int
    table: pd.DataFrame
    others: dict = field(default_factory=dict)


@dataclass
class Portrait:
    """Everything the report shows about one interview answer (see the module's docstring)."""

    name: str
    created: str
    inputs: dict
    models: dict
    quick_models: bool = False
    traits: pd.Series | None = None
    trait_percentiles: pd.Series | None = None
    text_emotions: pd.DataFrame | None = None
    words: list = field(default_factory=list)
    voice_timeline: pd.DataFrame | None = None
    face_timeline: pd.DataFrame | None = None
    face_frames: int = 0
    shared: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SHARED), dtype=float))
    source_probas: dict = field(default_factory=dict)
    combined: pd.Series | None = None
    agreement: pd.DataFrame | None = None
    similarity: pd.DataFrame | None = None
    notes: list = field(default_factory=list)
    comparison: Comparison | None = None
    #: input (``text``, ``audio``, ``video``) -> why it was given but left out (silent, no face, unreadable...)
    problems: dict = field(default_factory=dict)
    #: what the reader must know before trusting a number (a very short answer, a text not in English...)
    caveats: list = field(default_factory=list)

    @property
    def given(self) -> list[str]:
        """The inputs given (``text``, ``audio``, ``video``)."""
        return [k for k, v in self.inputs.items() if v is not None]

    @property
    def most_visible_trait(self) -> str | None:
        """The trait with the highest percentile among the essays' writers
        (:func:`mmer_utils.text.predict.most_visible_trait`; the highest P(high) when no
        percentiles are known)."""
        from ..text.predict import most_visible_trait

        if self.trait_percentiles is not None:
            return most_visible_trait(self.trait_percentiles)
        return None if self.traits is None else str(self.traits.idxmax())

    @property
    def text_emotion(self) -> pd.Series | None:
        """MELD probabilities of the whole answer: the mean over its sentences."""
        if self.text_emotions is None:
            return None
        return self.text_emotions[list(MELD)].mean().rename("probability")

    def most_frequent(self) -> pd.DataFrame:
        """Per modality: the most frequent emotion (over sentences, voice windows or face frames).

        Columns ``emotion`` (MELD's label for the text, a shared emotion for the voice and the
        face), ``shared`` (the shared-vocabulary name),
        ``share`` (fraction of sentences / speech windows / frames with that label), ``units``.
        """
        rows = {}
        parts = [("text", self.text_emotions, "emotion", "sentences", "meld"),
                 ("voice", _speech(self.voice_timeline), "emotion", "speech windows", "shared"),
                 ("face", self.face_timeline, "emotion", "frames", "shared")]
        for modality, df, column, units, source in parts:
            if df is None or df.empty:
                continue
            counts = df[column].value_counts()
            best = counts[counts == counts.max()].index
            if len(best) > 1:  # a tie: the label with the higher mean probability wins
                best = [max(best, key=lambda lab: df[lab].mean())]
            emotion = str(best[0])
            rows[modality] = {"emotion": emotion, "shared": labels.to_shared([emotion], source)[0],
                              "share": float(counts[emotion] / counts.sum()), "units": units}
        return pd.DataFrame.from_dict(rows, orient="index", columns=["emotion", "shared", "share", "units"])

    def scores(self) -> dict[str, dict[str, float]]:
        """The numbers kept in the candidates' store: kind -> {key: value}.

        Kinds: ``trait`` (P(high) per trait), ``text``/``voice``/``face`` (each modality's
        shared-vocabulary distribution) and ``combined``.
        """
        out: dict[str, dict[str, float]] = {}
        if self.traits is not None:
            out["trait"] = {k: float(v) for k, v in self.traits.items()}
        for modality, row in self.shared.iterrows():
            out[str(modality)] = {k: float(row[k]) for k in SHARED}
        if self.combined is not None:
            out["combined"] = {k: float(v) for k, v in self.combined.items()}
        return out

    def to_dict(self) -> dict:
        """A JSON-ready summary (no timelines: see the report's CSV files for those)."""
        mf = self.most_frequent()
        return {
            "name": self.name, "created": self.created, "inputs": self.inputs, "models": self.models,
            "quick_models": self.quick_models,
            "most_visible_trait": self.most_visible_trait,
            "traits": None if self.traits is None else self.traits.round(4).to_dict(),
            "trait_percentiles": (None if self.trait_percentiles is None
                                  else self.trait_percentiles.round(1).to_dict()),
            "text_emotion": None if self.text_emotion is None else self.text_emotion.round(4).to_dict(),
            "most_common_words": [[w, int(c)] for w, c in self.words],
            "most_frequent": mf.to_dict(orient="index"),
            "combined": None if self.combined is None else self.combined.round(4).to_dict(),
            "combined_emotion": None if self.combined is None else str(self.combined.idxmax()),
            "agreement": None if self.agreement is None else self.agreement.round(4).to_dict(orient="index"),
            "scores": self.scores(),
            "comparison": None if self.comparison is None else {
                "n_others": self.comparison.n_others,
                "percentiles": self.comparison.table.round(4).to_dict(orient="records")},
            "notes": list(self.notes),
            "problems": dict(self.problems),
            "caveats": list(self.caveats),
        }


def _speech(timeline: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if timeline is None else speech_rows(timeline)


def _one_face_per_frame(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or not {"frame", "w", "h"} <= set(df.columns):
        return df
    area = df["w"] * df["h"]
    keep = area.groupby(df["frame"]).idxmax()
    return df.loc[keep.to_numpy()].reset_index(drop=True)


def build_portrait(models, *, text: str | None = None, text_file=None, audio=None, video=None,
                   name: str = "candidate", weights: Mapping[str, float] | None = None,
                   voice_window: float | None = None, voice_hop: float | None = None, face_every: int = 2,
                   max_frames: int | None = None, n_words: int = 15) -> Portrait:
    """Run the bundle's models on one interview answer.

    Parameters
    ----------
    models : :class:`~mmer_utils.portrait.models.PortraitModels`
    text : the typed answer itself; or ``text_file``: a file holding it.
    audio : path of the answer's recording (WAV, FLAC, OGG, MP3...), or ``(y, sr)``.
    video : path of the answer's video.
    name : the candidate's name in the report and the store.
    weights : modality -> weight of its vote in the combined estimate (default: 1 each).
    voice_window, voice_hop : sliding window of the voice timeline (default: the bundle's, 2 s / 1 s).
    face_every : analyse one video frame in ``face_every``.
    max_frames : analyse at most this many frames.

    At least one input is needed. A missing, empty, silent or corrupt input, or a video with
    no face, is left out with its reason in ``portrait.problems`` (the report shows it) when
    another input is good; when none is, it is a one-line :class:`PortraitInputError` naming the
    file. Doubts about a good input (a very short answer, a text not in English, a WAV file cut
    short) are in ``portrait.caveats``.
    """
    from threadpoolctl import threadpool_limits

    # one thread per BLAS call: the models' small matrix products only slow down with more
    with threadpool_limits(limits=1, user_api="blas"):
        return _build_portrait(models, text=text, text_file=text_file, audio=audio, video=video, name=name,
                               weights=weights, voice_window=voice_window, voice_hop=voice_hop,
                               face_every=face_every, max_frames=max_frames, n_words=n_words)


def _check_inputs(answer_of, audio, video) -> tuple[dict, dict]:
    """Read and check each given input before any model runs: ``(ok, problems)`` by input name."""
    from ..audio.io import load_audio

    checks = {"text": answer_of, "audio": None if audio is None else (
        (lambda: audio) if isinstance(audio, tuple) else (lambda: load_audio(audio))),
        "video": None if video is None else (lambda: check_video(video))}
    ok, problems = {}, {}
    for key, check in checks.items():
        if check is None:
            continue
        try:
            ok[key] = check()
        except MmerError as exc:
            problems[key] = str(exc)
    return ok, problems


def _build_portrait(models, *, text, text_file, audio, video, name, weights, voice_window, voice_hop, face_every,
                    max_frames, n_words) -> Portrait:
    from ..text.predict import MIN_WORDS, known_words, language_note

    if text is not None and text_file is not None:
        raise PortraitInputError("give the answer as text= or as text_file=, not both")
    if text is None and text_file is None and audio is None and video is None:
        raise PortraitInputError("no input: give at least one of the text answer, the audio or the video")
    # read and check every input before running any model: a bad file fails fast, or, next to good
    # ones, is left out with its reason (the report shows it)
    answer_of = None
    if text_file is not None:
        answer_of = lambda: read_answer(text_file)            # noqa: E731
    elif text is not None:
        answer_of = lambda: check_answer(text)                 # noqa: E731
    ok, problems = _check_inputs(answer_of, audio, video)
    # the report says which file, not where it was on this machine (it may be mailed)
    for key, given in (("text", text_file), ("audio", audio), ("video", video)):
        if key in problems and given is not None and not isinstance(given, tuple):
            problems[key] = problems[key].replace(str(given), Path(given).name)
    if not ok:
        _nothing_left(problems)
    answer, signal = ok.get("text"), ok.get("audio")

    info = getattr(models, "info", {}) or {}
    portrait = Portrait(
        name=str(name), created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        inputs={"text": Path(text_file).name if text_file is not None else ("typed text" if text is not None else None),
                "audio": (None if audio is None else ("signal" if isinstance(audio, tuple) else Path(audio).name)),
                "video": None if video is None else Path(video).name},
        models={k: v for k, v in models.describe().items()
                if (k in ("text emotion", "Big Five") and answer is not None) or (k == "voice" and signal is not None)
                or (k == "face" and "video" in ok)},
        quick_models=bool(info.get("quick", False)))
    portrait.problems = problems
    dists: dict[str, np.ndarray] = {}

    if answer is not None:
        from ..text.predict import content_words
        from ..text.viz import most_common_words

        _, n_words_given = known_words(answer)
        if n_words_given < MIN_WORDS:
            portrait.caveats.append(
                f"text: only {n_words_given} word{'s' if n_words_given != 1 else ''} (fewer than {MIN_WORDS}): "
                "the trait estimates are close to chance and their percentiles mean little; "
                "a few sentences give more reliable estimates")
        language = language_note(answer, getattr(models.bigfive, "vocabulary", None))
        if language:
            portrait.caveats.append(f"text: {language}")
        traits = models.traits(answer)
        portrait.traits = traits["P(high)"].rename("P(high)")
        portrait.trait_percentiles = traits["percentile"].rename("percentile")
        portrait.text_emotions = models.text_emotions(answer)
        dists["text"] = portrait.text_emotion.to_numpy()
        # no lemmatising: WordNet takes 10 s to load and "most common words" reads fine without it
        tokens, note = content_words(answer, lemma=False)
        if note:
            portrait.notes.append(f"text: {note}")
        portrait.words = most_common_words([[t for t in tokens if len(t) > 1 and re.search("[a-z]", t)]], n=n_words)

    if signal is not None:
        if not isinstance(audio, tuple):
            cut = truncated_wav(audio)
            if cut is not None:
                portrait.caveats.append(
                    f"audio: {Path(audio).name} is cut short: its header announces {cut[0]:.1f} s but the file "
                    f"holds {cut[1]:.1f} s (an interrupted copy or recording?); only what is there was analysed")
        voice = info.get("voice", {})
        y, sr = signal
        timeline = models.voice_timeline(y, sr, window=voice_window or voice.get("window", 2.0),
                                         hop=voice_hop or voice.get("hop", 1.0))
        portrait.voice_timeline = timeline
        speech = _speech(timeline)
        if speech.empty:
            problems["audio"] = (f"every window of {portrait.inputs['audio']} is near silence: no speech heard, "
                                 "no voice emotion")
        else:
            dists["voice"] = speech[list(SHARED)].to_numpy().mean(axis=0)

    if "video" in ok:
        raw = models.face_timeline(video, every=face_every, max_frames=max_frames)
        portrait.notes += [f"face: {n}" for n in getattr(models.face, "notes", [])]
        # contract C3: attrs["n_frames"] = frames analysed, with or without a face
        analysed = int(raw.attrs.get("n_frames", 0) or 0)
        faces = _one_face_per_frame(raw)
        faces.attrs.update(raw.attrs)
        portrait.face_timeline, portrait.face_frames = faces, analysed
        if faces.empty:
            problems["video"] = (f"no face was found in the {analysed or 'analysed'} frames of {Path(video).name}: "
                                 "no face emotion (film the face from the front, in good light)")
        else:
            if raw["frame"].duplicated().any():
                portrait.notes.append("face: several faces in some frames; the largest one is analysed")
            if analysed and len(faces) < analysed:
                portrait.notes.append(f"face: a face was found in {len(faces)} of {analysed} analysed frames")
            dists["face"] = faces[list(SHARED)].to_numpy().mean(axis=0)

    if not dists and portrait.traits is None:
        _nothing_left(problems)
    if dists:
        # dists: each modality's mean distribution in its labels of MODALITIES (MELD; shared for voice and face)
        portrait.source_probas = {m: pd.Series(p, index=list(labels.vocabulary(MODALITIES[m])))
                                  for m, p in dists.items()}
        shared = pd.DataFrame({m: labels.to_shared_proba(p, MODALITIES[m]) for m, p in dists.items()},
                              index=list(SHARED)).T
        portrait.shared = shared
        portrait.combined = combine(dists, MODALITIES, weights=weights)
        portrait.agreement = agreement_table(shared, portrait.combined)
        portrait.similarity = pairwise_similarity(shared)
    for key in ("text", "audio", "video"):
        if portrait.inputs[key] is None:
            portrait.notes.append(f"{key}: not given")
        elif key in problems:
            portrait.notes.append(f"{key}: left out: {problems[key]}")
    return portrait


def _nothing_left(problems: dict) -> None:
    """Every given input was bad: one line with the reason of each."""
    if len(problems) == 1:
        raise PortraitInputError(next(iter(problems.values())), problems)
    raise PortraitInputError("nothing to analyse: " + "; ".join(f"{k}: {v}" for k, v in problems.items()), problems)


# --------------------------------------------------------------------------- comparison


def compare(portrait: Portrait, store, *, exclude_id: int | None = None) -> Comparison:
    """Percentile of each of the portrait's scores among the store's candidates.

    ``exclude_id``: a candidate id left out (the portrait itself, when already stored).
    The result is also kept in ``portrait.comparison``.
    """
    scores = portrait.scores()
    table = store.percentiles(scores, exclude_id=exclude_id)
    others = {kind: store.scores(kind, exclude_id=exclude_id) for kind in scores}
    n_others = store.count(exclude_id=exclude_id)
    portrait.comparison = Comparison(n_others=n_others, table=table, others=others)
    return portrait.comparison
