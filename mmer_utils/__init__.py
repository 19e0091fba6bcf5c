"""mmer_utils: the helper package of the mmer course on multimodal emotion recognition.

Sub-packages, one idea each: :mod:`mmer_utils.config` (data root, caches, seeds),
:mod:`mmer_utils.labels` (emotion vocabularies), :mod:`mmer_utils.datasets`
(loaders, downloads, checks), :mod:`mmer_utils.evaluation` (metrics, plots),
:mod:`mmer_utils.splits` (honest splits), :mod:`mmer_utils.results` (metric
records and RESULTS.md), :mod:`mmer_utils.course` (runs every notebook).

Importing the package has no side effects. A notebook's setup cell calls
:func:`setup_notebook` (one-line errors, the NLTK data folder, the ``%%needs`` cell magic, TensorFlow's
C++ log lines kept off the page).
"""

__version__ = "0.1.0"

from .config import setup_notebook

__all__ = ["setup_notebook"]
