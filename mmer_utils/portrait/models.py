"""The four chapter models behind the candidate portrait, trained, saved and loaded as one bundle.

=============  ==========================================  ==========================================
modality       model                                       trained on
=============  ==========================================  ==========================================
text emotion   TF-IDF words (+ characters) -> logistic     MELD train utterances (7 emotions)
               regression (:func:`~mmer_utils.text.emotion.tfidf_classifier`)
Big Five       TF-IDF -> one logistic regression per       the essays, minus the held-out ones
               trait (:class:`~mmer_utils.text.predict.TextAnswerModel`, with percentiles)
voice          clip features -> scaler -> RBF SVM with     RAVDESS speech, minus the held-out actors
               calibrated probabilities (audio chapter)
face           the video chapter's saved face model        FER2013 Training
               (``FaceEmotionModel.load_default()``), or
               HOG + linear SVM trained here
=============  ==========================================  ==========================================

``python -m mmer_utils.portrait train [--quick]`` calls :func:`train_models` and saves the
bundle under ``<cache>/models/portrait/{full,quick}/`` (``bundle.json`` + one file per model);
:func:`load_models` reads it back (the full bundle when there is one, else the quick one).

The data an interview demo is built from is kept out of training: the held-out RAVDESS
actors (default: 21-24, two men and two women), the held-out essays (30 fixed essays) and FER2013's
PrivateTest faces (the face model sees Training only). ``bundle.json`` records them.

>>> models = train_models(quick=True)                  # doctest: +SKIP
>>> models = load_models()                             # doctest: +SKIP
>>> models.traits("I love meeting new people and organising parties.")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import config
from ..errors import DataNotFoundError, MmerError
from ..labels import FER2013, MELD, RAVDESS

#: Bump when the bundle's files change meaning: an older bundle is then refused with a clear error.
BUNDLE_VERSION = 2  # 2: the Big Five model is a TextAnswerModel (percentiles)
#: The command that (re)trains the bundle, quoted by every "model missing" error.
TRAIN_COMMAND = "python -m mmer_utils.portrait train"
#: RAVDESS actors never heard by the voice model (the demo interviews use their voices).
HOLDOUT_ACTORS = (21, 22, 23, 24)
#: Number of essays never read by the Big Five model (the demo answers are excerpts of them).
N_HOLDOUT_ESSAYS = 30
#: Sliding window of the voice timeline (seconds): RAVDESS sentences last 1.5-2 s once trimmed.
VOICE_WINDOW, VOICE_HOP = 2.0, 1.0

#: Training sizes: quick = a smoke run in seconds, full = every training example.
SIZES = {
    True: {"meld": 1500, "essays": 300, "ravdess_clips": 240, "fer_per_class": 120},
    False: {"meld": None, "essays": None, "ravdess_clips": None, "fer_per_class": None},
}


class ModelsNotFoundError(DataNotFoundError):
    """No trained portrait bundle where one was expected."""


class PortraitModelError(MmerError, RuntimeError):
    """A model of the bundle cannot be used (incompatible bundle, missing video package...)."""


def default_models_dir(quick: bool = False) -> Path:
    """Where :func:`train_models` saves a bundle: ``<cache>/models/portrait/{full,quick}``."""
    return config.cache_dir("models", "portrait") / ("quick" if quick else "full")


# --------------------------------------------------------------------------- face


def _face_api():
    """The video chapter's inference API (contract C3), or a clear error when it is absent."""
    try:
        from ..video.predict import FaceEmotionModel
    except ImportError as exc:
        raise PortraitModelError(
            f"the face modality needs mmer_utils.video.predict.FaceEmotionModel ({exc}); "
            "update the package, or leave the video out (--video is optional)") from None
    return FaceEmotionModel


# --------------------------------------------------------------------------- the bundle


