"""The candidate portrait: the source web app's "real-time ensemble portrait", offline.

One interview answer (a typed text, an audio recording, a video; any may be left out) goes
through the chapter models (:mod:`~mmer_utils.portrait.models`); :func:`build_portrait`
collects what they perceive (Big Five traits, text, voice and face emotions over time, the
most frequent emotion per modality, a combined estimate with each modality's agreement,
the most common words); :func:`compare` places the candidate among the others kept in an
SQLite :class:`CandidateStore`; :func:`write_report` writes a self-contained HTML page.

Command line::

    python -m mmer_utils.portrait --text answer.txt --audio answer.wav --video answer.mp4 --out report/
    python -m mmer_utils.portrait train --quick          # optional: retrain instead of the shipped models

The numbers are model outputs, not validated psychometric measurements (see the report's note).

>>> from mmer_utils import portrait                                                  # doctest: +SKIP
>>> models = portrait.load_models()                                                  # doctest: +SKIP
>>> p = portrait.build_portrait(models, text_file="answer.txt", audio="answer.wav")   # doctest: +SKIP
>>> portrait.write_report(p, "report/")                                              # doctest: +SKIP
"""

from .html import figures, render_html, write_report
from .models import (ModelsNotFoundError, PortraitModelError, PortraitModels, default_models_dir, load_models,
                     shipped_models, train_models)
from .report import (Comparison, Portrait, PortraitInputError, agreement_table, build_portrait, combine, compare,
                     js_similarity, pairwise_similarity)
from .store import CandidateStore, StoreError, default_store_path, percentile_of

__all__ = [
    "CandidateStore", "Comparison", "ModelsNotFoundError", "Portrait", "PortraitInputError", "PortraitModelError",
    "PortraitModels", "StoreError", "agreement_table", "build_portrait", "combine", "compare", "default_models_dir",
    "default_store_path", "figures", "js_similarity", "load_models", "pairwise_similarity", "percentile_of",
    "render_html", "shipped_models", "train_models", "write_report",
]
