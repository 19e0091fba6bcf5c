"""Peer baseline: openSMILE functionals (eGeMAPSv02, ComParE_2016) + SVM on the same folds.

openSMILE (audEERING) is the reference toolkit of speech-emotion challenges:

* **eGeMAPSv02**: 88 expert-chosen functionals (pitch, jitter, shimmer, loudness,
  formants, spectral slope, ...), the "minimalistic" standard set;
* **ComParE_2016**: 6,373 brute-force functionals of 65 low-level descriptors.

Both come from the ``opensmile`` package on PyPI (runs offline; imported lazily,
with a clear error when it is missing). Features are cached on disk like
:func:`mmer_utils.audio.features.extract_features` (key: file SHA-256 + feature
set + openSMILE version), then fed to the same scaler + SVM and the same
speaker-independent folds as the course's own features.

>>> X = opensmile_features(paths, "eGeMAPSv02")                          # doctest: +SKIP
>>> X.shape                                                              # doctest: +SKIP
(1440, 88)
"""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

from ..errors import MmerError
from .features import cached_map
from .io import SR

#: openSMILE feature sets offered here (functionals = one vector per clip).
FEATURE_SETS = ("eGeMAPSv02", "ComParE_2016")

_SMILES: dict = {}  # one openSMILE extractor per feature set and process (building one takes ~0.1 s)


class OpenSmileMissingError(MmerError, ImportError):
    """The optional ``opensmile`` package is not installed."""


def _opensmile():
    try:
        import opensmile
    except ImportError:
        raise OpenSmileMissingError(
            "the openSMILE peer baseline needs the `opensmile` package: pip install opensmile"
        ) from None
    return opensmile


def available() -> bool:
    """True when the ``opensmile`` package can be imported."""
    try:
        _opensmile()
    except OpenSmileMissingError:
        return False
    return True


def _smile(feature_set: str):
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown openSMILE feature set {feature_set!r}; choose one of {FEATURE_SETS}")
    if feature_set not in _SMILES:
        opensmile = _opensmile()
        _SMILES[feature_set] = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                                               feature_level=opensmile.FeatureLevel.Functionals)
    return _SMILES[feature_set]


def opensmile_feature_names(feature_set: str = "eGeMAPSv02") -> list[str]:
    """Column names of :func:`opensmile_features` for ``feature_set``."""
    return list(_smile(feature_set).feature_names)


def opensmile_signal_features(y, sr: int = SR, feature_set: str = "eGeMAPSv02") -> np.ndarray:
    """openSMILE functionals of one signal: a 1-D float64 vector."""
    values = _smile(feature_set).process_signal(np.asarray(y, dtype=np.float32), sr).to_numpy()
    return np.nan_to_num(values.astype(np.float64).ravel())


class _FileComputer:
    """Picklable ``path -> vector`` for joblib workers."""

    def __init__(self, feature_set: str):
        self.feature_set = feature_set

    def __call__(self, path):
        from .io import load_audio

        y, sr = load_audio(path, sr=SR)
        return opensmile_signal_features(y, sr, self.feature_set)


def opensmile_features(paths: Sequence, feature_set: str = "eGeMAPSv02", *, cache: bool = True,
                       progress: bool = True, n_jobs: int = 1) -> np.ndarray:
    """openSMILE functionals of audio files, (n_clips, n_features), cached on disk.

    Files are loaded with :func:`mmer_utils.audio.io.load_audio` (mono, 16 kHz), as for
    the course's own features, so both see the same signal.
    """
    opensmile = _opensmile()
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown openSMILE feature set {feature_set!r}; choose one of {FEATURE_SETS}")
    if "tensorflow" in sys.modules:
        # openSMILE's native library corrupts the heap (abort) in a process where TensorFlow
        # is loaded: extract in a fresh Python process, which shares the same disk cache.
        return _in_fresh_process(paths, feature_set, cache=cache, progress=progress, n_jobs=n_jobs)
    key = {"feature_set": feature_set, "level": "functionals", "sr": SR,
           "opensmile": getattr(opensmile, "__version__", "?")}
    return cached_map(paths, _FileComputer(feature_set), namespace=f"opensmile_{feature_set}", params=key,
                      cache=cache, progress=progress, n_jobs=n_jobs, desc=feature_set)


def _in_fresh_process(paths, feature_set: str, **kwargs) -> np.ndarray:
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "features.npy"
        job.write_text(json.dumps({"paths": [str(p) for p in paths], "feature_set": feature_set, "kwargs": kwargs}))
        code = ("import json, sys, numpy as np; from mmer_utils.audio.opensmile_peer import opensmile_features; "
                "job = json.load(open(sys.argv[1])); "
                "np.save(sys.argv[2], opensmile_features(job['paths'], job['feature_set'], **job['kwargs']))")
        done = subprocess.run([sys.executable, "-c", code, str(job), str(out)])
        if done.returncode != 0:
            raise MmerError(f"openSMILE feature extraction failed in its worker process (exit code {done.returncode})")
        return np.load(out)


def evaluate_opensmile(paths: Sequence, y, actors, feature_set: str = "eGeMAPSv02", *, kind: str = "rbf",
                       param_grid: dict | None = None, folds: Sequence[int] | None = None, quick: bool = False,
                       labels: Sequence | None = None, n_jobs: int = 1, progress: bool = True):
    """openSMILE ``feature_set`` + scaler + SVM on the speaker-independent actor folds.

    Returns the :class:`~mmer_utils.audio.baselines.FoldResults` of
    :func:`~mmer_utils.audio.baselines.evaluate_actor_folds` (same folds, same inner
    search as the course's own features).
    """
    from . import baselines

    X = opensmile_features(paths, feature_set, progress=progress, n_jobs=n_jobs)
    grid = baselines.default_param_grid(kind, quick=quick) if param_grid is None else param_grid
    return baselines.evaluate_actor_folds(lambda: baselines.make_svm(kind), X, y, actors, param_grid=grid,
                                          folds=folds, labels=labels, n_jobs=n_jobs, progress=progress)
