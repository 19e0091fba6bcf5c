"""mmer_utils: the helper package of the mmer course on multimodal emotion recognition.

Sub-packages, one idea each: :mod:`mmer_utils.config` (data root, caches, seeds),
:mod:`mmer_utils.labels` (emotion vocabularies), :mod:`mmer_utils.datasets`
(loaders, downloads, checks), :mod:`mmer_utils.evaluation` (metrics, plots),
:mod:`mmer_utils.splits` (honest splits), :mod:`mmer_utils.results` (metric
records and RESULTS.md), :mod:`mmer_utils.course` (runs every notebook).
"""

__version__ = "0.1.0"

from .config import setup_nltk as _setup_nltk
from .config import short_errors_in_notebooks as _short_errors

_short_errors()
_setup_nltk()
