"""The ensemble chapter: combine models and modalities.

* :mod:`~mmer_utils.fusion.stacking`: averaging, voting and stacking of any scikit-learn-compatible
  models (classic pipelines or Keras networks), on estimators or on precomputed probabilities;
* :mod:`~mmer_utils.fusion.audiovisual`: voice + face fusion on RAVDESS (early, late, intermediate,
  cross-modal attention), speaker-independent, with missing-modality tests;
* :mod:`~mmer_utils.fusion.vocabulary`: :func:`combine_modalities`, face/voice/text outputs in one
  shared emotion vocabulary.

Keras is imported only when a network is built.
"""

from .stacking import (AveragingEnsemble, FusionInputError, StackingEnsemble, average_probas, ensemble_table,
                       fit_fusion_weights, stack_features, stack_fer_predictions, vote)
from .vocabulary import combine_modalities

__all__ = ["AveragingEnsemble", "StackingEnsemble", "FusionInputError", "average_probas", "vote",
           "fit_fusion_weights", "stack_features", "ensemble_table", "stack_fer_predictions", "combine_modalities"]