def _sentences(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+|\n+", text)]
    return [p for p in parts if re.search(r"[A-Za-z]", p)]


@dataclass
class PortraitModels:
    """The trained models of a portrait and what they were trained on.

    Any model may be None (a bundle trained with a modality left out): the portrait
    then refuses that modality with a clear error.
    """

    text_emotion: object = None
    bigfive: object = None
    voice: object = None
    face: object = None
    info: dict = field(default_factory=dict)
    path: Path | None = None

    # -- text
    def text_emotions(self, text: str) -> pd.DataFrame:
        """MELD emotion probabilities of each sentence of ``text`` (one row per sentence)."""
        self._need("text_emotion", "text emotion")
        sentences = _sentences(text) or [text.strip()]
        proba = self.text_emotion.predict_proba(sentences)
        classes = [str(c) for c in self.text_emotion.classes_]
        df = pd.DataFrame(np.asarray(proba)[:, [classes.index(c) for c in MELD]], columns=list(MELD))
        df.insert(0, "sentence", sentences)
        df["emotion"] = df[list(MELD)].idxmax(axis=1)
        return df

    def traits(self, text: str) -> pd.DataFrame:
        """Big Five of one text, one row per trait name: ``P(high)`` and ``percentile``.

        The percentile (0-100) places the answer among the essays' writers (out-of-fold
        probabilities of the same model: :class:`~mmer_utils.text.predict.TextAnswerModel`).
        """
        from ..text.predict import TRAIT_NAMES

        self._need("bigfive", "Big Five")
        proba = self.bigfive.trait_probabilities([text])
        pct = self.bigfive.percentiles(proba)
        names = [TRAIT_NAMES[c] for c in proba.columns]
        return pd.DataFrame({"P(high)": proba.iloc[0].to_numpy(), "percentile": pct.iloc[0].to_numpy()},
                            index=pd.Index(names, name="trait"))

    # -- voice
    def voice_windows(self, windows: np.ndarray, sr: int) -> np.ndarray:
        """RAVDESS probabilities ``(n, 8)`` of a batch of windows at ``sr`` (the stream's interface)."""
        from ..audio.features import clip_features

        self._need("voice", "voice")
        params = self.info.get("voice", {}).get("feature_params", {})
        X = np.stack([clip_features(w, sr, **params)[0] for w in windows])
        proba = self.voice.predict_proba(X)
        classes = [str(c) for c in self.voice.classes_]
        return np.asarray(proba)[:, [classes.index(c) for c in RAVDESS]]

    def voice_timeline(self, y, sr: int, *, window: float = VOICE_WINDOW, hop: float = VOICE_HOP) -> pd.DataFrame:
        """Voice emotions over time (see :func:`~mmer_utils.audio.stream.emotion_timeline`)."""
        from ..audio.io import SR, prepare_signal
        from ..audio.stream import emotion_timeline

        self._need("voice", "voice")
        y, sr = prepare_signal(y, sr, target_sr=SR, name="answer audio")
        return emotion_timeline(y, sr, lambda W: self.voice_windows(W, sr), labels=list(RAVDESS),
                                window=window, hop=hop)

    # -- face
    def face_timeline(self, path, *, every: int = 1, max_frames: int | None = None) -> pd.DataFrame:
        """Face emotions over time: contract C3's ``analyse_video`` (one row per frame and face)."""
        self._need("face", "face")
        return self.face.analyse_video(path, every=every, max_frames=max_frames)

    # -- bookkeeping
    @property
    def modalities(self) -> list[str]:
        """Which of ``text``, ``audio``, ``video`` this bundle can analyse."""
        out = []
        if self.text_emotion is not None or self.bigfive is not None:
            out.append("text")
        if self.voice is not None:
            out.append("audio")
        if self.face is not None:
            out.append("video")
        return out

    def describe(self) -> dict[str, str]:
        """One line per model: what it is and what it was trained on (shown in the report)."""
        return dict(self.info.get("descriptions", {}))

    def _need(self, attr: str, what: str) -> None:
        if getattr(self, attr) is None:
            where = self.path or "this bundle"
            raise ModelsNotFoundError(f"no {what} model in {where}: run `{TRAIN_COMMAND}`")

    def save(self, path) -> Path:
        """Write the bundle to folder ``path`` (replaced as a whole once complete)."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".portrait-", dir=path.parent))
        try:
            files = {}
            for name in ("text_emotion", "bigfive", "voice"):
                model = getattr(self, name)
                if model is not None:
                    joblib.dump(model, tmp / f"{name}.joblib", compress=3)
                    files[name] = f"{name}.joblib"
            face = self.info.get("face", {})
            if self.face is not None and face.get("kind") == "trained here":
                self.face.save(tmp / "face.joblib")  # the video chapter's format: classifier + settings
                files["face"] = "face.joblib"
            info = {**self.info, "files": files, "bundle_version": BUNDLE_VERSION}
            (tmp / "bundle.json").write_text(json.dumps(info, indent=2, default=str))
            # swap folders: a reader never sees half a bundle
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                path.rename(old)
            tmp.rename(path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = path
        return path


def load_models(path=None, *, face: bool = True) -> PortraitModels:
    """Load a bundle saved by :func:`train_models`.

    ``path=None``: the full bundle when there is one, else the quick one. ``face=False``
    skips the face model (and the video package). Missing bundle ->
    :class:`ModelsNotFoundError` naming the train command.
    """
    import joblib

    if path is None:
        candidates = [default_models_dir(quick=False), default_models_dir(quick=True)]
        path = next((p for p in candidates if (p / "bundle.json").is_file()), candidates[0])
    path = Path(path)
    meta = path / "bundle.json"
    if not meta.is_file():
        raise ModelsNotFoundError(f"no portrait models at {path}: run `{TRAIN_COMMAND}` "
                                  f"(add --quick for a small bundle trained in about a minute)")
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise ModelsNotFoundError(f"{meta} is unreadable ({exc}): run `{TRAIN_COMMAND}` again") from None
    if info.get("bundle_version") != BUNDLE_VERSION:
        raise PortraitModelError(f"the portrait bundle at {path} has version {info.get('bundle_version')}, "
                                 f"this package reads version {BUNDLE_VERSION}: run `{TRAIN_COMMAND}` again")
    files = info.get("files", {})
    models = PortraitModels(info=info, path=path)
    for name in ("text_emotion", "bigfive", "voice"):
        if name in files:
            file = path / files[name]
            if not file.is_file():
                raise ModelsNotFoundError(f"{file} is missing from the portrait bundle: run `{TRAIN_COMMAND}`")
            setattr(models, name, joblib.load(file))
    face_info = info.get("face", {})
    if face and face_info:
        models.face = _load_face(path, face_info, files)
    return models


def _load_face(path: Path, face_info: dict, files: dict):
    FaceEmotionModel = _face_api()
    if face_info.get("kind") == "trained here":
        return FaceEmotionModel.load(path / files["face"])
    model_file = Path(face_info["path"])
    if not model_file.is_file():
        raise ModelsNotFoundError(f"the face model {model_file} used by the portrait bundle is gone: "
                                  f"train it again (video chapter), or run `{TRAIN_COMMAND}`")
    return FaceEmotionModel.load(model_file)


# --------------------------------------------------------------------------- training


def holdout_essay_ids(essays: pd.DataFrame, n: int = N_HOLDOUT_ESSAYS) -> list[str]:
    """The author ids of the essays the Big Five model never reads (fixed: sorted ids, seed 0)."""
    ids = np.sort(essays["author_id"].astype(str).unique())
    return sorted(np.random.default_rng(0).choice(ids, size=min(n, len(ids)), replace=False).tolist())


def _train_text_emotion(quick: bool, seed: int, log) -> tuple[object, str]:
    from ..datasets import load_meld
    from ..text.emotion import tfidf_classifier

    df = load_meld(splits=("train",))
    n = SIZES[quick]["meld"]
    if n is not None and n < len(df):
        df = df.groupby("emotion", group_keys=False).sample(frac=n / len(df), random_state=seed)
    model = tfidf_classifier(max_char_features=None if quick else 200_000)
    model.fit(df["text"].tolist(), df["emotion"].to_numpy())
    log(f"text emotion: {len(df)} MELD train utterances")
    chars = "words" if quick else "words + characters"
    return model, f"TF-IDF ({chars}) + logistic regression, MELD train ({len(df)} utterances, 7 emotions)"


def _train_bigfive(quick: bool, seed: int, log) -> tuple[object, str, list[str]]:
    """The text chapter's answer model (TF-IDF + LR per trait, with its out-of-fold population)."""
    from ..datasets import load_essays
    from ..text.predict import TextAnswerModel

    essays = load_essays()
    held = holdout_essay_ids(essays)
    train = essays[~essays["author_id"].astype(str).isin(held)]
    n = SIZES[quick]["essays"]
    if n is not None and n < len(train):
        train = train.sample(n, random_state=seed)
    # quick=False: the subset above is the whole training set (TextAnswerModel's quick would resample it)
    model = TextAnswerModel.train(train.reset_index(drop=True), quick=False, seed=seed, emotion=False)
    log(f"Big Five: {len(train)} essays")
    return model, (f"TF-IDF + logistic regression per trait, essays ({len(train)} essays, "
                   f"{len(held)} held out; percentiles among their out-of-fold scores)"), held


def _train_voice(quick: bool, seed: int, holdout_actors: Sequence[int], log) -> tuple[object, str, dict]:
    from ..audio.baselines import make_svm
    from ..audio.features import extract_features
    from ..datasets import load_ravdess

    df = load_ravdess()
    df = df[~df["actor"].isin(list(holdout_actors))]
    n_clips = SIZES[quick]["ravdess_clips"]
    if n_clips is not None and n_clips < len(df):
        # a few clips of every actor, not every clip of a few: more voices generalise better
        # (240 clips: 54 % on actors 21-24 spread over 20 actors, 42 % from actors 1-4)
        per_actor = max(1, n_clips // df["actor"].nunique())
        df = df.groupby("actor", group_keys=False).sample(per_actor, random_state=seed)
    params: dict = {}
    X = extract_features(df["path"].tolist(), progress=False, **params)
    # C and gamma: the audio chapter's quick grid picks them in this range on the training actors
    model = make_svm("rbf", C=10.0, gamma="scale/3", seed=seed)
    model.fit(X, df["emotion"].to_numpy())
    log(f"voice: {len(df)} RAVDESS clips of {df['actor'].nunique()} actors")
    desc = (f"clip features (audio chapter) + RBF SVM with calibrated probabilities, RAVDESS speech "
            f"({len(df)} clips, {df['actor'].nunique()} actors; held out: {', '.join(map(str, holdout_actors))}), "
            f"applied to {VOICE_WINDOW:g} s windows every {VOICE_HOP:g} s")
    return model, desc, {"feature_params": params, "window": VOICE_WINDOW, "hop": VOICE_HOP,
                         "holdout_actors": list(holdout_actors)}


def _train_face(quick: bool, seed: int, face: str, log):
    """Returns (FaceEmotionModel, info dict, description) or (None, {}, reason)."""
    if face == "none":
        return None, {}, None
    FaceEmotionModel = _face_api()
    if face == "default" or (face == "auto" and not quick):
        try:
            model = FaceEmotionModel.load_default()
        except DataNotFoundError:
            if face == "default":
                raise
        else:
            from ..video.models import DEFAULT_MODEL_PATH

            log(f"face: the video chapter's model {DEFAULT_MODEL_PATH}")
            return model, {"kind": "video chapter", "path": str(DEFAULT_MODEL_PATH)}, \
                f"the video chapter's face model ({Path(DEFAULT_MODEL_PATH).name}), FER2013 Training"
    from ..video.baselines import hog_linear_svm
    from ..video.data import load_fer_arrays, to_model_input

    per_class = SIZES[quick]["fer_per_class"]
    X, y = load_fer_arrays("train", limit=None if per_class is None else per_class * len(FER2013), seed=seed)
    clf = hog_linear_svm(seed=seed).fit(to_model_input(X), y)
    log(f"face: HOG + linear SVM on {len(y)} FER2013 Training faces")
    model = FaceEmotionModel(clf)
    return model, {"kind": "trained here"}, \
        f"HOG + linear SVM (video chapter baseline, trained by the portrait), FER2013 Training ({len(y)} faces)"


def train_models(path=None, *, quick: bool = False, seed: int = config.DEFAULT_SEED,
                 holdout_actors: Sequence[int] = HOLDOUT_ACTORS, modalities: Sequence[str] = ("text", "audio", "video"),
                 face: str = "auto", save: bool = True, verbose: bool = True) -> PortraitModels:
    """Train the portrait's models and save them as one bundle.

    Parameters
    ----------
    path : folder of the bundle (default :func:`default_models_dir`).
    quick : small subsets (MELD 1,500 utterances, 300 essays, 240 RAVDESS clips, 840 faces): seconds,
        for tests and the notebook's quick mode; the report says when a quick bundle made it.
    holdout_actors : RAVDESS actors kept out of the voice model (demo interviews use them).
    modalities : which models to train (``text``, ``audio``, ``video``).
    face : ``"auto"`` (full: the video chapter's saved model when there is one, else a HOG +
        linear SVM trained here; quick: always the HOG + linear SVM), ``"default"`` (the saved model or an error),
        ``"hog"`` (always train here) or ``"none"``.
    """
    unknown = set(modalities) - {"text", "audio", "video"}
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}; expected text, audio, video")
    if face not in {"auto", "default", "hog", "none"}:
        raise ValueError(f"face must be 'auto', 'default', 'hog' or 'none', got {face!r}")
    from threadpoolctl import threadpool_limits

    # small dense steps (logistic regressions, kernels of a few hundred rows): a multi-threaded
    # BLAS only fights for the cores (10x slower on a busy 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_models(path, quick=quick, seed=seed, holdout_actors=holdout_actors, modalities=modalities,
                             face=face, save=save, verbose=verbose)


