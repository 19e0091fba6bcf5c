"""The course's pretrained models: list, describe, verify, load and rebuild them.

>>> from mmer_utils import models
>>> models.list()                                    # doctest: +SKIP
['bigfive', 'face_emotion', 'text_emotion', 'voice_emotion']
>>> models.info("face_emotion")["metrics"]           # doctest: +SKIP
>>> face = models.load("face_emotion")               # a FaceEmotionModel, its SHA-256 checked first  # doctest: +SKIP

Command line: ``python -m mmer_utils.models list|info NAME|verify|build NAME|readme``.
"""

from .store import (ModelStoreError, checkpoints_dir, info, list_models, load, models_dir, path, rebuild_command,
                    verify)

list = list_models  # noqa: A001 - the issue's name for it: models.list()

__all__ = ["ModelStoreError", "checkpoints_dir", "info", "list", "list_models", "load", "models_dir", "path",
           "rebuild_command", "verify"]
