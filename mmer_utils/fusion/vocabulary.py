"""One emotion vocabulary across modalities: combine face, voice and text outputs.

The face model speaks FER2013 (7 classes), the voice model RAVDESS (8), the text
model MELD (7) or dair-ai (6). :mod:`mmer_utils.labels` maps each onto
:data:`~mmer_utils.labels.SHARED` (``to_shared_proba``; RAVDESS calm folds into
neutral) and says which shared classes a source can express at all
(``coverage``: dair-ai has no neutral and no disgust).

:func:`combine_modalities` averages the modalities **class by class over the
modalities that can express that class**. A plain average would count a text model
that *cannot* say "neutral" as a vote of 0 for neutral, and so push every combined
portrait away from neutral. A modality can also be missing for some rows (no face
found in a frame, no speech in a window): give NaN rows, they are left out the
same way.

>>> import numpy as np
>>> face = np.array([[0, 0, 0, 0.2, 0, 0, 0.8]])            # FER2013 order: mostly neutral
>>> text = np.array([[0.0, 0.9, 0.1, 0.0, 0.0, 0.0]])       # dair-ai order: mostly joy
>>> out = combine_modalities({"face": face, "text": text}, {"face": "fer2013", "text": "emotion"})
>>> out.round(2).loc[0, ["happy", "neutral"]].tolist()     # neutral is the face's alone
[0.43, 0.57]
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .. import labels
from .stacking import FusionInputError


def combine_modalities(probas: Mapping[str, np.ndarray], sources: Mapping[str, str], weights=None, *,
                       normalize: bool = True) -> pd.DataFrame:
    """Combine per-modality class probabilities in the shared vocabulary.

    Parameters
    ----------
    probas : dict name -> (n, k) array
        Each modality's probabilities in its own source's class order (rows of the same
        index describe the same moment/candidate). A row of NaN = that modality is missing
        for that row.
    sources : dict name -> source
        The label source of each modality (``"fer2013"``, ``"ravdess"``, ``"meld"``,
        ``"emotion"``, ``"shared"``; see :func:`mmer_utils.labels.vocabulary`).
    weights : dict name -> float, or None
        Trust in each modality (default: equal). Only ratios matter.
    normalize : bool
        Rescale each row to sum to 1 (default). Without it, the coverage-aware
        per-class average is returned as is.

    Returns
    -------
    DataFrame (n, 7), columns :data:`mmer_utils.labels.SHARED`. For shared class ``c``:
    ``sum_m w_m p_m[c] / sum_m w_m``, the sums over the modalities present in that row that
    can express ``c``; a class that none of them can express gets 0; a row with no
    modality at all is NaN. ``out.attrs["coverage"]`` holds each modality's coverage mask.
    """
    if not probas:
        raise FusionInputError("combine_modalities: give at least one modality's probabilities")
    missing = set(probas) - set(sources)
    if missing:
        raise FusionInputError(f"combine_modalities: no source given for {sorted(missing)}; "
                               f"sources needs one of {sorted(labels.VOCABULARIES)} per modality")
    w = {name: 1.0 for name in probas} if weights is None else dict(weights)
    if set(w) != set(probas) or any((not np.isfinite(v)) or v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise FusionInputError(f"combine_modalities: weights must give a non-negative number to each of "
                               f"{sorted(probas)}, got {weights!r}")
    n = None
    total = None
    weight_sum = None
    masks = {}
    for name, p in probas.items():
        p = np.asarray(p, dtype=np.float64)
        if p.ndim == 1:
            p = p[None, :]
        try:
            k = len(labels.vocabulary(sources[name]))
        except ValueError as exc:
            raise FusionInputError(f"combine_modalities: modality {name!r}: {exc}") from None
        if p.ndim != 2 or p.shape[1] != k:
            raise FusionInputError(f"combine_modalities: {name!r} ({sources[name]}) needs {k} columns in the order "
                                   f"{labels.vocabulary(sources[name])}, got shape {p.shape}")
        if n is None:
            n = len(p)
            total, weight_sum = np.zeros((n, len(labels.SHARED))), np.zeros((n, len(labels.SHARED)))
        elif len(p) != n:
            raise FusionInputError(f"combine_modalities: {name!r} has {len(p)} rows, the others {n}")
        present = ~np.isnan(p).any(axis=1)
        if np.any(p[present] < 0) or not np.all(np.isfinite(p[present])):
            raise FusionInputError(f"combine_modalities: {name!r} has negative or infinite values; pass probabilities")
        shared = labels.to_shared_proba(np.where(present[:, None], p, 0.0), sources[name])
        cover = labels.coverage(sources[name])
        masks[name] = cover
        usable = present[:, None] & cover[None, :]
        total += w[name] * np.where(usable, shared, 0.0)
        weight_sum += w[name] * usable
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(weight_sum > 0, total / np.where(weight_sum > 0, weight_sum, 1.0), 0.0)
    no_modality = weight_sum.sum(axis=1) == 0
    if normalize:
        sums = out.sum(axis=1, keepdims=True)
        out = np.divide(out, sums, out=np.zeros_like(out), where=sums > 0)
    out[no_modality] = np.nan
    frame = pd.DataFrame(out, columns=list(labels.SHARED))
    frame.attrs["coverage"] = {name: dict(zip(labels.SHARED, m.tolist())) for name, m in masks.items()}
    return frame