def _train_models(path, *, quick, seed, holdout_actors, modalities, face, save, verbose) -> PortraitModels:
    from ..datasets import ensure

    log = print if verbose else (lambda *_: None)
    config.set_seed(seed)
    started = time.perf_counter()
    models = PortraitModels()
    descriptions, info = {}, {}
    if "text" in modalities:
        ensure("meld")
        ensure("essays")
        models.text_emotion, descriptions["text emotion"] = _train_text_emotion(quick, seed, log)
        models.bigfive, descriptions["Big Five"], held = _train_bigfive(quick, seed, log)
        info["holdout_essays"] = held
    if "audio" in modalities:
        ensure("ravdess")
        models.voice, descriptions["voice"], info["voice"] = _train_voice(quick, seed, holdout_actors, log)
    if "video" in modalities and face != "none":
        ensure("fer2013")
        models.face, info["face"], descriptions["face"] = _train_face(quick, seed, face, log)
    info.update(quick=quick, seed=seed, descriptions=descriptions,
                trained=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                train_seconds=round(time.perf_counter() - started, 1),
                python=platform.python_version())
    models.info = info
    log(f"trained in {info['train_seconds']:.0f} s")
    if save:
        target = models.save(path or default_models_dir(quick))
        log(f"saved to {target}")
    return models
