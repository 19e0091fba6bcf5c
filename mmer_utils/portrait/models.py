"""The chapter models behind the candidate portrait: the shipped ones, or a bundle trained here.

=============  ==========================================  ==========================================
modality       model (its inference API)                   shipped / trained here on
=============  ==========================================  ==========================================
Big Five       TF-IDF -> one logistic regression per       the essays (trained here: minus the
               trait, with percentiles                     held-out ones)
               (:class:`~mmer_utils.text.predict.TextAnswerModel`)
text emotion   TF-IDF -> logistic regression, carried by   MELD train utterances (7 emotions)
               the TextAnswerModel
               (:class:`~mmer_utils.text.predict.TextEmotionModel`)
voice          shipped: the voice chapter's best model     RAVDESS speech (trained here: minus the
               (its card); trained here: clip features     held-out actors)
               -> scaler -> SVM (:class:`~mmer_utils.
               audio.predict.AudioEmotionModel`)
face           :class:`~mmer_utils.video.predict.          FER2013 Training
               FaceEmotionModel`: the shipped CNN, the
               video chapter's saved model, or HOG +
               linear SVM trained here
=============  ==========================================  ==========================================

:func:`load_models` with no path loads the **models shipped with the course** through the
model store (:func:`mmer_utils.models.load`: each file's SHA-256 is checked, and the files are
``.keras`` / ``.skops``, which run no code when loaded): no training is needed. Retraining is
still possible: ``python -m mmer_utils.portrait train [--quick]`` calls :func:`train_models` and
saves a bundle under ``<cache>/models/portrait/{full,quick}/`` (``bundle.json`` + one safe file
per model); ``load_models(path)`` (or ``--models PATH``) reads it back.

The portrait calls the models' shared verbs only: ``TextAnswerModel.predict_proba`` /
``percentiles``, ``TextEmotionModel.sentences``, ``AudioEmotionModel.timeline`` and
``FaceEmotionModel.timeline`` (the voice and face timelines have the same columns: see
:mod:`mmer_utils.timeline`).

The data a demo interview is built from is kept out of a bundle trained here: the held-out
RAVDESS actors (default: 21-24, two men and two women), the held-out essays (30 fixed essays)
and FER2013's PrivateTest faces (the face model sees Training only). ``bundle.json`` records
them. The shipped models may have been trained on every actor and essay: their cards
(``mmer_utils.models.info(name)``) say on what.

>>> models = load_models()                             # doctest: +SKIP
>>> models = train_models(quick=True)                  # doctest: +SKIP
>>> models.traits("I love meeting new people and organising parties.")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
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
from ..labels import FER2013, MELD

#: Bump when the bundle's files change meaning: an older bundle is then refused with a clear error.
BUNDLE_VERSION = 3  # 3: safe files (.skops / .keras), the models' shared inference API
#: The command that (re)trains the bundle, quoted by every "model missing" error.
TRAIN_COMMAND = "python -m mmer_utils.portrait train"
#: RAVDESS actors never heard by the voice model (the demo interviews use their voices).
HOLDOUT_ACTORS = (21, 22, 23, 24)
#: Number of essays never read by the Big Five model (the demo answers are excerpts of them).
N_HOLDOUT_ESSAYS = 30
#: Sliding window of the voice timeline (seconds): RAVDESS sentences last 1.5-2 s once trimmed.
VOICE_WINDOW, VOICE_HOP = 2.0, 1.0
#: The shipped models (names of :mod:`mmer_utils.models`) that :func:`load_models` uses, by role.
SHIPPED = {"bigfive": "bigfive", "text_emotion": "text_emotion", "voice": "voice_emotion", "face": "face_emotion"}
#: The keys of :meth:`PortraitModels.describe` (the report's "models" list), by role.
DESCRIPTION_KEYS = {"bigfive": "Big Five", "text_emotion": "text emotion", "voice": "voice", "face": "face"}

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
    """The video chapter's inference API, or a clear error when it is absent."""
    try:
        from ..video.predict import FaceEmotionModel
    except ImportError as exc:
        raise PortraitModelError(
            f"the face modality needs mmer_utils.video.predict.FaceEmotionModel ({exc}); "
            "update the package, or leave the video out (--video is optional)") from None
    return FaceEmotionModel


# --------------------------------------------------------------------------- the bundle


