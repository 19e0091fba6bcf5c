"""Interview answers made of real data, for tests, the notebook and trying the command line.

Nobody in the course's data sets answered an interview question, so a demo answer is
assembled from real pieces the portrait's models never trained on:

* **text**: the opening words of one of the held-out essays (a typed answer);
* **audio**: RAVDESS sentences of one held-out actor (21 to 24; default 24) joined with short pauses;
* **video**: FER2013 PrivateTest faces, one per second, pasted on a background
  (:func:`mmer_utils.video.synth.make_face_video`).

The emotions of the audio and video parts are chosen (``emotions``, shared vocabulary), so
the timelines can be checked against what was put in.

>>> paths = make_demo_interview("build/demo", emotions=("happy", "happy", "neutral"))   # doctest: +SKIP
>>> sorted(paths)                                                                     # doctest: +SKIP
['audio', 'text', 'truth', 'video']
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..labels import SHARED, TO_SHARED
from .models import HOLDOUT_ACTORS, holdout_essay_ids


def from_shared(emotion: str, source: str) -> str:
    """The first label of ``source`` that maps to the shared ``emotion`` (``fear`` -> RAVDESS ``fearful``)."""
    for name, shared in TO_SHARED[source].items():
        if shared == emotion:
            return name
    raise ValueError(f"{source} has no label for the shared emotion {emotion!r}")


def demo_text(essay: int = 0, *, n_words: int = 120) -> str:
    """The first ``n_words`` words of held-out essay number ``essay`` (0 to 29)."""
    from ..datasets import load_essays

    essays = load_essays()
    held = holdout_essay_ids(essays)
    author = held[essay % len(held)]
    text = essays.loc[essays["author_id"].astype(str) == author, "text"].iloc[0]
    words = str(text).split()
    excerpt = " ".join(words[:n_words])
    return excerpt if excerpt.endswith((".", "!", "?")) else excerpt + "."


def demo_audio(emotions: Sequence[str], *, actor: int = HOLDOUT_ACTORS[-1], pause: float = 0.5,
               seed: int = 0) -> tuple[np.ndarray, int, pd.DataFrame]:
    """RAVDESS sentences of ``actor``, one per emotion in ``emotions`` (shared names), joined.

    Returns ``(signal, sr, truth)`` with ``truth`` = start, end, label (RAVDESS) of each sentence.
    """
    from ..audio.io import SR, load_audio
    from ..datasets import load_ravdess

    df = load_ravdess()
    df = df[df["actor"] == actor]
    if df.empty:
        raise ValueError(f"RAVDESS has no actor {actor}")
    rng = np.random.default_rng(seed)
    gap = np.zeros(int(pause * SR), np.float32)
    pieces, rows, t = [], [], 0.0
    for emotion in emotions:
        label = from_shared(emotion, "ravdess")
        pool = df[df["emotion"] == label]
        clip = pool.iloc[int(rng.integers(len(pool)))]
        y, _ = load_audio(clip["path"], sr=SR)
        rows.append({"start": t, "end": t + len(y) / SR, "label": label})
        pieces += [y, gap]
        t += (len(y) + len(gap)) / SR
    return np.concatenate(pieces), SR, pd.DataFrame(rows)


def make_demo_interview(folder, *, emotions: Sequence[str] = ("happy", "neutral", "happy", "surprise", "happy", "sad"),
                        essay: int = 0, actor: int = HOLDOUT_ACTORS[-1], n_words: int = 120, seed: int = 0,
                        parts: Sequence[str] = ("text", "audio", "video")) -> dict:
    """Write ``answer.txt``, ``answer.wav`` and ``answer.mp4`` into ``folder``; return their paths.

    ``emotions`` (shared vocabulary) are the emotions of the voice sentences and of the faces
    (one face per second); ``truth`` in the result lists them.
    """
    import soundfile as sf

    unknown = set(emotions) - set(SHARED)
    if unknown:
        raise ValueError(f"unknown emotions {sorted(unknown)}; use the shared vocabulary {SHARED}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict = {"truth": {"emotions": list(emotions), "essay": essay, "actor": actor}}
    if "text" in parts:
        path = folder / "answer.txt"
        path.write_text(demo_text(essay, n_words=n_words), encoding="utf-8")
        out["text"] = path
    if "audio" in parts:
        y, sr, truth = demo_audio(emotions, actor=actor, seed=seed)
        path = folder / "answer.wav"
        sf.write(path, y, sr, subtype="PCM_16")
        out["audio"] = path
        out["truth"]["voice"] = truth
    if "video" in parts:
        from ..video.synth import make_face_video, sample_fer_faces

        faces, names = sample_fer_faces(len(emotions), split="test", seed=seed,
                                        emotions=[from_shared(e, "fer2013") for e in emotions])
        out["video"] = make_face_video(folder / "answer.mp4", faces, fps=10, seconds_per_face=1.0, seed=seed)
        out["truth"]["faces"] = names
    return out
