"""The BERT architecture as a short Keras function, and the copy of a Hugging Face checkpoint into it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from ...errors import DataLayoutError
from .files import encoder_files
from .safetensors_io import read_safetensors
from .tokenizer import WordPieceTokenizer

#: Longest input the position embeddings allow.
MAX_POSITIONS = 512


def bert_config(path=None) -> dict:
    """The model's ``config.json`` as a dict.

    Parameters
    ----------
    path : str, Path or None
        The file; None: the cached MiniLM one (:func:`~mmer_utils.text.encoder.encoder_files`).

    Returns
    -------
    dict
    """
    path = Path(path) if path is not None else encoder_files()["config.json"]
    return json.loads(Path(path).read_text())


def build_bert_encoder(config_dict: Mapping, *, name: str = "bert_encoder"):
    """A BERT encoder as a Keras model: ``{token_ids, segment_ids, padding_mask}`` -> token vectors ``(n, L, d)``.

    Embeddings (word + position + segment, layer norm, dropout), then
    ``num_hidden_layers`` post-norm transformer blocks: multi-head self-attention that
    ignores padding, residual + layer norm, a GELU feed-forward layer, residual + layer
    norm. Layer names follow the checkpoint's (``layer_3_attention`` ...) so that
    :func:`load_bert_weights` can fill them.

    Parameters
    ----------
    config_dict : mapping
        A BERT ``config.json``: ``hidden_size``, ``num_attention_heads``,
        ``num_hidden_layers``, ``intermediate_size``, ``vocab_size``,
        ``max_position_embeddings``, ``type_vocab_size`` (and optionally the dropout rates
        and ``layer_norm_eps``).
    name : str
        The Keras model's name.

    Returns
    -------
    keras.Model
        Randomly initialised; inputs ``token_ids``, ``segment_ids``, ``padding_mask``
        (int32, ``(n, L)``, ``L`` in word pieces).
    """
    import keras
    from keras import layers, ops

    d, heads = int(config_dict["hidden_size"]), int(config_dict["num_attention_heads"])
    eps = float(config_dict.get("layer_norm_eps", 1e-12))
    drop = float(config_dict.get("hidden_dropout_prob", 0.1))
    attn_drop = float(config_dict.get("attention_probs_dropout_prob", 0.1))
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")

    positions = layers.Lambda(lambda t: ops.expand_dims(ops.arange(ops.shape(t)[1]), 0), name="position_ids")(token_ids)
    x = layers.Add(name="embeddings_sum")([
        layers.Embedding(int(config_dict["vocab_size"]), d, name="word_embeddings")(token_ids),
        layers.Embedding(int(config_dict["max_position_embeddings"]), d, name="position_embeddings")(positions),
        layers.Embedding(int(config_dict["type_vocab_size"]), d, name="token_type_embeddings")(segment_ids),
    ])
    x = layers.LayerNormalization(epsilon=eps, name="embeddings_norm")(x)
    x = layers.Dropout(drop, name="embeddings_dropout")(x)
    # (n, 1, L): every query may look at every real (non-padding) key
    attention_mask = layers.Lambda(lambda m: ops.expand_dims(ops.cast(m, "bool"), 1), name="attention_mask")(padding_mask)
    for i in range(int(config_dict["num_hidden_layers"])):
        attn = layers.MultiHeadAttention(heads, d // heads, dropout=attn_drop, name=f"layer_{i}_attention")(
            x, x, attention_mask=attention_mask)
        x = layers.LayerNormalization(epsilon=eps, name=f"layer_{i}_attention_norm")(
            layers.Add()([x, layers.Dropout(drop)(attn)]))
        h = layers.Dense(int(config_dict["intermediate_size"]), name=f"layer_{i}_intermediate")(x)
        h = layers.Activation(lambda t: keras.activations.gelu(t, approximate=False), name=f"layer_{i}_gelu")(h)
        h = layers.Dense(d, name=f"layer_{i}_output")(h)
        x = layers.LayerNormalization(epsilon=eps, name=f"layer_{i}_output_norm")(
            layers.Add()([x, layers.Dropout(drop)(h)]))
    return keras.Model({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}, x,
                       name=name)


def masked_mean(vectors, padding_mask):
    """Mean of the token vectors over the real tokens (sentence-transformers' ``mean`` pooling).

    Parameters
    ----------
    vectors : tensor (n, L, d)
    padding_mask : tensor (n, L)
        1 for a real token, 0 for padding.

    Returns
    -------
    tensor (n, d)
    """
    from keras import ops

    m = ops.expand_dims(ops.cast(padding_mask, vectors.dtype), -1)
    return ops.sum(vectors * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1e-9)


def load_bert_weights(model, tensors: Mapping[str, np.ndarray]) -> None:
    """Copy a Hugging Face BERT checkpoint (``embeddings.*``, ``encoder.layer.N.*``) into :func:`build_bert_encoder`.

    PyTorch's linear layers store ``(out, in)`` matrices, Keras ``(in, out)``: each is
    transposed, and the attention projections are reshaped to Keras' ``(d, heads, d_head)``.
    A missing tensor or a shape that differs raises :class:`~mmer_utils.errors.DataLayoutError`.

    Parameters
    ----------
    model : keras.Model
        Built by :func:`build_bert_encoder`; its weights are replaced in place.
    tensors : mapping name -> array
        The checkpoint (:func:`~mmer_utils.text.encoder.read_safetensors`); a ``bert.``
        prefix on the names is accepted.
    """
    t = {k.removeprefix("bert."): v for k, v in tensors.items()}

    def get(name, shape=None):
        if name not in t:
            raise DataLayoutError(f"the checkpoint has no tensor {name}: is it a BERT model?")
        return t[name]

    def set_(layer_name, values):
        layer = model.get_layer(layer_name)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise DataLayoutError(f"layer {layer_name}: checkpoint shapes {got} differ from the model's {expected}")
        layer.set_weights(values)

    set_("word_embeddings", [get("embeddings.word_embeddings.weight")])
    set_("position_embeddings", [get("embeddings.position_embeddings.weight")])
    set_("token_type_embeddings", [get("embeddings.token_type_embeddings.weight")])
    set_("embeddings_norm", [get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias")])
    i = 0
    while f"layer_{i}_attention" in {layer.name for layer in model.layers}:
        p = f"encoder.layer.{i}."
        mha = model.get_layer(f"layer_{i}_attention")
        heads, d_head = mha.num_heads, mha.key_dim
        qkv = []
        for part in ("query", "key", "value"):
            w = get(p + f"attention.self.{part}.weight")
            qkv += [w.T.reshape(w.shape[1], heads, d_head), get(p + f"attention.self.{part}.bias").reshape(heads, d_head)]
        w_out = get(p + "attention.output.dense.weight")
        set_(f"layer_{i}_attention", qkv + [w_out.T.reshape(heads, d_head, w_out.shape[0]),
                                            get(p + "attention.output.dense.bias")])
        set_(f"layer_{i}_attention_norm", [get(p + "attention.output.LayerNorm.weight"),
                                           get(p + "attention.output.LayerNorm.bias")])
        set_(f"layer_{i}_intermediate", [get(p + "intermediate.dense.weight").T, get(p + "intermediate.dense.bias")])
        set_(f"layer_{i}_output", [get(p + "output.dense.weight").T, get(p + "output.dense.bias")])
        set_(f"layer_{i}_output_norm", [get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")])
        i += 1
    if f"encoder.layer.{i}.attention.self.query.weight" in t:
        raise DataLayoutError(f"the checkpoint has more than the model's {i} layers")


def load_pretrained(files: Mapping[str, Path] | None = None):
    """:func:`build_bert_encoder` filled with the MiniLM weights, and its tokenizer.

    Parameters
    ----------
    files : mapping or None
        Paths of ``model.safetensors``, ``vocab.txt`` and ``config.json``; None:
        :func:`~mmer_utils.text.encoder.encoder_files` (downloaded on first use).

    Returns
    -------
    (keras.Model, WordPieceTokenizer)
    """
    files = files or encoder_files()
    encoder = build_bert_encoder(bert_config(files["config.json"]), name="minilm")
    load_bert_weights(encoder, read_safetensors(files["model.safetensors"]))
    return encoder, WordPieceTokenizer(files["vocab.txt"])


def batch_slices(n: int, batch_size: int):
    """Consecutive slices of ``batch_size`` rows covering ``range(n)`` (the last one may be shorter).

    Parameters
    ----------
    n, batch_size : int

    Returns
    -------
    iterator of slice

    >>> list(batch_slices(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def pad_rows(batch: dict, rows: int) -> dict:
    """Pad a batch of token arrays with zero rows up to ``rows`` rows.

    TensorFlow's oneDNN kernels on some CPUs crash on a smaller last batch: every batch
    the network sees is complete (the caller drops the padding's outputs).

    Parameters
    ----------
    batch : dict of arrays (n, L)
    rows : int
        Rows wanted (at least ``n``).

    Returns
    -------
    dict of arrays (rows, L)
    """
    n = len(batch["token_ids"])
    if n == rows:
        return batch
    return {k: np.concatenate([v, np.zeros((rows - n, v.shape[1]), v.dtype)]) for k, v in batch.items()}