@dataclass
class PortraitModels:
    """The models of a portrait and what they were trained on.

    ``text``: a :class:`~mmer_utils.text.predict.TextAnswerModel` (Big Five and
    percentiles) carrying the text-emotion model (its ``emotion_model``, a
    :class:`~mmer_utils.text.predict.TextEmotionModel`); ``voice``: an
    :class:`~mmer_utils.audio.predict.AudioEmotionModel`; ``face``: a
    :class:`~mmer_utils.video.predict.FaceEmotionModel`. Any may be None (a modality
    left out): the portrait then refuses that modality with a clear error.
    """

    text: object = None
    voice: object = None
    face: object = None
    info: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def bigfive(self):
        """The Big Five model (the :class:`~mmer_utils.text.predict.TextAnswerModel`), or None."""
        return self.text

    @property
    def text_emotion(self):
        """The text-emotion model the TextAnswerModel carries, or None."""
        return None if self.text is None else getattr(self.text, "emotion_model", None)

    # -- text
    def text_emotions(self, text: str) -> pd.DataFrame:
        """MELD emotion probabilities of each sentence of ``text`` (one row per sentence):
        ``sentence``, the 7 MELD labels, ``emotion``."""
        self._need("text_emotion", "text emotion")
        model = self.text_emotion
        if set(model.labels) != set(MELD):
            raise PortraitModelError(f"the portrait's text-emotion model must have MELD's labels, has {model.labels}")
        return model.sentences(text)[["sentence", *MELD, "emotion"]]

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
    def voice_timeline(self, y, sr: int, *, window: float = VOICE_WINDOW, hop: float = VOICE_HOP) -> pd.DataFrame:
        """Voice emotions over time in the shared vocabulary: ``AudioEmotionModel.timeline``
        (columns of :mod:`mmer_utils.timeline`, then ``start``, ``end``)."""
        from ..audio.io import prepare_signal

        self._need("voice", "voice")
        y, sr = prepare_signal(y, sr, target_sr=self.voice.sr, name="answer audio")
        return self.voice.timeline(y, sr, window=window, hop=hop)

    # -- face
    def face_timeline(self, path, *, every: int = 1, max_frames: int | None = None) -> pd.DataFrame:
        """Face emotions over time in the shared vocabulary: ``FaceEmotionModel.timeline``
        (one row per frame and face; the columns of :mod:`mmer_utils.timeline`, then the face's)."""
        self._need("face", "face")
        return self.face.timeline(path, every=every, max_frames=max_frames)

    # -- bookkeeping
    @property
    def modalities(self) -> list[str]:
        """Which of ``text``, ``audio``, ``video`` these models can analyse."""
        out = []
        if self.text is not None:
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
            where = self.path or ("the shipped models" if self.info.get("shipped") else "this bundle")
            raise ModelsNotFoundError(f"no {what} model in {where}: run `{TRAIN_COMMAND}`")

    def save(self, path) -> Path:
        """Write the bundle to folder ``path`` (replaced as a whole once complete): ``bundle.json``
        and one safe file per model (``bigfive.skops``, ``text_emotion.skops``, ``voice.skops`` or
        ``.keras``, and ``face.skops`` or ``.keras`` for a face model trained here)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".portrait-", dir=path.parent))
        try:
            files = {}
            if self.text is not None:
                files["bigfive"] = "bigfive.skops"
                emotion = "text_emotion.skops" if self.text_emotion is not None else None
                self.text.save(tmp / files["bigfive"], emotion_path=None if emotion is None else tmp / emotion)
                if emotion:
                    files["text_emotion"] = emotion
            if self.voice is not None:
                files["voice"] = "voice.keras" if self.voice.kind == "logmel" else "voice.skops"
                self.voice.save(tmp / files["voice"])
            if self.face is not None and self.info.get("face", {}).get("kind") == "trained here":
                from ..training import KerasEstimator

                files["face"] = "face.keras" if isinstance(self.face.classifier, KerasEstimator) else "face.skops"
                self.face.save(tmp / files["face"])
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


def shipped_models(*, face: bool = True) -> PortraitModels | None:
    """The models shipped with the course (:data:`SHIPPED`, loaded with :func:`mmer_utils.models.load`).

    None when the model store is absent or ships none of them; a shipped file that is
    missing or altered is the store's one-line error. A role the store does not ship is
    left None (its modality is then refused with a clear error).
    """
    try:
        from .. import models as store
    except ImportError:
        return None
    try:
        available = set(store.list_models())
    except (MmerError, OSError, ValueError):
        return None
    roles = [r for r in SHIPPED if face or r != "face"]
    if not any(SHIPPED[r] in available for r in roles):
        return None
    loaded, descriptions = {}, {}
    for role in roles:
        name = SHIPPED[role]
        if name not in available:
            continue
        loaded[role] = store.load(name)
        try:
            card = store.info(name)
            text = f"{card.get('title', name)}; {card.get('training_data', '')}"
            descriptions[DESCRIPTION_KEYS[role]] = text.strip("; ")
        except (MmerError, AttributeError, KeyError):
            descriptions[DESCRIPTION_KEYS[role]] = f"shipped model {name!r}"
    text = loaded.get("bigfive")
    if text is not None and loaded.get("text_emotion") is not None:
        text.emotion_model = loaded["text_emotion"]
    info = {"shipped": True, "quick": False, "models": {r: SHIPPED[r] for r in loaded}, "descriptions": descriptions,
            "voice": {"window": VOICE_WINDOW, "hop": VOICE_HOP}}
    return PortraitModels(text=text, voice=loaded.get("voice"), face=loaded.get("face"), info=info)


def load_models(path=None, *, face: bool = True) -> PortraitModels:
    """The portrait's models: the shipped ones (``path=None``) or a bundle saved by :func:`train_models`.

    ``path=None``: the models shipped with the course (:func:`shipped_models`); when none is
    shipped, a bundle trained here (the full one, else the quick one). ``face=False`` skips
    the face model (and the video package). Nothing found -> :class:`ModelsNotFoundError`
    naming the train command.
    """
    if path is None:
        shipped = shipped_models(face=face)
        if shipped is not None:
            return shipped
        candidates = [default_models_dir(quick=False), default_models_dir(quick=True)]
        path = next((p for p in candidates if (p / "bundle.json").is_file()), None)
        if path is None:
            raise ModelsNotFoundError(f"no shipped models (mmer_utils.models) and no trained bundle in "
                                      f"{candidates[0].parent}: run `{TRAIN_COMMAND}` (add --quick for a small one)")
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

    def file(name: str) -> Path:
        f = path / files[name]
        if not f.is_file():
            raise ModelsNotFoundError(f"{f} is missing from the portrait bundle: run `{TRAIN_COMMAND}`")
        return f

    models = PortraitModels(info=info, path=path)
    if "bigfive" in files:
        from ..text.predict import TextAnswerModel

        models.text = TextAnswerModel.load(file("bigfive"),
                                           emotion_path=file("text_emotion") if "text_emotion" in files else None)
    if "voice" in files:
        from ..audio.predict import AudioEmotionModel

        models.voice = AudioEmotionModel.load(file("voice"))
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
    """The text chapter's MELD model (:class:`~mmer_utils.text.predict.TextEmotionModel`)."""
    from ..text.predict import TextEmotionModel

    model = TextEmotionModel.train(quick=quick, limit=SIZES[quick]["meld"], seed=seed)
    n = model.info["n_utterances"]
    log(f"text emotion: {n} MELD train utterances")
    chars = "words" if quick else "words + characters"
    return model, f"TF-IDF ({chars}) + logistic regression, MELD train ({n} utterances, 7 emotions)"


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
    """Clip features + RBF SVM (the audio chapter's classic model), as a classic
    :class:`~mmer_utils.audio.predict.AudioEmotionModel`."""
    from ..estimators import make_svm
    from ..audio.features import extract_features
    from ..audio.predict import AudioEmotionModel
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
    pipe = make_svm("rbf", C=10.0, gamma="scale/3", seed=seed)
    pipe.fit(X, df["emotion"].to_numpy())
    log(f"voice: {len(df)} RAVDESS clips of {df['actor'].nunique()} actors")
    desc = (f"clip features (audio chapter) + RBF SVM with calibrated probabilities, RAVDESS speech "
            f"({len(df)} clips, {df['actor'].nunique()} actors; held out: {', '.join(map(str, holdout_actors))}), "
            f"applied to {VOICE_WINDOW:g} s windows every {VOICE_HOP:g} s")
    model = AudioEmotionModel.classic(pipe, feature_params=params, info={"description": desc})
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
        emotion, descriptions["text emotion"] = _train_text_emotion(quick, seed, log)
        models.text, descriptions["Big Five"], held = _train_bigfive(quick, seed, log)
        models.text.emotion_model = emotion
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
