"""Export the course's Keras networks to ONNX and run them with onnxruntime.

An ONNX file is the network's forward pass alone, as a graph of standard operators:
onnxruntime runs it without TensorFlow, with less per-call overhead (a 48x48 face
through the chapter's larger CNN: about 1.3 ms against 4.6 ms for Keras on a 2-core
CPU), which is what a real-time pipeline needs.

=========================  ==================================================================
call                       does
=========================  ==================================================================
:func:`export_onnx`        write a Keras model (or a fitted KerasEstimator) to ``.onnx``,
                           atomically, and check that onnxruntime can load it
:func:`inference_twin`     the same network without its random augmentation layers (they
                           are identity at prediction but cannot be converted), same weights
:class:`OnnxClassifier`    an ``.onnx`` file behind the course's classifier interface:
                           ``classes_``, ``predict_proba``, ``predict``; usable as
                           ``FaceEmotionModel(OnnxClassifier(path))``
:func:`parity`             largest probability difference and label agreement, Keras vs ONNX
:func:`onnx_face_model`    a :class:`~mmer_utils.video.predict.FaceEmotionModel` whose
                           classifier runs on onnxruntime (same detector and crop settings)
=========================  ==================================================================

The face models carry their augmentation (random flip, shift, rotation, zoom) inside
the network; :func:`export_onnx` refuses them with one line and :func:`inference_twin`
makes the exportable copy. Everything the ONNX file needs is inside it; the class
labels travel in its metadata (``mmer_classes``).

>>> import tempfile, numpy as np
>>> from pathlib import Path
>>> from mmer_utils.video.models import build_simple_cnn
>>> net = build_simple_cnn(filters=(4, 8), dense=8)                  # augment=True: random layers inside
>>> path = export_onnx(inference_twin(net), Path(tempfile.mkdtemp()) / "face.onnx")
>>> clf = OnnxClassifier(path)
>>> faces = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)
>>> clf.predict_proba(faces).shape, clf.classes_.tolist()
((5, 7), [0, 1, 2, 3, 4, 5, 6])
>>> parity(net, clf, faces)["max_abs_diff"] < 1e-5
True
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .atomic import atomic_path
from .errors import DataNotFoundError, MmerError, UnreadableFileError

#: Key of the class labels (a JSON list) in the ONNX file's metadata.
CLASSES_KEY = "mmer_classes"
#: Random augmentation layers of Keras that are not the ``Random*`` ones by name.
_OTHER_AUGMENTATION = {"RandAugment", "AugMix", "MixUp", "CutMix", "Solarization"}


class OnnxExportError(MmerError, ValueError):
    """A Keras model cannot be exported to ONNX as it is (e.g. random augmentation layers inside)."""


class OnnxModelError(UnreadableFileError):
    """A file is not an ONNX model that onnxruntime can run, or its input does not fit."""


# --------------------------------------------------------------------------- Keras side


def _keras_model(model):
    """A ``keras.Model`` from a model or a fitted estimator (its ``model_``)."""
    inner = getattr(model, "model_", None)
    if inner is not None:
        return inner
    if hasattr(model, "layers") and hasattr(model, "get_weights"):
        return model
    raise OnnxExportError(f"expected a keras.Model or a fitted KerasEstimator, got {type(model).__name__}")


def _is_augmentation(layer) -> bool:
    name = type(layer).__name__
    return name.startswith("Random") or name in _OTHER_AUGMENTATION


def _walk(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _walk(layer)


def augmentation_layers_of(model) -> list[str]:
    """Names of the random augmentation layers inside ``model`` (nested models included).

    >>> from mmer_utils.video.models import build_simple_cnn
    >>> augmentation_layers_of(build_simple_cnn(filters=(4,), dense=4))
    ['augmentation_flip', 'augmentation_shift', 'augmentation_rotation', 'augmentation_zoom']
    >>> augmentation_layers_of(build_simple_cnn(filters=(4,), dense=4, augment=False))
    []
    """
    return [layer.name for layer in _walk(_keras_model(model)) if _is_augmentation(layer)]


def _pass_through_class():
    import keras

    class PassThrough(keras.layers.Layer):
        """Identity that accepts the ``training``/``mask`` arguments a replaced block was called with."""

        def call(self, inputs, training=None, mask=None):
            return inputs

    return PassThrough


def inference_twin(model, build_fn: Callable | None = None):
    """The same network without its random augmentation layers, with the same weights.

    Augmentation layers pass faces through unchanged at prediction and hold no weights,
    so the twin gives the same probabilities; unlike the original it can be exported.

    Parameters
    ----------
    model : keras.Model or fitted KerasEstimator
    build_fn : callable or None
        ``build_fn() -> keras.Model``: the same architecture built without augmentation
        (e.g. ``functools.partial(build_mini_xception, augment=False)``; for the shipped
        face model use :func:`mmer_utils.video.recipe.inference_twin` directly). None:
        the model is cloned with every augmentation layer (or block made only of them)
        replaced by an identity.

    Returns
    -------
    keras.Model, already called once (ready for :func:`export_onnx`).

    >>> from mmer_utils.video.models import build_simple_cnn
    >>> twin = inference_twin(build_simple_cnn(filters=(4, 8), dense=8))
    >>> augmentation_layers_of(twin), len(twin.get_weights())
    ([], 8)
    """
    import keras

    model = _keras_model(model)
    if build_fn is not None:
        twin = build_fn()
    else:
        pass_through = _pass_through_class()

        def clone(layer):
            inner = getattr(layer, "layers", None)
            if _is_augmentation(layer) or (inner and all(_is_augmentation(sub) for sub in inner)):
                return pass_through(name=layer.name)
            return layer.__class__.from_config(layer.get_config())

        try:
            twin = keras.models.clone_model(model, clone_function=clone)
        except Exception as exc:  # subclassed models cannot be cloned layer by layer
            raise OnnxExportError(f"cannot clone {model.name} without its augmentation ({type(exc).__name__}: "
                                  f"{_first_line(exc)}); pass build_fn= that builds it with augment=False") from None
    left = augmentation_layers_of(twin)
    if left:
        raise OnnxExportError(f"the inference twin of {model.name} still has augmentation layers {left}")
    weights = model.get_weights()
    try:
        twin.set_weights(weights)
    except ValueError as exc:
        raise OnnxExportError(f"the inference twin does not match {model.name}: {_first_line(exc)} "
                              f"(build_fn must build the same architecture, with augment=False)") from None
    _call_once(twin)
    return twin


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _call_once(model, sample=None):
    if sample is None:
        shape = model.input_shape
        if isinstance(shape, list) or shape is None:
            raise OnnxExportError(f"{model.name} has several inputs or no known input shape: pass sample=")
        sample = np.zeros([1 if d is None else d for d in shape], dtype=np.float32)
    model(np.asarray(sample, dtype=np.float32)[:1], training=False)


@contextmanager
def _quiet_export():
    """tf2onnx logs every graph rewrite and NumPy warns about ``np.object``: keep them out of the output."""
    loggers = [logging.getLogger(name) for name in ("tf2onnx", "tensorflow")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_onnx(model, path, *, sample=None, classes: Sequence | None = None, opset: int | None = None) -> Path:
    """Write a Keras model to an ONNX file (atomically) and check that onnxruntime loads it.

    Parameters
    ----------
    model : keras.Model or fitted KerasEstimator
        Without random augmentation layers: export :func:`inference_twin` of the model
        instead (a clear :class:`OnnxExportError` says so). The batch size stays free.
    path : str or Path
        The ``.onnx`` file; its folder is created. A failed export leaves an older file
        untouched.
    sample : array or None
        One batch of the model's input: the model is called on it once before the export
        (Keras needs a called model; a freshly loaded one has not been). None: zeros of
        the model's input shape.
    classes : labels or None
        The labels of the output columns, kept in the file's metadata for
        :class:`OnnxClassifier`; default the estimator's ``classes_`` (none for a bare model).
    opset : int or None
        ONNX opset version (None: tf2onnx's default).

    Returns
    -------
    Path of the written file. An estimator's ``transform`` is not part of it: give it to
    :class:`OnnxClassifier` (``transform=``), as :meth:`OnnxClassifier.from_keras` does.

    >>> export_onnx(inference_twin(model), "models/face.onnx")           # doctest: +SKIP
    PosixPath('models/face.onnx')
    """
    path = Path(path)
    if path.suffix != ".onnx":
        raise OnnxExportError(f"export to a .onnx file, got {path.name}")
    if classes is None and getattr(model, "classes_", None) is not None:
        classes = np.asarray(model.classes_).tolist()
    keras_model = _keras_model(model)
    random_layers = augmentation_layers_of(keras_model)
    if random_layers:
        raise OnnxExportError(
            f"{keras_model.name} contains random augmentation layers ({', '.join(random_layers)}), which ONNX cannot "
            f"convert: export its inference twin, mmer_utils.onnx_export.inference_twin(model) (the shipped face "
            f"model: mmer_utils.video.recipe.inference_twin(model))")
    _call_once(keras_model, sample)
    with atomic_path(path, suffix=".onnx") as tmp, _quiet_export():
        try:
            keras_model.export(str(tmp), format="onnx", verbose=False, opset_version=opset)
        except Exception as exc:
            raise OnnxExportError(f"ONNX export of {keras_model.name} failed: {type(exc).__name__}: "
                                  f"{_first_line(exc)}") from exc
        if classes is not None:
            import onnx

            proto = onnx.load(str(tmp))
            entry = proto.metadata_props.add()
            entry.key, entry.value = CLASSES_KEY, json.dumps(_jsonable(classes))
            onnx.save(proto, str(tmp))
        _session(tmp)  # an unconvertible op only shows when onnxruntime loads the file
    return path


def _jsonable(classes) -> list:
    return [c.item() if hasattr(c, "item") else c for c in np.asarray(classes).tolist()]


# --------------------------------------------------------------------------- onnxruntime side


def _session(path, threads: int | None = None, spin: bool = False):
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"ONNX model {path} not found (write it with mmer_utils.onnx_export.export_onnx)")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    if threads:
        options.intra_op_num_threads = int(threads)
    if not spin:  # idle threads sleep instead of spinning on the cores the face detector needs
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind classes (InvalidProtobuf, Fail, ...)
        raise OnnxModelError(f"{path} is not an ONNX model that onnxruntime can run "
                             f"({type(exc).__name__}: {_first_line(exc)[:200]})") from None


class OnnxClassifier:
    """An ONNX classifier with the course's estimator interface, run by onnxruntime on the CPU.

    Parameters
    ----------
    path : str or Path
        An ``.onnx`` file with one input (a batch) and one output (class probabilities),
        such as :func:`export_onnx` writes.
    classes : labels or None
        The label of each output column; default the labels stored by :func:`export_onnx`,
        else ``0..k-1``.
    batch_size : int
        :meth:`predict_proba` runs at most this many examples per call.
    threads : int or None
        onnxruntime's intra-op threads (None: its default, one per physical core).
    spin : bool
        Let onnxruntime's idle threads spin (its default) instead of sleeping. Spinning
        saves microseconds per call when the model runs alone, but in the video pipeline
        it takes the cores from face detection: measured on 2 cores (3 faces per frame),
        20 frames/s with spinning against 43 without, and 35 with Keras.
    transform : callable or None
        ``transform(X) -> X'`` applied to every input first, like
        :class:`~mmer_utils.training.KerasEstimator`'s (not stored in the ONNX file).

    Attributes: ``classes_``, ``path``, ``input_name``, ``input_shape`` (None for a free
    dimension).

    Raises :class:`~mmer_utils.errors.DataNotFoundError` for a missing file and
    :class:`OnnxModelError` for a file onnxruntime cannot load (one line each).

    >>> clf = OnnxClassifier("models/face_emotion.onnx")                 # doctest: +SKIP
    >>> FaceEmotionModel(clf).analyse_image("photo.jpg")                 # doctest: +SKIP
    """

    def __init__(self, path, *, classes: Sequence | None = None, batch_size: int = 256, threads: int | None = None,
                 spin: bool = False, transform: Callable | None = None):
        self.path = Path(path)
        self.batch_size = int(batch_size)
        self.threads = threads
        self.spin = bool(spin)
        self.transform = transform
        self._session_ = _session(self.path, threads, self.spin)
        inputs, outputs = self._session_.get_inputs(), self._session_.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise OnnxModelError(f"{self.path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                                 f"OnnxClassifier runs models with one of each")
        self.input_name = inputs[0].name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
        n_out = outputs[0].shape[-1] if outputs[0].shape else None
        if classes is None:
            stored = self._session_.get_modelmeta().custom_metadata_map.get(CLASSES_KEY)
            if stored:
                classes = json.loads(stored)
            elif isinstance(n_out, int):
                classes = list(range(n_out))
            else:
                raise OnnxModelError(f"{self.path}: the number of classes is not fixed in the file; pass classes=")
        self.classes_ = np.asarray(classes)
        if isinstance(n_out, int) and n_out != len(self.classes_):
            raise OnnxModelError(f"{self.path} outputs {n_out} columns but {len(self.classes_)} classes were given")

    @classmethod
    def from_keras(cls, model, path=None, *, twin: Callable | None = None, sample=None, classes=None,
                   **kwargs) -> "OnnxClassifier":
        """Export ``model`` (its inference twin when it has augmentation layers) and load the result.

        ``path`` None: a temporary file, deleted once loaded (the session keeps the model in
        memory). ``twin``: ``twin(keras_model) -> keras_model`` for models with augmentation
        (default :func:`inference_twin`; the shipped face model's is
        :func:`mmer_utils.video.recipe.inference_twin`). ``classes`` default the estimator's.
        ``kwargs`` go to the constructor.

        >>> clf = OnnxClassifier.from_keras(estimator)                    # doctest: +SKIP
        """
        keras_model = _keras_model(model)
        if classes is None and getattr(model, "classes_", None) is not None:
            classes = np.asarray(model.classes_).tolist()
        if kwargs.get("transform") is None and getattr(model, "transform", None) is not None:
            kwargs["transform"] = model.transform
        if augmentation_layers_of(keras_model):
            keras_model = (twin or inference_twin)(keras_model)
        if path is not None:
            return cls(export_onnx(keras_model, path, sample=sample, classes=classes), **kwargs)
        with tempfile.TemporaryDirectory(prefix="mmer_onnx_") as tmp:
            return cls(export_onnx(keras_model, Path(tmp) / "model.onnx", sample=sample, classes=classes), **kwargs)

    def __repr__(self) -> str:
        return f"OnnxClassifier({str(self.path)!r}, classes={self.classes_.tolist()}, input_shape={self.input_shape})"

    def _prepare(self, X) -> np.ndarray:
        if self.transform is not None:
            X = self.transform(np.asarray(X, dtype=np.float32))
        X = np.ascontiguousarray(X, dtype=np.float32)
        expected = self.input_shape
        if X.ndim != len(expected) or any(e is not None and e != d for e, d in zip(expected[1:], X.shape[1:])):
            want = "(n, " + ", ".join("?" if d is None else str(d) for d in expected[1:]) + ")"
            raise OnnxModelError(f"{self.path.name} takes input of shape {want}, got {X.shape}")
        return X

    def predict_on_batch(self, X) -> np.ndarray:
        """Probabilities of one batch in a single onnxruntime call (no checks: the real-time path)."""
        return self._session_.run(None, {self.input_name: np.ascontiguousarray(X, dtype=np.float32)})[0]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, k)``, columns in the order of ``classes_``, in batches of ``batch_size``."""
        X = self._prepare(X)
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)), np.float32)
        if len(X) <= self.batch_size:
            return self.predict_on_batch(X)
        return np.concatenate([self.predict_on_batch(X[i:i + self.batch_size])
                               for i in range(0, len(X), self.batch_size)])

    def predict(self, X) -> np.ndarray:
        """The most probable class of each example."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


# --------------------------------------------------------------------------- checks and the face pipeline


def parity(keras_model, onnx_path, X, *, batch_size: int = 256) -> dict:
    """How closely an ONNX export reproduces its Keras model on ``X``.

    Parameters
    ----------
    keras_model : keras.Model or fitted KerasEstimator (with augmentation layers or not).
    onnx_path : path of the ``.onnx`` file, or an :class:`OnnxClassifier`.
    X : the model's input (for an estimator with ``transform``: before the transform).

    Returns
    -------
    dict with ``n``, ``max_abs_diff`` and ``mean_abs_diff`` (of the probabilities) and
    ``label_agreement`` (share of examples with the same most probable class).

    >>> parity(estimator, "face.onnx", X_test)                           # doctest: +SKIP
    {'n': 3589, 'max_abs_diff': 1.5e-08, 'mean_abs_diff': 1.1e-09, 'label_agreement': 1.0}
    """
    transform = getattr(keras_model, "transform", None)
    if hasattr(keras_model, "model_") and hasattr(keras_model, "predict_proba"):
        p_keras = np.asarray(keras_model.predict_proba(X))
    else:
        p_keras = np.asarray(keras_model.predict(np.asarray(X, dtype=np.float32), batch_size=batch_size, verbose=0))
    clf = onnx_path if isinstance(onnx_path, OnnxClassifier) else OnnxClassifier(onnx_path, transform=transform)
    p_onnx = np.asarray(clf.predict_proba(X))
    if p_keras.shape != p_onnx.shape:
        raise OnnxModelError(f"Keras gives probabilities of shape {p_keras.shape}, ONNX {p_onnx.shape}")
    diff = np.abs(p_keras.astype(np.float64) - p_onnx)
    return {"n": int(len(p_keras)), "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
            "label_agreement": float(np.mean(p_keras.argmax(1) == p_onnx.argmax(1))) if len(p_keras) else 1.0}


def onnx_face_model(face_model, onnx_path=None, *, twin: Callable | None = None, **classifier_kwargs):
    """The same :class:`~mmer_utils.video.predict.FaceEmotionModel` with its Keras classifier run by onnxruntime.

    Parameters
    ----------
    face_model : FaceEmotionModel whose classifier is a fitted KerasEstimator.
    onnx_path : path or None
        An existing ``.onnx`` export of that classifier is loaded as it is (its labels are
        taken from the Keras classifier); a missing one is written there; None exports to
        a temporary file.
    twin : ``twin(keras_model) -> keras_model`` without augmentation (default
        :func:`inference_twin`; the shipped face model's is
        :func:`mmer_utils.video.recipe.inference_twin`).
    classifier_kwargs : passed to :class:`OnnxClassifier` (``threads``, ``spin``, ``batch_size``).

    Returns
    -------
    FaceEmotionModel with the same detector, labels and crop settings.

    >>> fast = onnx_face_model(FaceEmotionModel.load("models/face_emotion.keras"))  # doctest: +SKIP
    >>> fast.analyse_image("photo.jpg")                                  # doctest: +SKIP
    """
    from .video.predict import FaceEmotionModel

    keras_clf = face_model.classifier
    if getattr(keras_clf, "model_", None) is None:
        raise OnnxExportError(f"the face model's classifier is a {type(keras_clf).__name__}, not a fitted Keras "
                              f"estimator: there is no network to export")
    classes = np.asarray(keras_clf.classes_).tolist() if getattr(keras_clf, "classes_", None) is not None else None
    if onnx_path is not None and Path(onnx_path).is_file():
        clf = OnnxClassifier(onnx_path, classes=classes, transform=getattr(keras_clf, "transform", None),
                             **classifier_kwargs)
    else:
        clf = OnnxClassifier.from_keras(keras_clf, onnx_path, twin=twin, classes=classes, **classifier_kwargs)
    settings = {k: v for k, v in face_model.settings().items() if k != "format"}
    return FaceEmotionModel(clf, **settings)
