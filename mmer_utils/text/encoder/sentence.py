"""Frozen MiniLM sentence vectors as a scikit-learn transformer (:class:`SentenceEncoder`)."""

from __future__ import annotations

import hashlib
from typing import Mapping

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .bert import batch_slices, load_pretrained, masked_mean, pad_rows

#: Vectors already computed in this process, by encoder settings and SHA-1 of the text: the
#: cross-validation refits a model many times on the same essays, the encoder is frozen.
_VECTOR_MEMO: dict[tuple, dict[str, np.ndarray]] = {}
_FROZEN: dict[str, tuple] = {}


def clear_vector_memo() -> None:
    """Forget the vectors :class:`SentenceEncoder` computed in this process (to free memory, or in tests)."""
    _VECTOR_MEMO.clear()


def block_outputs(config_dict: Mapping, layers=None) -> list[str]:
    """Names of the encoder layers whose token vectors ``layers`` pools (see :class:`SentenceEncoder`).

    Parameters
    ----------
    config_dict : mapping
        The model's config (``num_hidden_layers`` is read).
    layers : None, "all", int or list of int
        None: the last block; "all": every block (not the embeddings); block numbers
        (0 = the embeddings, 1..n = the blocks).

    Returns
    -------
    list of str

    >>> block_outputs({"num_hidden_layers": 6})
    ['layer_5_output_norm']
    >>> block_outputs({"num_hidden_layers": 6}, [0, 6])
    ['embeddings_norm', 'layer_5_output_norm']
    >>> len(block_outputs({"num_hidden_layers": 6}, "all"))
    6
    """
    n = int(config_dict["num_hidden_layers"])
    if layers is None:
        layers = [n]
    elif isinstance(layers, str):
        if layers != "all":
            raise ValueError(f"layers takes None, 'all' or block numbers 0..{n}; got {layers!r}")
        layers = range(1, n + 1)
    elif isinstance(layers, (int, np.integer)):
        layers = [layers]
    layers = sorted({int(i) for i in layers})
    if not layers or layers[0] < 0 or layers[-1] > n:
        raise ValueError(f"layers must be block numbers 0..{n} (0: the embeddings); got {layers}")
    return ["embeddings_norm" if i == 0 else f"layer_{i - 1}_output_norm" for i in layers]


