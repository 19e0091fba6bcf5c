"""Emotion over time: a sliding window over a long recording, or over a live stream.

A model trained on 3-4 s clips gives one answer per clip. Over an interview
answer of 15 s or more, the course slides a window of ``window`` seconds every
``hop`` seconds and asks the model about each window: the result is an emotion
timeline. Windows that are almost silent are not sent to the model (their
probabilities are NaN and their label is ``"silence"``), since a model trained on
speech has nothing to say about a pause.

Everything here works with any ``predict_windows`` function that maps a batch of
windows ``(n, samples)`` at ``sr`` to probabilities ``(n, n_classes)``; see
:class:`mmer_utils.audio.predict.AudioEmotionModel` for the chapter's models.

>>> import numpy as np
>>> fake = lambda W: np.tile([0.25, 0.75], (len(W), 1))
>>> y = np.random.default_rng(0).normal(0, 0.1, 16000 * 5).astype("float32")
>>> timeline = emotion_timeline(y, 16000, fake, labels=["calm", "angry"], window=2.0, hop=0.5)
>>> len(timeline), timeline["label"].iloc[0]
(7, 'angry')
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .io import SR, prepare_signal

PredictWindows = Callable[[np.ndarray], np.ndarray]


def sliding_windows(y, sr: int = SR, *, window: float = 2.0, hop: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``y`` into windows of ``window`` s every ``hop`` s; return ``(windows, start_seconds)``.

    The last window is zero-padded when the signal does not end on a hop, so no
    speech at the end is lost. A signal shorter than one window gives one padded window.
    """
    if not (0 < hop <= window):
        raise ValueError(f"need 0 < hop <= window, got hop={hop}, window={window}")
    y = np.asarray(y, dtype=np.float32)
    win, step = int(round(window * sr)), int(round(hop * sr))
    n = 1 + max(0, int(np.ceil((len(y) - win) / step)))
    padded = np.zeros((n - 1) * step + win, dtype=np.float32)
    padded[: len(y)] = y
    idx = np.arange(win)[None, :] + step * np.arange(n)[:, None]
    return padded[idx], np.arange(n) * hop


def _silent(windows: np.ndarray, silence_rms: float) -> np.ndarray:
    return np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1)) < silence_rms


def emotion_timeline(y, sr: int, predict_windows: PredictWindows, *, labels: Sequence[str], window: float = 2.0,
                     hop: float = 0.5, batch_size: int = 32, silence_rms: float = 1e-3) -> pd.DataFrame:
    """Probabilities of every label for each window of a long signal.

    Returns a DataFrame with ``start``, ``end`` (seconds), one column per label,
    ``label`` (the most probable, or ``"silence"``) and ``confidence``. Its
    ``attrs`` hold the processing time and the real-time factor (``rtf`` = processing
    time / audio duration; below 1 is faster than real time).
    """
    y, sr = prepare_signal(y, sr, target_sr=sr, min_duration=0.0, silence_rms=0.0, name="recording")
    started = time.perf_counter()
    windows, starts = sliding_windows(y, sr, window=window, hop=hop)
    silent = _silent(windows, silence_rms)
    proba = np.full((len(windows), len(labels)), np.nan)
    speech = np.flatnonzero(~silent)
    for i in range(0, len(speech), batch_size):
        chunk = speech[i:i + batch_size]
        proba[chunk] = predict_windows(windows[chunk])
    elapsed = time.perf_counter() - started
    df = pd.DataFrame(proba, columns=list(labels))
    df.insert(0, "start", starts)
    df.insert(1, "end", np.minimum(starts + window, len(y) / sr))
    top = np.nan_to_num(proba, nan=-1.0).argmax(axis=1)
    df["label"] = np.where(silent, "silence", np.asarray(labels, dtype=object)[top])
    df["confidence"] = np.where(silent, np.nan, np.nan_to_num(proba, nan=0.0).max(axis=1))
    df.attrs.update(seconds=elapsed, audio_seconds=len(y) / sr, rtf=elapsed / max(len(y) / sr, 1e-9))
    return df


def summarize_timeline(timeline: pd.DataFrame, labels: Sequence[str]) -> pd.Series:
    """Share of speech windows per label, most frequent first ("your most frequent emotion")."""
    speech = timeline[timeline["label"] != "silence"]
    if speech.empty:
        return pd.Series(0.0, index=list(labels), name="share")
    return speech["label"].value_counts(normalize=True).reindex(list(labels), fill_value=0.0) \
        .sort_values(ascending=False).rename("share")


