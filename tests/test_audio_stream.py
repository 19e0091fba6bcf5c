"""Sliding-window emotion timelines, offline and streaming, with a predictor whose answer we know."""

import numpy as np
import pytest

from mmer_utils.audio.stream import StreamingPredictor, emotion_timeline, sliding_windows, summarize_timeline

SR = 16000


def tone(freq, seconds, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def pitch_detector(windows):
    """'low' for a dominant frequency under 1 kHz, else 'high': a stand-in model we can check."""
    spectrum = np.abs(np.fft.rfft(windows, axis=1))
    peak_hz = spectrum.argmax(axis=1) * SR / windows.shape[1]
    low = (peak_hz < 1000).astype(float)
    return np.stack([low, 1 - low], axis=1)


def test_sliding_windows_cover_the_signal():
    y = np.arange(SR * 5, dtype=np.float32)
    windows, starts = sliding_windows(y, SR, window=2.0, hop=0.5)
    assert windows.shape == (7, 2 * SR) and starts.tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3]
    assert windows[-1, -1] == y[-1]  # the end is covered
    short, _ = sliding_windows(np.ones(100, np.float32), SR, window=2.0, hop=0.5)
    assert short.shape == (1, 2 * SR) and short[0, :100].sum() == 100
    with pytest.raises(ValueError):
        sliding_windows(y, SR, window=1.0, hop=2.0)


def test_timeline_follows_the_content_and_marks_silence():
    y = np.concatenate([tone(300, 4), np.zeros(3 * SR, np.float32), tone(3000, 4)])
    tl = emotion_timeline(y, SR, pitch_detector, labels=["low", "high"], window=1.0, hop=0.5)
    assert tl.loc[tl.end <= 4, "label"].eq("low").all()
    assert tl.loc[(tl.start >= 4) & (tl.end <= 7), "label"].eq("silence").all()
    assert tl.loc[tl.start >= 7, "label"].eq("high").all()
    assert tl.loc[tl.label == "silence", "low"].isna().all()
    assert 0 < tl.attrs["rtf"] < 1
    share = summarize_timeline(tl, ["low", "high"])
    assert share.index[0] == "low" and abs(share.sum() - 1) < 1e-9


def test_streaming_gives_the_same_answers_as_offline():
    y = np.concatenate([tone(300, 3), tone(3000, 3)])
    offline = emotion_timeline(y, SR, pitch_detector, labels=["low", "high"], window=1.0, hop=0.5)
    sp = StreamingPredictor(pitch_detector, labels=["low", "high"], window=1.0, hop=0.5)
    live = []
    for chunk in np.array_split(y, 37):  # uneven chunks, as a sound card delivers them
        live += sp.push(chunk)
    assert [r["start"] for r in live] == offline.start.tolist()[: len(live)]
    assert [r["label"] for r in live] == offline.label.tolist()[: len(live)]
    assert len(live) == len(offline)  # the signal ends on a hop: every window completes live
