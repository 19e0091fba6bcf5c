"""Keras models of the Big Five traits from a sequence of word ids.

Both builders read a padded sequence of word ids (:func:`mmer_utils.text.preprocess.to_index_sequences`:
0 = padding, 1 = out-of-vocabulary) and end in **one sigmoid per trait**: the
five traits are five independent yes/no questions (multi-label), never a softmax
over the traits.

* :func:`build_lstm`: embedding (Word2Vec weights, trainable or frozen) -> LSTM -> sigmoids.
* :func:`build_cnn_lstm`: the source's CNN-LSTM: three blocks of
  Conv1D (128, 256, 512 filters, kernel 8) + MaxPool(2) + SpatialDropout1D(0.3) +
  BatchNorm, stacked LSTMs, Dense(128), sigmoids.

They return an uncompiled ``keras.Model``; :class:`mmer_utils.text.bigfive.KerasTraitClassifier`
compiles and trains them behind the scikit-learn interface.

>>> model = build_lstm((50,), 5, vocab_size=100, embedding_dim=8, lstm_units=4)   # doctest: +SKIP
>>> model.output_shape                                                           # doctest: +SKIP
(None, 5)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _embedding(inputs, vocab_size: int, embedding_dim: int, embedding_matrix, trainable: bool, mask_zero: bool):
    """Word ids -> vectors; Word2Vec weights when ``embedding_matrix`` is given (row i = word id i)."""
    import keras
    from keras import layers

    if embedding_matrix is not None:
        embedding_matrix = np.asarray(embedding_matrix, dtype=np.float32)
        if embedding_matrix.shape[0] != vocab_size:
            raise ValueError(f"embedding_matrix has {embedding_matrix.shape[0]} rows, vocab_size is {vocab_size}")
        embedding_dim = embedding_matrix.shape[1]
        init = keras.initializers.Constant(embedding_matrix)
    else:
        init = "uniform"
    return layers.Embedding(vocab_size, embedding_dim, embeddings_initializer=init, trainable=trainable,
                            mask_zero=mask_zero, name="embedding")(inputs)


def build_lstm(input_shape=(300,), n_outputs: int = 5, *, vocab_size: int, embedding_dim: int = 300,
               embedding_matrix=None, trainable: bool = True, lstm_units: int = 64, spatial_dropout: float = 0.2,
               dropout: float = 0.3, name: str = "lstm"):
    """Embedding -> LSTM -> one sigmoid per trait.

    Parameters
    ----------
    input_shape : (max_len,), the padded length of the word-id sequences.
    n_outputs : number of traits (independent sigmoids).
    vocab_size : rows of the embedding (the vocabulary, padding and OOV included).
    embedding_dim : ignored when ``embedding_matrix`` is given.
    embedding_matrix : (vocab_size, dim) array or None (random start).
    trainable : fine-tune the embedding (True) or keep the Word2Vec vectors frozen.
    lstm_units, spatial_dropout, dropout : sizes and regularisation.

    The padding is masked (``mask_zero=True``): the LSTM skips the zeros, so short
    essays are not read as long runs of "nothing".

    >>> build_lstm((50,), 5, vocab_size=100, embedding_dim=8, lstm_units=4).count_params()  # doctest: +SKIP
    1045
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, dtype="int32", name="word_ids")
    x = _embedding(inputs, vocab_size, embedding_dim, embedding_matrix, trainable, mask_zero=True)
    x = layers.SpatialDropout1D(spatial_dropout, name="spatial_dropout")(x)
    x = layers.LSTM(lstm_units, name="lstm")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_outputs, activation="sigmoid", name="traits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_cnn_lstm(input_shape=(300,), n_outputs: int = 5, *, vocab_size: int, embedding_dim: int = 300,
                   embedding_matrix=None, trainable: bool = True, filters: Sequence[int] = (128, 256, 512),
                   kernel_size: int = 8, pool_size: int = 2, spatial_dropout: float = 0.3,
                   lstm_units: Sequence[int] = (180, 180, 180), dense_units: int = 128, dropout: float = 0.5,
                   name: str = "cnn_lstm"):
    """The source's CNN-LSTM with one sigmoid per trait.

    Each convolution block is Conv1D(f, kernel_size, ReLU) -> MaxPool1D(pool_size)
    -> SpatialDropout1D(spatial_dropout) -> BatchNorm: the convolutions detect
    phrases of ``kernel_size`` words, the pooling halves the sequence (300 -> 37
    steps after three blocks, short enough for the LSTMs), spatial dropout drops
    whole feature maps (neighbouring steps are too correlated for plain dropout).
    Then stacked LSTMs (all but the last return sequences), Dense(dense_units),
    dropout and the sigmoids.

    Parameters
    ----------
    input_shape : (max_len,); with three blocks of pooling 2 it must be >= 8.
    n_outputs, vocab_size, embedding_dim, embedding_matrix, trainable : as :func:`build_lstm`.
    filters : one block per entry (the source: 128, 256, 512).
    lstm_units : one LSTM per entry (the source: three of 180).

    >>> m = build_cnn_lstm((64,), 5, vocab_size=100, embedding_dim=8, filters=(4, 8), lstm_units=(4,))  # doctest: +SKIP
    >>> m.output_shape                                                                                   # doctest: +SKIP
    (None, 5)
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, dtype="int32", name="word_ids")
    # No masking: convolutions mix neighbouring steps, padding included, so a mask
    # would not mean anything after the first block.
    x = _embedding(inputs, vocab_size, embedding_dim, embedding_matrix, trainable, mask_zero=False)
    for i, f in enumerate(filters):
        x = layers.Conv1D(f, kernel_size, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = layers.MaxPooling1D(pool_size, name=f"pool{i + 1}")(x)
        x = layers.SpatialDropout1D(spatial_dropout, name=f"spatial_dropout{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
    for i, units in enumerate(lstm_units):
        x = layers.LSTM(units, return_sequences=i < len(lstm_units) - 1, name=f"lstm{i + 1}")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_outputs, activation="sigmoid", name="traits")(x)
    return keras.Model(inputs, outputs, name=name)