class StreamingPredictor:
    """Feed audio chunks as they arrive (e.g. from a microphone); get each window's answer as soon as it is complete.

    >>> import numpy as np
    >>> sp = StreamingPredictor(lambda W: np.tile([1.0, 0.0], (len(W), 1)), labels=["a", "b"], window=1.0, hop=0.5)
    >>> out = sp.push(np.full(16000 * 2, 0.1, np.float32))
    >>> [round(r["start"], 1) for r in out]
    [0.0, 0.5, 1.0]
    """

    def __init__(self, predict_windows: PredictWindows, *, labels: Sequence[str], sr: int = SR, window: float = 2.0,
                 hop: float = 0.5, silence_rms: float = 1e-3):
        if not (0 < hop <= window):
            raise ValueError(f"need 0 < hop <= window, got hop={hop}, window={window}")
        self.predict_windows, self.labels, self.sr = predict_windows, list(labels), sr
        self.win, self.step, self.silence_rms = int(round(window * sr)), int(round(hop * sr)), silence_rms
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = 0  # samples already dropped from the front of the buffer

    def push(self, chunk) -> list[dict]:
        """Add samples (at ``sr``); return one dict per newly completed window."""
        self.buffer = np.concatenate([self.buffer, np.asarray(chunk, dtype=np.float32).ravel()])
        starts = list(range(0, len(self.buffer) - self.win + 1, self.step))
        if not starts:
            return []
        windows = np.stack([self.buffer[s:s + self.win] for s in starts])
        silent = _silent(windows, self.silence_rms)
        proba = np.full((len(windows), len(self.labels)), np.nan)
        if (~silent).any():
            proba[~silent] = self.predict_windows(windows[~silent])
        out = []
        for s, p, quiet in zip(starts, proba, silent):
            t = (self.offset + s) / self.sr
            label = "silence" if quiet else self.labels[int(np.argmax(p))]
            out.append({"start": t, "end": t + self.win / self.sr, "label": label,
                        **dict(zip(self.labels, p.tolist()))})
        consumed = starts[-1] + self.step
        self.buffer = self.buffer[consumed:]
        self.offset += consumed
        return out


def plot_timeline(timeline: pd.DataFrame, labels: Sequence[str], *, truth: pd.DataFrame | None = None, ax=None,
                  title: str | None = None):
    """Stacked probabilities over time (window centres); ``truth`` (start, end, label) draws the true segments."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 3.2))
    centres = (timeline["start"] + timeline["end"]) / 2
    values = np.nan_to_num(timeline[list(labels)].to_numpy(dtype=float).T, nan=0.0)
    colors = plt.get_cmap("tab10").colors
    ax.stackplot(centres, values, labels=list(labels), colors=colors[: len(labels)], alpha=0.85)
    if truth is not None:
        for row in truth.itertuples():
            ax.axvline(row.start, color="k", lw=0.8, ls="--")
            ax.text((row.start + row.end) / 2, 1.02, row.label, ha="center", va="bottom", fontsize=8,
                    color=colors[list(labels).index(row.label)] if row.label in labels else "k")
    ax.set(xlim=(timeline["start"].min(), timeline["end"].max()), ylim=(0, 1), xlabel="time (s)",
           ylabel="probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    if title:
        ax.set_title(title, pad=16)
    return ax


def record_microphone(seconds: float = 5.0, *, sr: int = SR) -> np.ndarray:
    """Record from the microphone: in Colab through the browser, locally with ``sounddevice``.

    Optional at run time and never needed by the tests or CI.
    """
    from .. import config

    if config.in_colab():  # pragma: no cover - needs a browser
        return _record_colab(seconds, sr)
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError(f"no microphone access here ({exc}); record a WAV file and use predict_file") from None
    audio = sd.rec(int(seconds * sr), samplerate=sr, channels=1, dtype="float32")
    sd.wait()
    return audio[:, 0]


_COLAB_JS = """
async function recordAudio(ms) {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const rec = new MediaRecorder(stream); const chunks = [];
  rec.ondataavailable = e => chunks.push(e.data); rec.start();
  await new Promise(r => setTimeout(r, ms)); rec.stop();
  await new Promise(r => rec.onstop = r); stream.getTracks().forEach(t => t.stop());
  const buf = await new Blob(chunks).arrayBuffer();
  return btoa(String.fromCharCode(...new Uint8Array(buf)));
}
"""


def _record_colab(seconds: float, sr: int) -> np.ndarray:  # pragma: no cover - needs a browser
    import base64
    import tempfile

    from google.colab import output  # type: ignore
    from IPython.display import Javascript, display

    from .io import load_audio

    display(Javascript(_COLAB_JS))
    data = base64.b64decode(output.eval_js(f"recordAudio({int(seconds * 1000)})"))
    with tempfile.NamedTemporaryFile(suffix=".webm") as tmp:
        tmp.write(data)
        tmp.flush()
        return load_audio(tmp.name, sr=sr)[0]
