"""One timeline format for the voice and the face: emotions over time in the shared vocabulary.

:meth:`AudioEmotionModel.timeline <mmer_utils.audio.predict.AudioEmotionModel.timeline>` and
:meth:`FaceEmotionModel.timeline <mmer_utils.video.predict.FaceEmotionModel.timeline>` both
return a DataFrame that starts with the same columns (:data:`TIMELINE_COLUMNS`):

==============  ==================================================================
``time``        seconds from the start: the centre of a voice window, the time of
                a video frame
``angry`` ...   one probability per emotion of :data:`mmer_utils.labels.SHARED`
``neutral``     (the model's own labels mapped with
                :func:`mmer_utils.labels.to_shared_proba`: RAVDESS *calm* adds to
                *neutral*, FER2013 maps one to one); rows sum to 1
``emotion``     the most probable shared emotion; ``"silence"`` for a voice window
                too quiet to be sent to the model (its probabilities are NaN)
``confidence``  the probability of ``emotion`` (NaN for silence)
==============  ==================================================================

then the modality's own columns: ``start``, ``end`` (seconds) for a voice window;
``frame``, ``face`` (a track id), ``x``, ``y``, ``w``, ``h``, ``score`` for a face (a
video frame without a face gives no row; a frame with two faces gives two). ``attrs``
keeps what the modality measured (voice: ``rtf``, ``seconds``, ``audio_seconds``;
face: ``fps``, ``n_frames``) and ``labels``, the model's own labels.

The models' native timelines (the model's own labels, e.g. RAVDESS *calm* apart from
*neutral*) stay available: ``AudioEmotionModel.native_timeline`` and
``FaceEmotionModel.analyse_video``.

>>> import numpy as np
>>> tl = shared_timeline([1.0, 2.0], np.array([[0.2, 0.8], [np.nan, np.nan]]), ["angry", "calm"])
>>> tl[["time", "neutral", "emotion"]].to_dict("list")
{'time': [1.0, 2.0], 'neutral': [0.8, nan], 'emotion': ['neutral', 'silence']}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .labels import SHARED, shared_proba

#: The first columns of every voice and face timeline, in order.
TIMELINE_COLUMNS = ("time", *SHARED, "emotion", "confidence")
#: The ``emotion`` of a voice window too quiet to be analysed.
SILENCE = "silence"


def shared_timeline(time, proba, names: Sequence[str], *, source: str | None = None,
                    extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """The timeline of :data:`TIMELINE_COLUMNS` from probabilities in a model's own labels.

    ``proba``: ``(n, len(names))``, a row of NaN for a silent window; ``names``: the
    model's labels (``source``: their vocabulary, guessed from the names by default);
    ``extra``: the modality's own columns, appended after the shared ones.
    """
    time = np.asarray(time, dtype=float)
    proba = np.asarray(proba, dtype=float).reshape(len(time), len(names))
    shared = shared_proba(proba, names, source) if len(time) else np.zeros((0, len(SHARED)))
    df = pd.DataFrame(shared, columns=list(SHARED))
    df.insert(0, "time", time)
    silent = np.isnan(shared).any(axis=1)
    top = np.nan_to_num(shared, nan=-1.0).argmax(axis=1) if len(time) else np.zeros(0, int)
    df["emotion"] = pd.Series(np.where(silent, SILENCE, np.asarray(SHARED, dtype=object)[top]), dtype=object)
    df["confidence"] = np.where(silent, np.nan, np.nan_to_num(shared, nan=0.0).max(axis=1, initial=0.0))
    if extra is not None:
        extra = extra.reset_index(drop=True)
        for column in extra.columns:
            df[column] = extra[column].to_numpy()
    return df


def speech_rows(timeline: pd.DataFrame) -> pd.DataFrame:
    """The rows of a timeline that the model analysed (not ``"silence"``)."""
    return timeline[timeline["emotion"] != SILENCE]


def mean_distribution(timeline: pd.DataFrame) -> pd.Series:
    """Mean shared distribution over the analysed rows (NaN everywhere when there are none)."""
    rows = speech_rows(timeline)
    return rows[list(SHARED)].mean().rename("probability") if len(rows) else \
        pd.Series(np.nan, index=list(SHARED), name="probability")