def _frozen_encoder(files=None, layers=None):
    """``(pooling model, tokenizer)``, loaded once per process, set of files and choice of layers."""
    key = (str(files), str(layers))
    if key not in _FROZEN:
        import keras

        encoder, tokenizer = load_pretrained(files)
        n_blocks = sum(layer.name.endswith("_output_norm") for layer in encoder.layers)
        names = block_outputs({"num_hidden_layers": n_blocks}, layers)
        mask = encoder.input["padding_mask"]
        means = [keras.layers.Lambda(lambda a: masked_mean(a[0], a[1]), name=f"mean_pool_{name}")(
            [encoder.get_layer(name).output, mask]) for name in names]
        pooled = means[0] if len(means) == 1 else keras.layers.Average(name="mean_of_layers")(means)
        _FROZEN[key] = (keras.Model(encoder.input, pooled), tokenizer)
    return _FROZEN[key]


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Texts -> mean-pooled, L2-normalised MiniLM vectors (384-d), the encoder frozen.

    A text longer than ``max_len`` word pieces is cut into consecutive windows of that
    size (at most ``max_windows``), each encoded alone; their vectors are averaged
    (weighted by length) and normalised again. ``fit`` learns nothing: the
    encoder is pretrained; it is there so that the encoder sits in a ``Pipeline``.

    ``layers`` chooses whose token vectors are pooled: None, the last block's (what
    sentence-transformers returns, tuned for sentence similarity); ``"all"``, the mean
    of every block's; or block numbers (0 = the embeddings, 1..6 = the blocks), see
    :func:`block_outputs`. Lower blocks keep more of the words and the style of a text,
    the last one more of its topic: for the Big Five essays the mean of all six blocks
    does better than the last alone (``RESULTS.md``).

    Parameters
    ----------
    max_len : int
        Word pieces per window, ``[CLS]`` and ``[SEP]`` included.
    max_windows : int
        Most windows encoded per text (the rest of a longer text is left out).
    batch_size : int
        Windows encoded at once.
    normalize : bool
        L2-normalise each text's vector.
    layers : None, "all", int or list of int
        The blocks pooled (:func:`block_outputs`).
    files : mapping or None
        Paths of the encoder files (default :func:`~mmer_utils.text.encoder.encoder_files`).
    progress : bool
        Show a progress bar over the batches.
    """

    def __init__(self, *, max_len: int = 256, max_windows: int = 16, batch_size: int = 32, normalize: bool = True,
                 layers=None, files: Mapping | None = None, progress: bool = False):
        self.max_len = max_len
        self.max_windows = max_windows
        self.batch_size = batch_size
        self.normalize = normalize
        self.layers = layers
        self.files = files
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # the encoder is pretrained: fit learns nothing
        return tags

    def _load(self):
        if getattr(self, "pool_", None) is None:
            self.pool_, self.tokenizer_ = _frozen_encoder(self.files, self.layers)
        return self

    def fit(self, X, y=None):
        """Load the encoder (nothing is learnt).

        Parameters
        ----------
        X, y : ignored

        Returns
        -------
        self
        """
        self.n_features_out_ = self._width()
        return self

    def __getstate__(self):  # the Keras model is rebuilt on demand, not pickled
        return {k: v for k, v in self.__dict__.items() if k not in ("pool_", "tokenizer_")}

    def _settings(self) -> tuple:
        return (str(self.files), self.max_len, self.max_windows, self.normalize, str(self.layers))

    def transform(self, X) -> np.ndarray:
        """One vector per text; a text seen before with the same settings is not encoded again.

        Parameters
        ----------
        X : sequence of str

        Returns
        -------
        array (n, d) of float32
        """
        texts = [str(t) for t in X]
        memo = _VECTOR_MEMO.setdefault(self._settings(), {})
        keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in memo}.items())
        if todo:
            for (k, _), vec in zip(todo, self._encode([t for _, t in todo])):
                memo[k] = vec
        if not texts:
            return np.zeros((0, self._width()), dtype=np.float32)
        return np.stack([memo[k] for k in keys])

    def _width(self) -> int:
        return int(self._load().pool_.output.shape[-1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        self._load()
        step = self.max_len - 2
        windows, owner = [], []
        for i, text in enumerate(texts):
            ids = self.tokenizer_.ids(text)
            chunks = [ids[s:s + step] for s in range(0, max(1, len(ids)), step)][: self.max_windows] or [[]]
            windows += chunks
            owner += [i] * len(chunks)
        order = np.argsort([len(w) for w in windows], kind="stable")  # similar lengths share a batch: less padding
        vectors = np.zeros((len(windows), self.pool_.output.shape[-1]), dtype=np.float32)
        batches = list(batch_slices(len(order), self.batch_size))
        if self.progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="MiniLM", unit="batch")
        for sl in batches:
            idx = order[sl]
            batch = self.tokenizer_.encode_batch(None, ids=[windows[k] for k in idx], max_len=self.max_len)
            out = self.pool_.predict_on_batch(pad_rows(batch, self.batch_size))
            vectors[idx] = np.asarray(out)[: len(idx)]
        weights = np.array([max(1, len(w)) for w in windows], dtype=np.float32)
        owner = np.asarray(owner)
        out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        np.add.at(out, owner, vectors * weights[:, None])
        out /= np.bincount(owner, weights=weights, minlength=len(texts))[:, None]
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def get_feature_names_out(self, input_features=None):
        return np.array([f"minilm_{i}" for i in range(self._width())], dtype=object)
